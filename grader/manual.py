"""Free-response answers graded by a person: export them for grading, merge the points back.

The notebook's inline answers are collected while grading (`details.inline_answers`) and
their checks (`notebook.inline.q1`, ...) wait for a person. `export_answers` writes one CSV
row per (submission, question) with the answer; a person fills in `points` and `comment`;
`merge_scores` checks every row first (known ids, numbers, at most the question's maximum,
no question twice) and only then changes the results, so a bad file changes nothing. Each
graded check keeps a record of the person's grade (`details.manual`) and of what the grader
had said (`details.automatic`); the submission's total is recomputed as grading does.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import ManualGradingError
from grader.report.gradebook import spreadsheet_safe
from grader.report.formatting import points
from grader.results import CheckResult, RunResult, SubmissionResult

QUESTION = re.compile(r"notebook\.inline\.q(\d+)")
COLUMNS = (
    "submission",
    "question",
    "max_points",
    "status",
    "question_text",
    "answer",
    "points",
    "comment",
)
REQUIRED = ("submission", "question", "points")
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Grade:
    """One row of a scores file, checked: the check it grades and the person's points."""

    submission: SubmissionResult
    check: CheckResult
    points: float
    comment: str
    row: int


def read_run(path: Path) -> RunResult:
    try:
        return RunResult.read(path)
    except OSError as exc:
        raise ManualGradingError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ManualGradingError(f"{path} is not a grader results.json ({exc})") from None


def export_answers(run: RunResult) -> str:
    """The CSV a person grades: every answer of every submission that handed in a notebook."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for sub in run.submissions:
        for check in sub.checks:
            if _answer(check) is None:
                continue
            item = _collected(sub, check)
            manual = check.details.get("manual") or {}
            given = points(manual["points"], 4) if "points" in manual else ""
            texts = [str(item.get("question", "")), _answer(check) or ""]
            writer.writerow(
                [
                    spreadsheet_safe(sub.id),
                    check.id,
                    points(check.max_score, 4),
                    item.get("status", ""),
                    *map(spreadsheet_safe, texts),
                    given,
                    spreadsheet_safe(manual.get("comment", "")),
                ]
            )
    return buf.getvalue()


def _answer(check: CheckResult) -> str | None:
    """The answer a graded-by-hand check holds; None when it is not one or no notebook came."""
    if not QUESTION.fullmatch(check.id) or not isinstance(check.details.get("answer"), str):
        return None
    return check.details["answer"]


def _collected(sub: SubmissionResult, check: CheckResult) -> dict:
    answers = sub.details.get("inline_answers")
    number = int(QUESTION.fullmatch(check.id).group(1))
    item = answers[number - 1] if isinstance(answers, list) and number <= len(answers) else None
    return item if isinstance(item, dict) else {}


def check_scores(run: RunResult, text: str) -> tuple[list[Grade], int]:
    """Every row of a scores CSV checked against `run`: the grades, and how many rows had no
    points (left ungraded). Raises ManualGradingError naming each bad row."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ManualGradingError(
            f"the header (row 1) lacks the column(s) {', '.join(missing)}; "
            f"export the answers with `grader answers export` to get them"
        )
    by_id: dict[str, list[SubmissionResult]] = {}
    for sub in run.submissions:
        for name in {sub.id, spreadsheet_safe(sub.id)}:
            by_id.setdefault(name, []).append(sub)
    grades: list[Grade] = []
    problems: list[str] = []
    seen: dict[tuple[int, str], int] = {}
    ungraded = 0
    for row, record in enumerate(reader, start=2):
        try:
            grade = _check_row(record, row, by_id, seen)
        except ManualGradingError as exc:
            problems.append(f"row {row}: {exc}")
            continue
        if grade is None:
            ungraded += 1
        else:
            grades.append(grade)
    if problems:
        more = len(problems) - MAX_PROBLEMS
        listed = problems[:MAX_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        raise ManualGradingError("nothing was merged:\n" + "\n".join(listed))
    return grades, ungraded


def _check_row(
    record: dict,
    row: int,
    by_id: dict[str, list[SubmissionResult]],
    seen: dict[tuple[int, str], int],
) -> Grade | None:
    if None in record:
        raise ManualGradingError("more cells than the header has columns")
    sid, question = (record.get("submission") or "").strip(), (record.get("question") or "").strip()
    subs = by_id.get(sid, [])
    if not subs:
        raise ManualGradingError(f"no submission {sid!r} in the results")
    if len(subs) > 1:
        raise ManualGradingError(f"several submissions are named {sid!r}; grade them in the report")
    sub = subs[0]
    check = next((c for c in sub.checks if c.id == question), None)
    if check is None:
        raise ManualGradingError(f"{sid} has no check {question!r}")
    if not QUESTION.fullmatch(question):
        raise ManualGradingError(f"{question} is graded automatically, not by hand")
    if _answer(check) is None:
        raise ManualGradingError(
            f"{sid} handed in no notebook, so {question} has no answer to grade"
        )
    text = (record.get("points") or "").strip()
    if not text:
        return None
    value = _points(text, check)
    key = (id(sub), question)
    if key in seen:
        raise ManualGradingError(f"{sid}'s {question} is graded twice (rows {seen[key]} and {row})")
    seen[key] = row
    return Grade(sub, check, value, _from_sheet((record.get("comment") or "").strip()), row)


def _from_sheet(text: str) -> str:
    """Undo `spreadsheet_safe`: the quote the export put before a leading `=`, `+`, ..."""
    return text[1:] if text.startswith("'") and spreadsheet_safe(text[1:]) == text else text


def _points(text: str, check: CheckResult) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ManualGradingError(f"points {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ManualGradingError(
            f"points {text!r} must be a number from 0 to {points(check.max_score)}"
        )
    if value > check.max_score + 1e-9:
        raise ManualGradingError(
            f"{points(value)} points is more than {check.id}'s maximum of "
            f"{points(check.max_score)} (set by the assignment file)"
        )
    return value


def merge_scores(run: RunResult, grades: list[Grade], source: str) -> None:
    """Record each grade on its check and recompute the totals of the submissions it touches."""
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for grade in grades:
        check = grade.check
        if "manual" not in check.details:
            check.details["automatic"] = {
                "status": check.status,
                "score": check.score,
                "message": check.message,
            }
        check.score = grade.points
        check.status = "passed" if grade.points >= check.max_score else "failed"
        check.message = f"graded by hand: {points(grade.points)} / {points(check.max_score)}"
        check.message += f". {grade.comment}" if grade.comment else ""
        check.details["manual"] = {
            "points": grade.points,
            "comment": grade.comment,
            "source": source,
            "row": grade.row,
            "graded": now,
        }
    for sub in {id(g.submission): g.submission for g in grades}.values():
        sub.tally()
    run.details.setdefault("manual_grades", []).append(
        {"source": source, "grades": len(grades), "imported": now}
    )


def import_scores(results: Path, scores: Path) -> tuple[RunResult, int, int]:
    """Merge `scores` into `results` (rewritten atomically): the run, grades merged, rows left."""
    run = read_run(results)
    try:
        text = scores.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ManualGradingError(f"cannot read {scores}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ManualGradingError(f"{scores} is not UTF-8 text; save it as CSV UTF-8") from None
    try:
        grades, ungraded = check_scores(run, text)
    except csv.Error as exc:
        raise ManualGradingError(f"{scores} is not a readable CSV file ({exc})") from None
    except ManualGradingError as exc:
        raise ManualGradingError(f"{scores}: {exc}") from None
    merge_scores(run, grades, scores.name)
    run.write(results)
    return run, len(grades), ungraded


__all__ = ["export_answers", "import_scores", "read_run"]
