"""Students' Markdown (the inline answers) as safe HTML, the way the notebook shows it.

markdown-it-py renders CommonMark with raw HTML turned off, so markup a student typed is shown
as text, and with images and links turned off (shown as typed), so a page never fetches
anything nor sends a reader elsewhere. Math is parsed by the
dollarmath plugin only to keep it whole: `$HH = 4 + 2P_H$` keeps its `_` and `*` instead of
turning into emphasis, and stays as written (dollars included) in a `math` span, since a
self-contained page loads no typesetting library.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin


def _math_as_written(content: str, options: dict[str, Any]) -> str:
    fence = "$$" if options.get("display_mode") else "$"
    return escape(f"{fence}{content}{fence}")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).disable(["image", "link", "autolink"])
    dollarmath_plugin(md, renderer=_math_as_written)
    return md


def markdown_html(text: str) -> Markup:
    """`text` rendered as HTML that holds no markup of the student's own and loads nothing."""
    return Markup(_parser().render(text))
