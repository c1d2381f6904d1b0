"""Machine formats: Gradescope results, JUnit XML, the CSV gradebook and `render` itself."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from grader.report import FORMATS, MANIFEST, render
from grader.report.formatting import page_stems, shown_message
from grader.results import RunResult

GRADESCOPE_VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


@pytest.fixture(scope="module")
def run(sample_run) -> RunResult:
    return sample_run()


@pytest.fixture(scope="module")
def out(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("formats")
    render(run, path, FORMATS)
    return path


def test_render_writes_every_format(run, out):
    stems = page_stems(run)
    expected = {
        "index.html",
        "results.json",
        "junit.xml",
        "gradebook.csv",
        MANIFEST,
        *(f"{s}.html" for s in stems),
    }
    assert {p.name for p in out.iterdir() if p.is_file()} == expected, "no temp files left behind"
    assert {p.name for p in (out / "gradescope").iterdir()} == {f"{s}.json" for s in stems}
    assert not (out / "gradescope.json").exists(), "only a one-submission run gets gradescope.json"
    assert RunResult.read(out / "results.json") == run


def test_render_rejects_unknown_formats(run, tmp_path):
    with pytest.raises(
        ValueError, match="'pdf'.*valid formats: html, json, gradescope, junit, csv"
    ):
        render(run, tmp_path, ["html", "pdf"])
    with pytest.raises(ValueError, match="after_published"):
        render(run, tmp_path, ["gradescope"], gradescope_hidden_visibility="sometimes")
    assert not any(tmp_path.iterdir()), "nothing is written when the request is invalid"


def test_render_accepts_a_comma_separated_string(run, tmp_path):
    paths = render(run, tmp_path, "csv, junit")
    assert [p.name for p in paths] == ["gradebook.csv", "junit.xml"]


def gradescope(out, run, index):
    return json.loads((out / "gradescope" / f"{page_stems(run)[index]}.json").read_text())


def test_gradescope_results_follow_the_schema(run, out):
    for i, sub in enumerate(run.submissions):
        data = gradescope(out, run, i)
        assert data["score"] == sub.score
        assert isinstance(data["execution_time"], int) and data["execution_time"] >= sub.duration_s
        assert data["visibility"] in GRADESCOPE_VISIBILITIES
        assert data["stdout_visibility"] in GRADESCOPE_VISIBILITIES
        assert isinstance(data["output"], str) and data["output"].startswith("Score: ")
        assert len(data["tests"]) == len(sub.checks)
        for test, check in zip(data["tests"], sub.checks):
            assert test["name"] == check.name
            if (
                check.status == "skipped"
            ):  # worth nothing on Gradescope, and neither passed nor failed
                assert (test["score"], test["max_score"]) == (0, 0) and "status" not in test
            else:
                assert (test["score"], test["max_score"]) == (check.score, check.max_score)
                assert test["status"] == ("passed" if check.status == "passed" else "failed")
            assert test["visibility"] == (
                "after_published" if check.visibility == "hidden" else "visible"
            )
            assert test["tags"] == [check.group, check.target]
            assert check.status in test["output"] and shown_message(check, False) in test["output"]


def test_gradescope_hides_hidden_inputs_and_review_notes(run, out, bob, hidden_mark):
    bob = gradescope(out, run, 1)
    assert hidden_mark not in json.dumps(bob["tests"]) + bob["output"]
    shape = next(
        t for t in bob["tests"] if t["extra_data"]["id"] == "forward.conv_forward_naive.hidden"
    )
    assert "out has the wrong shape" in shape["output"] and "(1, 3, 1, 3)" not in shape["output"]
    assert "(1, 3, 1, 4)" not in shape["output"], "nor the shape its hint quotes"
    assert "inline answer 2 is empty" not in json.dumps(bob["tests"]) + bob["output"]
    assert bob["extra_data"]["review"] == ["inline answer 2 is empty"]
    assert "fast_layers, im2col" in bob["output"]
    failing = next(
        t for t in bob["tests"] if t["extra_data"]["id"] == "backward.conv_backward_naive.public"
    )
    assert (
        "Case: x: (4, 3, 5, 5)" in failing["output"]
        and "Got: dw[0, 1, 2, 2] = 0.2031" in failing["output"]
    )


def test_gradescope_error_submission_and_options(run, tmp_path, bob, hidden_mark):
    render(run, tmp_path, ["gradescope"], show_hidden=True, gradescope_hidden_visibility="hidden")
    dave = gradescope(tmp_path, run, 3)
    assert dave["score"] == 0 and dave["tests"] == [] and run.submissions[3].error in dave["output"]
    bob = gradescope(tmp_path, run, 1)
    hidden = [t for t in bob["tests"] if t["extra_data"]["id"].endswith(".hidden")]
    assert hidden and all(t["visibility"] == "hidden" for t in hidden)
    assert hidden_mark in json.dumps(hidden)
    assert "expected (1, 3, 1, 3)" in json.dumps(hidden), "the instructor sees the full message"


def test_single_submission_gets_gradescope_json(tmp_path, single_run):
    run = single_run()
    render(run, tmp_path, ["gradescope"])
    single = json.loads((tmp_path / "gradescope.json").read_text())
    assert single == json.loads((tmp_path / "gradescope" / "bob.json").read_text())
    assert single["score"] == run.submissions[0].score


def test_junit_counts_match_the_results(run, out):
    root = ET.parse(out / "junit.xml").getroot()
    statuses = Counter(c.status for s in run.submissions for c in s.checks)
    broken = sum(s.status == "error" for s in run.submissions)
    assert root.tag == "testsuites"
    assert int(root.get("tests")) == sum(statuses.values()) + broken
    assert int(root.get("failures")) == statuses["failed"]
    assert int(root.get("errors")) == statuses["error"] + statuses["timeout"] + broken
    assert int(root.get("skipped")) == statuses["skipped"]
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        for key, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            assert int(suite.get(key)) == sum(c.find(tag) is not None for c in cases)


def test_junit_suites_per_target_and_outcomes(run, out, bob, hidden_mark):
    root = ET.parse(out / "junit.xml").getroot()
    bob = run.submissions[1]
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert {n for n in suites if n.startswith("bob/")} == {f"bob/{c.target}" for c in bob.checks}
    cases = {
        c.get("name"): c for s in suites.values() if s.get("name").startswith("bob/") for c in s
    }
    failure = cases["backward.conv_backward_naive.public"].find("failure")
    assert (
        failure.get("message") == "dw is wrong; dx and db are right"
        and "tolerance 1e-08" in failure.text
    )
    assert cases["training.FourLayerConvNet.overfit"].find("error").get("type") == "timeout"
    assert cases["speed.conv_forward_fast.speedup"].find("skipped") is not None
    assert hidden_mark not in ET.tostring(root, encoding="unicode")
    dave = suites["=dave+1/submission"].find("testcase/error")
    assert dave.get("message") == run.submissions[3].error


def test_junit_survives_control_characters(tmp_path, make_check, make_submission):
    check = make_check(
        "forward.conv_forward_naive.public",
        "error",
        1,
        message="crash \x00\x1b[31m",
        traceback="bad byte \x07 here",
    )
    run = RunResult(
        "0.1.0", "ConvolutionalNetworks", 0, "now", [make_submission("x\x01y", [check])]
    )
    render(run, tmp_path, ["junit"])
    error = ET.parse(tmp_path / "junit.xml").getroot().find(".//error")
    assert error.get("message") == "crash \ufffd\ufffd[31m" and "bad byte \ufffd here" in error.text


def test_gradebook_rows_and_group_scores(run, out, bob):
    with open(out / "gradebook.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    groups = ["forward", "backward", "inputs", "model", "training", "speed", "notebook"]
    assert reader.fieldnames == [
        "id",
        "status",
        "total",
        "max",
        "percentage",
        *groups,
        *(f"{g}_max" for g in groups),
    ], "the first five columns never move"
    assert len(rows) == len(run.submissions)
    for row, sub in zip(rows, run.submissions):
        assert row["id"].lstrip("'") == sub.id and row["status"] == sub.status
        assert float(row["total"]) == pytest.approx(sub.score, abs=1e-4)
        assert float(row["max"]) == pytest.approx(sub.max_score, abs=1e-4)
        assert float(row["percentage"]) == pytest.approx(sub.percentage, abs=1e-4)
        for g in groups:
            graded = [c for c in sub.checks if c.group == g and c.status != "skipped"]
            expected = (
                (sum(c.score for c in graded), sum(c.max_score for c in graded)) if graded else None
            )
            found = (float(row[g]), float(row[f"{g}_max"])) if row[g] else None
            assert found == (pytest.approx(expected) if expected else None), (sub.id, g)
    bob = rows[1]
    assert (bob["speed"], bob["speed_max"]) == ("", ""), "a group only skipped is not 0 points"
    assert (bob["backward"], bob["backward_max"]) == ("1", "5")
    assert all(row["notebook"] == "" for row in rows) and rows[3]["forward"] == ""


def test_gradebook_defuses_spreadsheet_formulas(out):
    rows = list(csv.DictReader(open(out / "gradebook.csv", newline="")))
    assert rows[3]["id"] == "'=dave+1"
    assert rows[2]["id"] == '../carol <b>&amp; "q"', "quotes survive the csv round trip"


def test_malformed_details_still_render(tmp_path, make_check, make_submission):
    """Details are plain JSON from many graders: wrong shapes must not stop the reports."""
    check = make_check(
        "training.FourLayerConvNet.overfit",
        "failed",
        3,
        case="not a dict",
        cases={"x": 1},
        history={"loss": 3, "train_acc": ["a", None, 0.5]},
        first_layer_filters="none",
        max_error="big",
        where=None,
    )
    sub = make_submission(
        "odd",
        [check],
        substituted="fast_layers",
        protections=None,
        review=7,
        inline_answers=[{"answer": "only an answer"}, "junk"],
        notebook=42,
        stdout=None,
    )
    run = RunResult("0.1.0", "ConvolutionalNetworks", 0, "now", [sub], details={"nested": {"a": 1}})
    paths = render(run, tmp_path, FORMATS)
    page = (tmp_path / "odd.html").read_text()
    assert "only an answer" in page and "(question not found)" in page and "fast_layers" in page
    assert "could not be drawn" in page
    assert json.loads((tmp_path / "gradescope.json").read_text())["extra_data"]["review"] == ["7"]
    assert len(paths) == 7


def test_the_schema_accepts_what_the_grader_writes(tmp_path, sample_run):
    run = sample_run()
    run.write(tmp_path / "results.json")
    assert RunResult.read(tmp_path / "results.json") == run
