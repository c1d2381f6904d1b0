"""Inline answers graded by a person: the export, every refusal, and a merge with its totals."""

from __future__ import annotations

import csv
import io

import pytest

from grader.cli import main
from grader.errors import ManualGradingError
from grader.manual import export_answers, import_scores, read_run
from grader.notebook.answers import answer_checks
from grader.results import CheckResult, RunResult, SubmissionResult

POINTS = {f"notebook.inline.q{n}": 2.0 for n in (1, 2, 3)}


def notebook_submission(sub_id: str, answers: list[str]) -> SubmissionResult:
    """Graded as grading does it: two layer checks, then the inline answers' own checks."""
    collected = [
        {
            "question": f"Inline Question #{n}: why?",
            "answer": text,
            "status": "answered" if text else "empty",
        }
        for n, text in enumerate(answers, 1)
    ]
    checks = [
        CheckResult("forward.conv.public", "conv", "conv", "passed", 4.0, 4.0),
        CheckResult("backward.conv.public", "conv", "conv", "failed", 0.0, 4.0),
        *answer_checks(collected, POINTS),
    ]
    sub = SubmissionResult(
        sub_id,
        f"/class/{sub_id}",
        "0" * 64,
        "graded",
        0.0,
        0.0,
        1.0,
        checks,
        details={"inline_answers": collected},
    )
    sub.tally()
    return sub


def package_submission(sub_id: str) -> SubmissionResult:
    """No notebook: the inline checks are skipped and hold no answer."""
    checks = [CheckResult("forward.conv.public", "conv", "conv", "passed", 4.0, 4.0)]
    checks += [
        CheckResult(
            i,
            "notebook",
            i,
            "skipped",
            0.0,
            2.0,
            message="graded only when the notebook itself is handed in",
        )
        for i in POINTS
    ]
    sub = SubmissionResult(sub_id, f"/class/{sub_id}", "1" * 64, "graded", 0.0, 0.0, 1.0, checks)
    sub.tally()
    return sub


@pytest.fixture
def results(tmp_path):
    run = RunResult(
        "0.1.0",
        "ConvolutionalNetworks",
        7,
        "2026-11-27T12:00:00+00:00",
        [
            notebook_submission(
                "ann", ["Filters see edges.", "Pooling keeps the maximum.", "=SUM(A1)"]
            ),
            notebook_submission("ben", ["Because of the stride.", "", "Group norm is per sample."]),
            package_submission("cid"),
            SubmissionResult(
                "dan",
                "/class/dan.zip",
                "2" * 64,
                "error",
                0.0,
                14.0,
                0.1,
                error="the zip is broken",
            ),
        ],
    )
    path = tmp_path / "results.json"
    run.write(path)
    return path


COLUMNS = ["submission", "question", "answer", "points", "comment"]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def scores_csv(path, records: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(records)


def test_export_has_one_row_per_submission_and_question(results):
    exported = rows(export_answers(read_run(results)))
    assert [(r["submission"], r["question"]) for r in exported] == [
        (s, f"notebook.inline.q{n}") for s in ("ann", "ben") for n in (1, 2, 3)
    ]
    first = exported[0]
    assert first["answer"] == "Filters see edges." and first["max_points"] == "2"
    assert first["question_text"] == "Inline Question #1: why?" and first["status"] == "answered"
    assert exported[2]["answer"] == "'=SUM(A1)", "a spreadsheet must not run it as a formula"
    assert exported[4]["status"] == "empty" and exported[4]["points"] == ""


def test_a_merge_records_the_grades_and_recomputes_the_totals(results, tmp_path):
    before = read_run(results)
    assert [(s.score, s.max_score) for s in before.submissions[:2]] == [(4.0, 8.0), (4.0, 10.0)]
    scores = tmp_path / "scores.csv"
    scores_csv(
        scores,
        [
            {
                "submission": "ann",
                "question": "notebook.inline.q1",
                "points": "2",
                "comment": "Right.",
            },
            {
                "submission": "ann",
                "question": "notebook.inline.q2",
                "points": "1.5",
                "comment": "Half.",
            },
            {"submission": "ann", "question": "notebook.inline.q3", "points": "", "comment": ""},
            {"submission": "ben", "question": "notebook.inline.q2", "points": "0", "comment": ""},
            {
                "submission": "ben",
                "question": "notebook.inline.q3",
                "points": "0.5",
                "comment": "=1+1",
            },
        ],
    )
    run, merged, ungraded = import_scores(results, scores)
    assert (merged, ungraded) == (4, 1)
    after = read_run(results)
    ann, ben, cid, dan = after.submissions
    # ann: 4 + 2 + 1.5 out of 8 + 2 + 2; q3 still waits for a person and does not count yet
    assert (ann.score, ann.max_score) == (7.5, 12.0)
    # ben: q2 (empty, already counted) stays 0, q3 adds 0.5 out of 2
    assert (ben.score, ben.max_score) == (4.5, 12.0)
    assert (cid.score, cid.max_score, dan.max_score) == (4.0, 4.0, 14.0)
    checks = {c.id: c for c in ann.checks}
    q1, q2, q3 = (checks[f"notebook.inline.q{n}"] for n in (1, 2, 3))
    assert (q1.status, q1.score, q3.status) == ("passed", 2.0, "skipped")
    assert (q2.status, q2.score) == ("failed", 1.5)
    assert q2.message == "graded by hand: 1.5 / 2. Half."
    assert q2.details["manual"]["points"] == 1.5 and q2.details["manual"]["row"] == 3
    assert q2.details["automatic"]["status"] == "skipped"
    assert q2.details["answer"] == "Pooling keeps the maximum."
    assert {c.id: c.details["manual"]["comment"] for c in ben.checks if "manual" in c.details} == {
        "notebook.inline.q2": "",
        "notebook.inline.q3": "=1+1",
    }
    assert after.details["manual_grades"][0]["grades"] == 4
    assert run.to_json() == after.to_json()
    again = rows(export_answers(after))
    assert [r["points"] for r in again if r["submission"] == "ann"] == ["2", "1.5", ""]


@pytest.mark.parametrize(
    "sid, question, given, says",
    [
        ("zoe", "q1", "1", "row 3: no submission 'zoe'"),
        ("ann", "q9", "1", "row 3: ann has no check 'notebook.inline.q9'"),
        ("ann", "forward.conv.public", "1", "row 3: forward.conv.public is graded automatically"),
        ("cid", "q1", "1", "row 3: cid handed in no notebook"),
        ("dan", "q1", "1", "row 3: dan has no check"),
        ("ann", "q2", "1,5", "row 3: points '1,5' is not a number"),
        ("ann", "q2", "nan", "row 3: points 'nan' must be a number from 0 to 2"),
        ("ann", "q2", "-1", "row 3: points '-1' must be"),
        ("ann", "q2", "2.5", "row 3: 2.5 points is more than notebook.inline.q2's maximum of 2"),
        ("ann", "q1", "1", "row 3: ann's notebook.inline.q1 is graded twice (rows 2 and 3)"),
    ],
)
def test_a_bad_row_is_refused_with_its_number_and_nothing_is_merged(
    results, tmp_path, sid, question, given, says
):
    scores = tmp_path / "scores.csv"
    good = {"submission": "ann", "question": "notebook.inline.q1", "points": "2", "comment": "ok"}
    question = f"notebook.inline.{question}" if question.startswith("q") else question
    bad = {"submission": sid, "question": question, "points": given}
    scores_csv(scores, [good, bad, {**good, "submission": "ben"}])
    before = results.read_bytes()
    with pytest.raises(ManualGradingError, match="nothing was merged") as refused:
        import_scores(results, scores)
    assert says in str(refused.value)
    assert results.read_bytes() == before


def test_every_bad_row_is_listed_at_once(results, tmp_path):
    scores = tmp_path / "scores.csv"
    scores_csv(
        scores,
        [
            {"submission": "zoe", "question": "notebook.inline.q1", "points": "1"},
            {"submission": "ann", "question": "notebook.inline.q1", "points": "x"},
        ],
    )
    with pytest.raises(ManualGradingError) as refused:
        import_scores(results, scores)
    assert "row 2: no submission 'zoe'" in str(refused.value)
    assert "row 3: points 'x'" in str(refused.value)


def test_a_file_without_the_needed_columns_is_refused(results, tmp_path):
    scores = tmp_path / "scores.csv"
    scores.write_text("student,score\nann,2\n")
    with pytest.raises(ManualGradingError, match=r"lacks the column\(s\) submission, question"):
        import_scores(results, scores)


def test_the_answers_commands_round_trip_and_re_render(results, tmp_path, capsys):
    answers = tmp_path / "answers.csv"
    assert main(["answers", "export", str(results), str(answers)]) == 0
    graded = rows(answers.read_text())
    for row in graded:
        row["points"] = "2" if row["status"] == "answered" else ""
    scores_csv(tmp_path / "scores.csv", [{k: r[k] for k in COLUMNS} for r in graded])
    command = ["answers", "import", str(results)]
    assert main(["report", str(results), "--format", "json,html"]) == 0, "a run's reports, listed"
    assert main([*command, str(tmp_path / "scores.csv"), "--render", "csv"]) == 0
    assert "merged 5 grades" in capsys.readouterr().out
    assert results.exists() and not (results.parent / "index.html").exists(), (
        "the report folder now holds the re-rendered formats beside the updated results.json"
    )
    gradebook = {r["id"]: r for r in csv.DictReader(open(results.parent / "gradebook.csv"))}
    assert (gradebook["ann"]["total"], gradebook["ann"]["max"]) == ("10", "14")
    assert (gradebook["ben"]["total"], gradebook["ben"]["max"]) == ("8", "14")
    scores_csv(
        tmp_path / "bad.csv",
        [{"submission": "ann", "question": "notebook.inline.q1", "points": "9"}],
    )
    before = results.read_bytes()
    assert main([*command, str(tmp_path / "bad.csv")]) == 2
    assert "row 2: 9 points is more than" in capsys.readouterr().err
    assert results.read_bytes() == before
    assert main(["answers", "export", str(tmp_path / "missing.json"), str(answers)]) == 2
