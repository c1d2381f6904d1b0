"""The similarity report: the most similar pairs of each file, and each pair side by side.

`similarity/index.html` ranks the pairs per file; each pair gets a page with the two files
next to each other, every matched region numbered and linked to the region it matches in
the other file (numbers, not only colours, tell them apart). `similarity/similarity.json`
holds the same data for scripts. Pages are self-contained: inline CSS, no scripts, no
external requests. The renderer only reads a `SimilarityReport`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from markupsafe import Markup, escape

from grader.report.html import environment
from grader.report.formatting import printable
from grader.results import write_text_atomic
from grader.similarity import FILES, Pair, Region, SimilarityReport

FOLDER = "similarity"
COLOURS = 6


def render_similarity(report: SimilarityReport, out_dir: Path) -> Path:
    """Write the report under `out_dir/similarity/` and return the path of its index page."""
    folder = Path(out_dir) / FOLDER
    sections = []
    for name in FILES:
        rows = []
        for rank, pair in enumerate(report.pairs[name], start=1):
            page = f"{_slug(name)}-{rank:02d}.html"
            write_text_atomic(folder / page, _pair_page(report, pair, rank))
            rows.append({"rank": rank, "pair": pair, "page": page})
        sections.append(
            {
                "name": name,
                "slug": _slug(name),
                "rows": rows,
                "compared": len(report.texts[name]),
                "starter_only": report.starter_only[name],
            }
        )
    index = folder / "index.html"
    html = environment().get_template("similarity.html").render(report=report, sections=sections)
    write_text_atomic(index, html)
    write_text_atomic(folder / "similarity.json", json.dumps(report.to_json(), indent=1) + "\n")
    return index


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower().removesuffix(".py")).strip("_")


def _pair_page(report: SimilarityReport, pair: Pair, rank: int) -> str:
    first_a = _first_by_link(pair.regions_a)
    first_b = _first_by_link(pair.regions_b)
    numbers = sorted({r.link for r in pair.regions_a} | {r.link for r in pair.regions_b})
    links = [
        {"link": n, "a": _spans(pair.regions_a, n, "a"), "b": _spans(pair.regions_b, n, "b")}
        for n in numbers
    ]
    code_a = code_markup(report.texts[pair.file][pair.a], pair.regions_a, "a", first_b)
    code_b = code_markup(report.texts[pair.file][pair.b], pair.regions_b, "b", first_a)
    return (
        environment()
        .get_template("similarity_pair.html")
        .render(report=report, pair=pair, rank=rank, links=links, code_a=code_a, code_b=code_b)
    )


def _first_by_link(regions: list[Region]) -> dict[int, int]:
    first: dict[int, int] = {}
    for index, region in enumerate(regions):
        first.setdefault(region.link, index)
    return first


def _spans(regions: list[Region], link: int, side: str) -> list[dict[str, object]]:
    return [
        {"anchor": f"{side}-{i}", "lines": _lines(r)}
        for i, r in enumerate(regions)
        if r.link == link
    ]


def _lines(region: Region) -> str:
    if region.first_line == region.last_line:
        return f"line {region.first_line}"
    return f"lines {region.first_line}-{region.last_line}"


def code_markup(text: str, regions: list[Region], side: str, other_first: dict[int, int]) -> Markup:
    """`text`, escaped, each region marked, numbered and linked to its match on the other side."""
    other = "b" if side == "a" else "a"
    text = printable(text)  # same length: regions keep their offsets
    parts, position = [], 0
    for index, region in enumerate(regions):
        parts.append(escape(text[position : region.start]))
        target = other_first.get(region.link)
        href = Markup(' href="#{}-{}"').format(other, target) if target is not None else Markup("")
        parts.append(
            Markup(
                '<a class="match m{}" id="{}-{}"{} title="{}, match {}">'
                '<span class="tag">[{}]</span>{}</a>'
            ).format(
                region.link % COLOURS,
                side,
                index,
                href,
                _lines(region),
                region.link,
                region.link,
                text[region.start : region.end],
            )
        )
        position = region.end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)
