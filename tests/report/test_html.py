"""The HTML pages: valid HTML5, self-contained, and every number on them equal to the results."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib
import numpy as np
import pytest
from PIL import Image

from grader.report import render
from grader.report.charts import filter_grid, histogram_bins
from grader.report.formatting import page_stems, shown_message
from grader.results import RunResult

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def parse(path: Path) -> ET.Element:
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    doc = parser.parse(path.read_bytes())
    assert parser.errors == [], f"{path.name}: {parser.errors[:3]}"
    for el in doc.iter():  # inline SVG is parsed into the SVG namespace; plain tags read better
        el.tag = el.tag.rsplit("}", 1)[-1]
    return doc


def text(el: ET.Element) -> str:
    return " ".join("".join(el.itertext()).split())


def numbers(s: str) -> list[float]:
    return [float(n) for n in NUMBER.findall(s)]


@pytest.fixture(scope="module")
def run(sample_run) -> RunResult:
    return sample_run()


@pytest.fixture(scope="module")
def pages(run, tmp_path_factory) -> dict[str, ET.Element]:
    out = tmp_path_factory.mktemp("html")
    render(run, out, ["html"])
    stems = dict(zip((s.id for s in run.submissions), page_stems(run)))
    docs = {"index": parse(out / "index.html")}
    docs.update({sub_id: parse(out / f"{stem}.html") for sub_id, stem in stems.items()})
    return docs


def test_pages_are_self_contained_and_responsive(pages):
    for name, doc in pages.items():
        assert doc.find(".//meta[@name='viewport']") is not None, name
        assert doc.find(".//link") is None and doc.find(".//script[@src]") is None, name
        for img in doc.iter("img"):
            assert img.get("src").startswith("data:image/png;base64,"), name
            assert img.get("alt"), name
        for a in doc.iter("a"):
            assert not re.match(r"^(https?:)?//", a.get("href", "")), (name, a.get("href"))


def test_index_rows_match_results(run, pages):
    rows = {
        tr.get("data-submission"): tr
        for tr in pages["index"].iter("tr")
        if tr.get("data-submission")
    }
    assert list(rows) == [s.id for s in run.submissions]
    for sub, stem in zip(run.submissions, page_stems(run)):
        cells = rows[sub.id].findall("td")
        assert cells[0].find("a").get("href") == f"{stem}.html"
        assert text(cells[0]) == sub.id
        score, max_score = numbers(text(cells[1]))
        assert score == pytest.approx(sub.score, abs=0.005) and max_score == pytest.approx(
            sub.max_score
        )
        assert numbers(text(cells[2]))[0] == pytest.approx(sub.percentage, abs=0.05)
        assert text(cells[3]).startswith(sub.status)
        passed = sum(c.status == "passed" for c in sub.checks)
        assert numbers(text(cells[4])) == [passed, len(sub.checks)]


def test_index_pass_rates_match_statuses(run, pages, groupnorm_hint):
    rows = [tr for tr in pages["index"].iter("tr") if tr.get("data-check")]
    all_ids = {c.id for s in run.submissions for c in s.checks}
    assert {tr.get("data-check") for tr in rows} == all_ids
    rates = []
    for tr in rows:
        results = [
            c
            for s in run.submissions
            for c in s.checks
            if c.id == tr.get("data-check") and c.status != "skipped"
        ]
        passed = sum(c.status == "passed" for c in results)
        cells = tr.findall("td")
        assert numbers(text(cells[3])) == [passed, len(results)]
        if not results:  # skipped everywhere: no rate, listed last
            assert "not run" in text(cells[2])
            rates.append(float("inf"))
            continue
        rate = numbers(text(cells[2]))[0]
        assert rate == pytest.approx(100 * passed / len(results), abs=0.05)
        rates.append(rate)
    assert rates == sorted(rates), (
        "the checks the class got wrong most come first; skipped ones do not count"
    )
    groupnorm = next(
        tr for tr in rows if tr.get("data-check") == "forward.spatial_groupnorm_forward.public"
    )
    assert f"{groupnorm_hint} (×2)" in text(groupnorm)


def test_index_histogram_counts_every_submission(run, pages):
    svg = pages["index"].find(".//figure/svg")
    bars = [int(g.get("data-count")) for g in svg.iter("g") if g.get("class") == "bar"]
    expected = [0] * 10
    for s in run.submissions:
        expected[min(9, int(s.percentage // 10))] += 1
    assert bars == expected == histogram_bins([s.percentage for s in run.submissions])
    ticks = [t.text for t in svg.iter("text") if t.get("class") == "tick"]
    assert ticks == [str(10 * i) for i in range(11)]
    heights = [
        float(g.find("rect").get("height")) for g in svg.iter("g") if g.get("class") == "bar"
    ]
    assert heights[expected.index(max(expected))] == max(heights) and min(heights) == 0


def test_index_shows_run_facts(run, pages):
    page = text(pages["index"])
    for fact in (run.assignment, run.grader_version, str(run.seed), run.created, "bubblewrap"):
        assert fact in page


def articles(doc: ET.Element) -> dict[str, ET.Element]:
    return {a.get("data-check"): a for a in doc.iter("article")}


def test_student_pages_show_every_check_with_points(run, pages):
    for sub in run.submissions:
        doc = pages[sub.id]
        total = next(p for p in doc.iter("p") if p.get("id") == "total-score")
        assert numbers(text(total)) == pytest.approx(
            [sub.score, sub.max_score, sub.percentage], abs=0.05
        )
        found = articles(doc)
        assert list(found) == sorted((c.id for c in sub.checks), key=list(found).index)
        assert set(found) == {c.id for c in sub.checks}
        for check in sub.checks:
            article = found[check.id]
            assert text(article.find(".//h3")) == check.name
            status = next(s for s in article.iter("span") if "status" in s.get("class", "").split())
            assert text(status).endswith(check.status)
            pts = next(s for s in article.iter("span") if s.get("class") == "pts")
            assert numbers(text(pts)) == pytest.approx([check.score, check.max_score])
            if check.message:
                assert shown_message(check, False) in text(article)


def test_student_group_summary_adds_up(run, pages, bob):
    bob = run.submissions[1]
    rows = [tr for tr in pages["bob"].iter("tr") if tr.get("data-group")]
    for tr in rows:
        checks = [c for c in bob.checks if c.group == tr.get("data-group")]
        counted = [c for c in checks if c.status != "skipped"]
        if not counted:  # a group skipped as a whole is not a zero
            assert text(tr.findall("td")[1]) == "skipped"
            continue
        assert numbers(text(tr.findall("td")[1])) == pytest.approx(
            [sum(c.score for c in checks), sum(c.max_score for c in counted)]
        )
    assert {tr.get("data-group") for tr in rows} == {c.group for c in bob.checks}


def test_failing_case_shows_inputs_expected_got_and_error(pages):
    article = articles(pages["bob"])["backward.conv_backward_naive.public"]
    terms = {text(dt): text(dd) for dt, dd in zip(article.iter("dt"), article.iter("dd"))}
    assert terms["x"] == "(4, 3, 5, 5)" and terms["conv_param"] == "stride=1, pad=1"
    assert (
        terms["expected"] == "dw[0, 1, 2, 2] = 0.8123" and terms["got"] == "dw[0, 1, 2, 2] = 0.2031"
    )
    assert terms["max error"] == "0.75 (tolerance 1e-08) at index (0, 1, 2, 2)"
    assert "dw sums over the batch" in text(article.find(".//p[@class='hint']"))


def test_traceback_is_collapsed(pages):
    article = articles(pages["bob"])["backward.max_pool_backward_naive.hidden"]
    details = article.find(".//details")
    assert details is not None and details.get("open") is None
    assert "IndexError: index 3 is out of bounds" in text(details.find("pre"))


def test_per_case_table(pages):
    article = articles(pages["bob"])["forward.spatial_groupnorm_forward.public"]
    cases = article.find(".//details[@class='cases']")
    assert cases.get("open") is not None, "a failed check shows its cases"
    rows = cases.findall(".//table/tbody/tr")
    assert [text(r.findall("td")[1]) for r in rows] == ["✗ failed", "✓ passed"]
    assert text(rows[0].findall("td")[0]) == "x: (2, 6, 4, 5), G: 2"
    passed = articles(pages["alice"])["forward.conv_forward_naive.public"].find(
        ".//details[@class='cases']"
    )
    assert passed.get("open") is None and text(passed.find("summary")) == "1 case"


def page_text_without_images(doc: ET.Element) -> str:
    attrs = " ".join(v for el in doc.iter() for k, v in el.attrib.items() if k != "src")
    return text(doc) + " " + attrs


def test_hidden_inputs_stay_hidden(pages, hidden_mark):
    for name, doc in pages.items():
        assert hidden_mark not in page_text_without_images(doc), name
    hidden = articles(pages["bob"])["forward.conv_forward_naive.hidden"]
    assert "out has the wrong shape" in text(hidden) and "✗ failed" in text(hidden)
    assert "// stride, not (...)" in text(hidden) and "(1, 3, 1, 4)" not in text(hidden), (
        "hints lose shapes"
    )
    error = articles(pages["bob"])["backward.max_pool_backward_naive.hidden"]
    assert "max_pool_backward_naive: raised IndexError" in text(error)
    assert "IndexError: index 11" not in text(error), (
        "the exception's text may hold the case's sizes"
    )
    assert "inputs are not shown" in text(hidden)


def test_show_hidden_reveals_hidden_inputs(run, tmp_path, hidden_mark):
    render(run, tmp_path, ["html"], show_hidden=True)
    article = articles(parse(tmp_path / "bob.html"))["forward.conv_forward_naive.hidden"]
    assert hidden_mark in text(article) and "(1, 2, 5, 11)" in text(article)
    assert "expected (1, 3, 1, 3)" in text(article), "the full message too"
    assert "not (1, 3, 1, 4)" in text(article), "and the whole hint"


def test_training_curves_plot_the_history(run, pages):
    history = run.submissions[0].checks[7].details["history"]
    loss_svg, acc_svg = articles(pages["alice"])["training.FourLayerConvNet.overfit"].findall(
        ".//svg"
    )
    (loss,) = loss_svg.findall("polyline")
    assert len(loss.get("points").split()) == len(history["loss"])
    ys = [float(p.split(",")[1]) for p in loss.get("points").split()]
    assert np.argmin(ys) == np.argmax(history["loss"]) and np.argmax(ys) == np.argmin(
        history["loss"]
    )
    assert {"iteration", "loss"} <= {t.text for t in loss_svg.iter("text")}
    series = {p.get("data-series"): p for p in acc_svg.findall("polyline")}
    assert set(series) == {"train", "val"}
    assert len(series["train"].get("points").split()) == len(history["train_acc"])
    assert series["train"].get("stroke-dasharray") != series["val"].get("stroke-dasharray")
    assert {"epoch", "accuracy", "train", "val"} <= {t.text for t in acc_svg.iter("text")}
    labels = [
        float(t.text)
        for t in acc_svg.iter("text")
        if t.get("class") == "tick" and t.get("text-anchor") == "end"
    ]
    assert min(labels) == pytest.approx(min(history["val_acc"]), rel=1e-2)
    assert max(labels) == pytest.approx(max(history["train_acc"]), rel=1e-2)


def test_training_curve_skips_missing_values(run, pages):
    history = run.submissions[2].checks[7].details["history"]
    loss = articles(pages[run.submissions[2].id])["training.FourLayerConvNet.overfit"].find(
        ".//polyline"
    )
    assert len(loss.get("points").split()) == len(history["loss"]) - 1


def test_filters_are_drawn_as_an_inline_png(pages, sample_run):
    img = articles(pages["alice"])["training.FourLayerConvNet.overfit"].find(".//img")
    png = Image.open(io.BytesIO(base64.b64decode(img.get("src").split(",", 1)[1])))
    assert png.size == (6 * 8 + 1,) * 2, "32 filters of 7x7 in a 6x6 grid, one-pixel borders"
    assert "32 first-layer filters" in img.get("alt")
    bad = articles(pages[sample_run().submissions[2].id])["training.FourLayerConvNet.overfit"]
    assert "could not be drawn" in text(bad.find(".//figcaption")) and bad.find(".//img") is None


def test_filter_grid_scales_each_filter_to_its_range():
    filters = np.zeros((2, 3, 2, 2))
    filters[0, 0, 0, 0] = 5.0  # filter 0: one bright red pixel
    filters[1] = -1.0
    filters[1, 2, 1, 1] = 1.0  # filter 1: one bright blue pixel
    grid = filter_grid(filters.tolist())
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(grid.data_uri.split(",", 1)[1]))))
    assert png.shape == (2 + 1 + 1, 2 * (2 + 1) + 1, 3), "two 2x2 filters side by side"
    cell = lambda f, y, x: png[1 + y, 1 + f * 3 + x]  # noqa: E731
    assert cell(0, 0, 0).tolist() == [255, 0, 0] and cell(0, 1, 1).tolist() == [0, 0, 0]
    assert cell(1, 1, 1).tolist() == [0, 0, 255] and cell(1, 0, 0).tolist() == [0, 0, 0]
    assert filter_grid([[1.0, float("nan")]]).data_uri is None


def test_notebook_links_only_to_relative_paths(run, pages):
    links = [a.get("href") for a in pages["alice"].iter("a")]
    assert "notebooks/alice.ipynb" in links
    carol = pages[run.submissions[2].id]
    assert not any("javascript" in (a.get("href") or "") for a in carol.iter("a"))


def answer_bodies(page: ET.Element) -> list[ET.Element]:
    sections = [s for s in page.iter("section") if s.get("class") == "inline-answer"]
    return [next(d for d in s.iter("div") if d.get("class") == "answer") for s in sections]


def test_inline_answers_are_shown_as_text(pages):
    first, second = answer_bodies(pages["alice"])
    assert (
        text(second) == "Yes; but it cannot output < 0 <b>values</b>."
        and second.find(".//b") is None
    )
    assert "needs grading" in text(pages["alice"])


def test_inline_answers_keep_their_math_and_render_their_markdown(pages):
    first, _ = answer_bodies(pages["alice"])
    assert "$HH = 4 + 2P_H$" in text(first) and "$WW = 4 + 2P_W$" in text(first)
    assert "where P_H is the padding" in text(first), "underscores outside math stay too"
    assert text(first.find(".//em")) == "stride = 4", "Markdown emphasis is rendered"
    assert [s.get("class") for s in first.iter("span")] == ["math inline"] * 2
    assert not list(first.iter("img")), "a page never loads an image from elsewhere"


def test_hostile_id_is_escaped(run, pages):
    carol = run.submissions[2]
    h1 = pages[carol.id].find(".//h1/span")
    assert text(h1) == carol.id and h1.find("b") is None


def test_error_submission_page(run, pages):
    dave = run.submissions[3]
    alert = next(d for d in pages[dave.id].iter("div") if d.get("role") == "alert")
    assert dave.error in text(alert)
    assert not articles(pages[dave.id])


def test_notes_for_substitutions_and_protections(pages):
    page = text(pages["bob"])
    for note in ("fast_layers, im2col", "sandbox with: rlimits, network-namespace"):
        assert note in page


def test_review_flags_are_for_the_instructor_only(pages):
    assert "inline answer 2 is empty" in text(pages["index"])
    assert "inline answer 2 is empty" not in text(pages["bob"])


def test_page_stems_are_safe_and_unique(make_submission):
    run = RunResult(
        "0.1.0",
        "ConvolutionalNetworks",
        0,
        "now",
        submissions=[
            make_submission(i, []) for i in ("index", "Index", "a/b", "a_b", "", "../..", "a/b")
        ],
    )
    stems = page_stems(run)
    assert len({s.lower() for s in stems}) == len(stems)
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", s) for s in stems)
    assert "index" not in {s.lower() for s in stems}


def test_two_hundred_submissions_render(tmp_path, large_run):
    run = large_run(200)
    paths = render(run, tmp_path, ["html"])
    assert len(paths) == 201
    rows = [tr for tr in parse(tmp_path / "index.html").iter("tr") if tr.get("data-submission")]
    assert len(rows) == 200


def grid_rows(page: ET.Element) -> dict[str, ET.Element]:
    return {tr.get("data-grid-row"): tr for tr in page.iter("tr") if tr.get("data-grid-row")}


def test_the_class_grid_has_a_row_per_submission_and_a_column_per_function(run, pages):
    table = next(t for t in pages["index"].iter("table") if t.get("id") == "class-grid")
    groups = [
        (text(th), int(th.get("colspan"))) for th in table.iter("th") if th.get("class") == "group"
    ]
    assert groups == [
        ("forward", 2),
        ("backward", 2),
        ("inputs", 1),
        ("model", 1),
        ("training", 1),
        ("speed", 1),
    ]
    targets = [th.get("title") for th in table.iter("th") if th.get("class") == "target"]
    assert targets[:4] == [
        "forward conv_forward_naive",
        "forward spatial_groupnorm_forward",
        "backward conv_backward_naive",
        "backward max_pool_backward_naive",
    ]
    assert list(grid_rows(pages["index"])) == [s.id for s in run.submissions]


def test_grid_cells_sum_each_functions_checks_in_symbols_and_words(pages, bob):
    bob = grid_rows(pages["index"])["bob"]
    cells = [td.find("a") for td in bob.findall("td")]
    assert [text(a) for a in cells] == ["◐", "✗", "◐", "!", "✗", "✓", "!", "○"]
    assert [a.get("title") for a in cells] == [
        "forward conv_forward_naive: partial credit, 2 / 4 points",
        "forward spatial_groupnorm_forward: failed, 0 / 2 points",
        "backward conv_backward_naive: partial credit, 1 / 3 points",
        "backward max_pool_backward_naive: error (raised, crashed or timed out), 0 / 2 points",
        "inputs conv_backward_naive: failed, 0 / 1 points",
        "model FourLayerConvNet: passed, 2 / 2 points",
        "training FourLayerConvNet: error (raised, crashed or timed out), 0 / 3 points",
        "speed conv_forward_fast: not handed in",
    ]
    assert cells[0].get("href") == "bob.html#check-forward.conv_forward_naive.public"
    legend = next(ul for ul in pages["index"].iter("ul") if ul.get("class") == "legend")
    assert len({text(li)[0] for li in legend}) == 6, "one symbol per state, explained"


def test_grid_shows_errors_as_errors(tmp_path, bob, sample_run):
    run = sample_run()
    problem = {
        "module": "ie590.layers",
        "message": "SyntaxError: '(' was never closed",
        "file": "ie590/layers.py",
        "line": 31,
        "offset": 17,
        "text": "    cache = x (((",
    }
    run.submissions[1].details["import_errors"] = [problem]
    render(run, tmp_path, ["html"])
    bob = parse(tmp_path / "bob.html")
    alert = next(d for d in bob.iter("div") if "import-error" in d.get("class", ""))
    assert text(alert).startswith("ie590/layers.py does not import")
    assert alert.find("pre").text == (
        '  File "ie590/layers.py", line 31\n    cache = x (((\n'
        "                ^\nSyntaxError: '(' was never closed"
    )
    index = parse(tmp_path / "index.html")
    rows = grid_rows(index)
    assert "! does not import: ie590/layers.py, line 31" in text(rows["bob"].find("th"))
    (cannot,) = rows["=dave+1"].findall("td")
    assert int(cannot.get("colspan")) == 8 and text(cannot).startswith(
        "! cannot be graded: could not import"
    )
    status = {
        tr.get("data-submission"): tr.findall("td")[3]
        for tr in index.iter("tr")
        if tr.get("data-submission")
    }
    assert (
        text(status["bob"])
        == "error: does not import: ie590/layers.py, line 31: SyntaxError: '(' was never closed"
    )
    assert "status-error" in status["bob"].get("class") and "status-graded" in status["alice"].get(
        "class"
    )
