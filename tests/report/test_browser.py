"""Pages in a real browser: headless Chromium lays them out and a layout script reports what is
visible.

The script runs in a copy of the page, so the report itself stays script-free apart from
its optional sorting. Skips when Chromium is not installed (Debian: chromium, chromium-driver).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from grader.report import render
from grader.report.formatting import GROUP_ORDER, page_stems

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")

PHONE = (390, 844)
DESKTOP = (1280, 900)

LAYOUT_SCRIPT = """<script>
(function () {
  function seen(el) {
    var r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  }
  var items = Array.prototype.map.call(document.querySelectorAll(%s), function (el) {
    var r = el.getBoundingClientRect();
    return {text: el.textContent.replace(/\\s+/g, " ").trim(), seen: seen(el),
            inside: r.left >= 0 && r.right <= window.innerWidth + 1};
  });
  var pre = document.createElement("pre");
  pre.id = "layout";
  pre.textContent = JSON.stringify({innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth, items: items});
  document.body.appendChild(pre);
})();
</script>"""


def chromium(tmp_path: Path, url: str, size: tuple[int, int], *extra: str) -> str:
    args = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--window-size={size[0]},{size[1]}",
        "--virtual-time-budget=3000",
        *extra,
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def layout(tmp_path: Path, page: Path, selector: str, size: tuple[int, int]) -> dict:
    measured = page.with_name(f"layout-{page.name}")
    html = page.read_text(encoding="utf-8")
    measured.write_text(
        html.replace("</body>", LAYOUT_SCRIPT % json.dumps(selector) + "</body>"), encoding="utf-8"
    )
    dom = chromium(tmp_path, measured.as_uri(), size, "--dump-dom")
    found = re.search(r'<pre id="layout">(.*?)</pre>', dom, re.S)
    assert found, "the layout script did not run"
    return json.loads(
        found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory, sample_run):
    run = sample_run()
    out = tmp_path_factory.mktemp("browser")
    render(run, out, ["html"])
    return run, out


@pytest.mark.parametrize("size", [PHONE, DESKTOP])
def test_student_page_shows_score_and_every_check(report, tmp_path, size, bob):
    run, out = report
    bob = run.submissions[1]
    result = layout(tmp_path, out / f"{page_stems(run)[1]}.html", "#total-score, .check-name", size)
    assert result["scrollWidth"] <= result["innerWidth"], "no sideways scrolling"
    total, *names = result["items"]
    assert total["seen"] and total["inside"] and total["text"].startswith("5 / 18 points")
    assert [n["text"] for n in names] == [
        c.name for c in sorted(bob.checks, key=lambda c: names_order(bob, c))
    ]
    assert all(n["seen"] and n["inside"] for n in names), names


def names_order(sub, check) -> tuple[int, int]:
    """The page lists checks by group in the assignment's order, then in result order."""
    return GROUP_ORDER.index(check.group), sub.checks.index(check)


@pytest.mark.parametrize("size", [PHONE, DESKTOP])
def test_index_shows_every_score_and_check(report, tmp_path, size):
    run, out = report
    result = layout(
        tmp_path, out / "index.html", "#submission-table td.total, #check-table .check-name", size
    )
    assert result["scrollWidth"] <= result["innerWidth"], "wide tables scroll inside their own box"
    items = result["items"]
    scores = [i["text"] for i in items[: len(run.submissions)]]
    assert scores == [f"{s.score:g} / {s.max_score:g}" for s in run.submissions]
    names = {c.name for s in run.submissions for c in s.checks}
    assert sorted(i["text"] for i in items[len(scores) :]) == sorted(names)
    assert all(i["seen"] for i in items)


@pytest.mark.parametrize("page", ["index", "bob"])
def test_screenshots_are_not_blank(report, tmp_path, page):
    _, out = report
    shot = tmp_path / f"{page}.png"
    chromium(tmp_path, (out / f"{page}.html").as_uri(), PHONE, f"--screenshot={shot}")
    image = np.asarray(Image.open(shot).convert("L"))
    assert image.shape == (PHONE[1], PHONE[0])
    assert (image < 128).mean() > 0.01, "some dark text is drawn"


SCROLL_SCRIPT = r"""<script>
(function () {
  var box = document.querySelector(".grid-wrap");
  box.scrollIntoView({block: "start"});
  box.scrollTop = %d; box.scrollLeft = %d;
  var boxRect = box.getBoundingClientRect();
  function rect(el) { var r = el.getBoundingClientRect();
    return {top: r.top - boxRect.top, left: r.left - boxRect.left,
            bottom: r.bottom - boxRect.top}; }
  var rows = Array.prototype.map.call(document.querySelectorAll(".grid tbody th"), function (th) {
    var r = rect(th);
    return {id: th.querySelector("a").textContent, clipped: th.scrollWidth > th.clientWidth + 1,
            top: r.top, left: r.left}; });
  var links = document.querySelectorAll("#submission-table td.submission-id a");
  var ids = Array.prototype.map.call(links, function (a) { var r = a.getBoundingClientRect();
      return {text: a.textContent, left: r.left, right: r.right, height: r.height}; });
  var pre = document.createElement("pre");
  pre.id = "layout";
  pre.textContent = JSON.stringify({
    innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
    box: {height: boxRect.height, scrollHeight: box.scrollHeight, scrollTop: box.scrollTop,
          scrollLeft: box.scrollLeft},
    corner: rect(document.querySelector(".grid th.corner")),
    firstTarget: rect(document.querySelector(".grid th.target")),
    headerBottom: rect(document.querySelector(".grid th.corner")).bottom,
    rows: rows, ids: ids});
  document.body.appendChild(pre);
})();
</script>"""
"""Scrolls the class grid's box down and right, then reports where its headers and rows are."""


@pytest.fixture(scope="module")
def class_report(tmp_path_factory, class_run):
    run = class_run(200)
    out = tmp_path_factory.mktemp("class")
    render(run, out, ["html"])
    return run, out


def scrolled(tmp_path: Path, page: Path, size: tuple[int, int], down: int, right: int) -> dict:
    measured = page.with_name(f"scrolled-{down}-{right}-{page.name}")
    html = page.read_text(encoding="utf-8")
    measured.write_text(
        html.replace("</body>", SCROLL_SCRIPT % (down, right) + "</body>"), encoding="utf-8"
    )
    dom = chromium(tmp_path, measured.as_uri(), size, "--dump-dom")
    found = re.search(r'<pre id="layout">(.*?)</pre>', dom, re.S)
    assert found, "the layout script did not run"
    return json.loads(
        found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    )


@pytest.mark.parametrize("size", [PHONE, DESKTOP])
def test_the_class_grid_scrolls_in_its_box_with_headers_in_view(class_report, tmp_path, size):
    run, out = class_report
    result = scrolled(tmp_path, out / "index.html", size, 3000, 400)
    box = result["box"]
    assert result["scrollWidth"] <= result["innerWidth"], "the page itself never scrolls sideways"
    assert box["scrollHeight"] > 5 * box["height"], "200 rows scroll inside the box, not the page"
    assert box["scrollTop"] == 3000 and box["scrollLeft"] > 0
    assert abs(result["corner"]["top"]) <= 2 and abs(result["corner"]["left"]) <= 2, (
        "the corner stays put"
    )
    assert 0 < result["firstTarget"]["top"] <= 40, (
        "the function names stay at the top while scrolling"
    )
    in_view = [r for r in result["rows"] if result["headerBottom"] <= r["top"] < box["height"]]
    assert in_view and all(abs(r["left"]) <= 2 for r in in_view), (
        "the submission column stays at the left"
    )
    assert in_view[0]["id"] not in [s.id for s in run.submissions[:20]], (
        "showing the rows scrolled to"
    )


def test_long_ids_wrap_on_a_phone_instead_of_being_cut(class_report, tmp_path, long_id):
    result = scrolled(tmp_path, class_report[1] / "index.html", PHONE, 0, 0)
    assert len(result["rows"]) == 200 and not any(r["clipped"] for r in result["rows"])
    (long_id,) = [i for i in result["ids"] if i["text"] == long_id]
    assert long_id["left"] >= 0 and long_id["right"] <= result["innerWidth"] + 1
    assert long_id["height"] > 40, "it wraps onto several lines"


@pytest.mark.parametrize("size, name", [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_class_grid_screenshot_shows_its_symbols(class_report, tmp_path, size, name):
    """The grid as drawn: passed (green) and failed or broken (red) cells, headers in view."""
    _, out = class_report
    page = out / f"grid-{name}.html"
    html = (out / "index.html").read_text(encoding="utf-8")
    only_grid = (
        "<style>main > :not(.grid-wrap) { display: none; } .grid-wrap { max-height: 95vh; }</style>"
    )
    scroll = '<script>document.querySelector(".grid-wrap").scrollTop = 1500;</script></body>'
    page.write_text(
        html.replace("</head>", only_grid + "</head>").replace("</body>", scroll), encoding="utf-8"
    )
    shot = tmp_path / f"grid-{name}.png"
    chromium(tmp_path, page.as_uri(), size, f"--screenshot={shot}")
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    red = (r > 140) & (g < 90) & (b < 90)
    green = (g > 90) & (r < 90) & (b < 110)
    assert red.mean() > 2e-4 and green.mean() > 2e-4, "failed and passed cells are drawn"
