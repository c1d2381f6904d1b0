"""Charts for the HTML pages: inline SVG built with ElementTree, filters as an inline PNG.

Pages must be self-contained and readable offline, so nothing here loads a library or a
font; ElementTree escapes every label. Each chart carries a `<title>` and text labels,
and series differ by dash pattern as well as colour.
"""

from __future__ import annotations

import base64
import io
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from markupsafe import Markup

from grader.report.formatting import finite_floats

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
_MARGIN = {"left": 56, "right": 16, "top": 28, "bottom": 44}
_MAX_FILTERS = 256


def _svg(width: int, height: int, title: str) -> ET.Element:
    root = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
            "aria-label": title,
            "class": "chart",
            "font-family": "system-ui, sans-serif",
            "font-size": "14",
        },
    )
    ET.SubElement(root, "title").text = title
    return root


def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, "text", {"x": f"{x:.1f}", "y": f"{y:.1f}", **attrs})
    el.text = text
    return el


def _markup(root: ET.Element) -> Markup:
    return Markup(ET.tostring(root, encoding="unicode"))


def histogram_bins(percentages: Sequence[float], bins: int = 10) -> list[int]:
    """Counts per equal-width bin of 0-100 %; 100 % falls in the last bin."""
    counts = [0] * bins
    for p in percentages:
        counts[min(bins - 1, max(0, int(p * bins // 100)))] += 1
    return counts


def histogram_svg(percentages: Sequence[float], bins: int = 10) -> Markup:
    """Bars of submissions per score range, each bar labelled with its count."""
    width, height = 480, 240
    m = _MARGIN
    counts = histogram_bins(percentages, bins)
    top = max(counts) or 1
    plot_w, plot_h = width - m["left"] - m["right"], height - m["top"] - m["bottom"]
    root = _svg(width, height, f"Histogram of scores of {len(percentages)} submissions")
    bar_w = plot_w / bins
    step = 100 / bins
    for i, count in enumerate(counts):
        h = plot_h * count / top
        x, y = m["left"] + i * bar_w, m["top"] + plot_h - h
        label = f"{i * step:g}–{(i + 1) * step:g}%: {count} submission{'s' if count != 1 else ''}"
        bar = ET.SubElement(root, "g", {"class": "bar", "data-count": str(count)})
        ET.SubElement(bar, "title").text = label
        ET.SubElement(
            bar,
            "rect",
            {
                "x": f"{x + 2:.1f}",
                "y": f"{y:.1f}",
                "width": f"{bar_w - 4:.1f}",
                "height": f"{h:.1f}",
                "fill": PALETTE[0],
            },
        )
        if count:
            _text(
                bar, x + bar_w / 2, y - 4, str(count), **{"text-anchor": "middle", "class": "count"}
            )
    for i in range(bins + 1):
        _text(
            root,
            m["left"] + i * bar_w,
            height - m["bottom"] + 16,
            f"{i * step:g}",
            **{"text-anchor": "middle", "class": "tick"},
        )
    _axes(root, width, height, "score (%)", "submissions")
    return _markup(root)


def _axes(root: ET.Element, width: int, height: int, x_label: str, y_label: str) -> None:
    m = _MARGIN
    x0, y0 = m["left"], height - m["bottom"]
    ET.SubElement(
        root,
        "path",
        {"d": f"M{x0} {m['top']} V{y0} H{width - m['right']}", "stroke": "#444", "fill": "none"},
    )
    _text(
        root,
        (x0 + width - m["right"]) / 2,
        height - 6,
        x_label,
        **{"text-anchor": "middle", "class": "axis-label"},
    )
    _text(
        root,
        14,
        (m["top"] + y0) / 2,
        y_label,
        **{
            "text-anchor": "middle",
            "class": "axis-label",
            "transform": f"rotate(-90 14 {(m['top'] + y0) / 2:.1f})",
        },
    )


def line_chart_svg(
    series: Mapping[str, Sequence[Any]], *, title: str, x_label: str, y_label: str
) -> Markup:
    """One polyline per series over its index; null or non-finite values are left out."""
    width, height = 480, 260
    m = _MARGIN
    clean = {name: finite_floats(values) for name, values in series.items()}
    ys = [v for values in clean.values() for v in values if v is not None]
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    n = max((len(v) for v in clean.values()), default=1)
    plot_w, plot_h = width - m["left"] - m["right"], height - m["top"] - m["bottom"]

    def px(i: int) -> float:
        return m["left"] + plot_w * (i / (n - 1) if n > 1 else 0.5)

    def py(v: float) -> float:
        return m["top"] + plot_h * (hi - v) / (hi - lo)

    root = _svg(width, height, title)
    for k, (name, values) in enumerate(clean.items()):
        pts = [f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(values) if v is not None]
        ET.SubElement(
            root,
            "polyline",
            {
                "class": "series",
                "data-series": name,
                "points": " ".join(pts),
                "fill": "none",
                "stroke": PALETTE[k % len(PALETTE)],
                "stroke-width": "2",
                "stroke-dasharray": DASHES[k % len(DASHES)],
            },
        )
        _legend(root, k, name, width)
    for v in (lo, (lo + hi) / 2, hi):
        _text(root, m["left"] - 6, py(v) + 4, f"{v:.3g}", **{"text-anchor": "end", "class": "tick"})
    for i in sorted({0, n - 1}):
        _text(
            root,
            px(i),
            height - m["bottom"] + 16,
            str(i),
            **{"text-anchor": "middle", "class": "tick"},
        )
    _axes(root, width, height, x_label, y_label)
    return _markup(root)


def _legend(root: ET.Element, k: int, name: str, width: int) -> None:
    x, y = width - _MARGIN["right"] - 160 + 80 * (k % 2), 14 + 16 * (k // 2)
    ET.SubElement(
        root,
        "line",
        {
            "x1": f"{x}",
            "y1": f"{y - 4}",
            "x2": f"{x + 22}",
            "y2": f"{y - 4}",
            "stroke": PALETTE[k % len(PALETTE)],
            "stroke-width": "2",
            "stroke-dasharray": DASHES[k % len(DASHES)],
        },
    )
    _text(root, x + 26, y, name, **{"class": "legend"})


@dataclass(frozen=True)
class FilterGrid:
    """An inline PNG of first-layer filters, or why none could be drawn."""

    data_uri: str | None
    shape: tuple[int, ...]
    problem: str = ""


def filter_grid(filters: Any) -> FilterGrid:
    """Each filter scaled to its own min..max (like the notebook's `visualize_grid`), tiled."""
    try:
        w = np.asarray(filters, dtype=np.float64)
    except (TypeError, ValueError):
        return FilterGrid(None, (), "the filters are not a rectangular array of numbers")
    if w.ndim != 4 or 0 in w.shape:
        return FilterGrid(None, w.shape, f"expected shape (F, C, H, W), got {w.shape}")
    if not np.isfinite(w).all():
        return FilterGrid(None, w.shape, "the filters contain NaN or infinite values")
    return FilterGrid(_png_data_uri(_tile(w[:_MAX_FILTERS])), w.shape)


def _tile(w: np.ndarray) -> np.ndarray:
    """(F, C, H, W) floats -> one (rows*(H+1)+1, cols*(W+1)+1, 3) uint8 image.

    One pixel per weight: the page scales it up with `image-rendering: pixelated`, which
    keeps the PNG tiny and fast to encode.
    """
    f, c, h, wd = w.shape
    imgs = w.transpose(0, 2, 3, 1)
    imgs = imgs if c == 3 else np.repeat(imgs.mean(axis=3, keepdims=True), 3, axis=3)
    lo = imgs.min(axis=(1, 2, 3), keepdims=True)
    span = imgs.max(axis=(1, 2, 3), keepdims=True) - lo
    imgs = (255 * (imgs - lo) / np.where(span > 0, span, 1)).astype(np.uint8)
    cols = math.ceil(math.sqrt(f))
    rows = math.ceil(f / cols)
    grid = np.full((rows * (h + 1) + 1, cols * (wd + 1) + 1, 3), 255, np.uint8)
    for i in range(f):
        r, col = divmod(i, cols)
        grid[
            1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (wd + 1) : 1 + col * (wd + 1) + wd
        ] = imgs[i]
    return grid


def _png_data_uri(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
