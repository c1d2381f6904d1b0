"""Pages in a real browser: headless Chromium lays them out and a probe reports what is visible.

The probe runs in a copy of the page, so the report itself stays script-free apart from
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
from grader.report.view import GROUP_ORDER, page_stems
from tests.report_fixtures import sample_run

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")

PHONE = (390, 844)
DESKTOP = (1280, 900)

PROBE = """<script>
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
  pre.id = "probe";
  pre.textContent = JSON.stringify({innerWidth: window.innerWidth,
                                    scrollWidth: document.documentElement.scrollWidth, items: items});
  document.body.appendChild(pre);
})();
</script>"""


def chromium(tmp_path: Path, url: str, size: tuple[int, int], *extra: str) -> str:
    args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--window-size={size[0]},{size[1]}",
            "--virtual-time-budget=3000", *extra, url]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def probe(tmp_path: Path, page: Path, selector: str, size: tuple[int, int]) -> dict:
    probed = page.with_name(f"probe-{page.name}")
    html = page.read_text(encoding="utf-8")
    probed.write_text(html.replace("</body>", PROBE % json.dumps(selector) + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, probed.as_uri(), size, "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe did not run"
    return json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = sample_run()
    out = tmp_path_factory.mktemp("browser")
    render(run, out, ["html"])
    return run, out


@pytest.mark.parametrize("size", [PHONE, DESKTOP])
def test_student_page_shows_score_and_every_check(report, tmp_path, size):
    run, out = report
    bob = run.submissions[1]
    result = probe(tmp_path, out / f"{page_stems(run)[1]}.html", "#total-score, .check-name", size)
    assert result["scrollWidth"] <= result["innerWidth"], "no sideways scrolling"
    total, *names = result["items"]
    assert total["seen"] and total["inside"] and total["text"].startswith("5 / 18 points")
    assert [n["text"] for n in names] == [c.name for c in sorted(bob.checks, key=lambda c: names_order(bob, c))]
    assert all(n["seen"] and n["inside"] for n in names), names


def names_order(sub, check) -> tuple[int, int]:
    """The page lists checks by group in the assignment's order, then in result order."""
    return GROUP_ORDER.index(check.group), sub.checks.index(check)


@pytest.mark.parametrize("size", [PHONE, DESKTOP])
def test_index_shows_every_score_and_check(report, tmp_path, size):
    run, out = report
    result = probe(tmp_path, out / "index.html", "#submission-table td.total, #check-table .check-name", size)
    assert result["scrollWidth"] <= result["innerWidth"], "wide tables scroll inside their own box"
    items = result["items"]
    scores = [i["text"] for i in items[:len(run.submissions)]]
    assert scores == [f"{s.score:g} / {s.max_score:g}" for s in run.submissions]
    names = {c.name for s in run.submissions for c in s.checks}
    assert sorted(i["text"] for i in items[len(scores):]) == sorted(names)
    assert all(i["seen"] for i in items)


@pytest.mark.parametrize("page", ["index", "bob"])
def test_screenshots_are_not_blank(report, tmp_path, page):
    _, out = report
    shot = tmp_path / f"{page}.png"
    chromium(tmp_path, (out / f"{page}.html").as_uri(), PHONE, f"--screenshot={shot}")
    image = np.asarray(Image.open(shot).convert("L"))
    assert image.shape == (PHONE[1], PHONE[0])
    assert (image < 128).mean() > 0.01, "some dark text is drawn"
