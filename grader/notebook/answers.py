"""The inline questions: collect each answer and flag the empty or untouched ones.

Answers are graded by people; the grader only makes sure nothing is missed: a question
whose "Your Answer:" is followed by nothing (or by the template's placeholder) is flagged.
Questions and answers are kept as the student wrote them (Markdown and `$...$` math, with
every `_` and `*`); only the test for an empty answer looks through the markup.
"""

from __future__ import annotations

import re
from typing import Any

from grader.results import CheckResult

QUESTION_COUNT = 3
QUESTION = re.compile(r"Inline\s+Question\s*#?\s*(\d+)\s*:?", re.IGNORECASE)
ANSWER = re.compile(r"Your\s+Answer\s*:?", re.IGNORECASE)
PLACEHOLDERS = {"", "fill this in", "fill this in.", "your answer here", "todo"}


LABEL_CLOSE = re.compile(r"^[*_]+(?=\s|$)")
"""The closing `**` of a bold label (`**Your Answer:**`), which belongs to the label."""


def _clean(text: str) -> str:
    """The words of `text` without Markdown markup, to recognise an empty answer."""
    return re.sub(r"[\s*_#>]+", " ", text).strip()


def _as_written(text: str) -> str:
    return LABEL_CLOSE.sub("", text.strip()).strip()


def _markdown(nb: Any) -> list[str]:
    return [str(c.get("source", "")) for c in nb.cells if c.get("cell_type") == "markdown"]


def collect_answers(nb: Any) -> list[dict[str, str]]:
    """One `{question, answer, status}` per inline question, in order; status
    answered/empty/missing.

    A question's answer follows "Your Answer:" in the same markdown cell or in the next one.
    """
    cells = _markdown(nb)
    found: dict[int, dict[str, str]] = {}
    for i, text in enumerate(cells):
        for match in QUESTION.finditer(text):
            number = int(match.group(1))
            rest = text[match.end() :]
            nxt = QUESTION.search(rest)
            rest = rest[: nxt.start()] if nxt else rest
            question, answer = _split_answer(rest, cells[i + 1] if i + 1 < len(cells) else "")
            found.setdefault(
                number,
                {
                    "question": f"Inline Question #{number}: {question}",
                    "answer": answer,
                    "status": _status(answer),
                },
            )
    return [
        found.get(n, {"question": f"Inline Question #{n}", "answer": "", "status": "missing"})
        for n in range(1, max([QUESTION_COUNT, *found]) + 1)
    ]


def _split_answer(rest: str, next_cell: str) -> tuple[str, str]:
    marker = ANSWER.search(rest)
    if marker:
        return _question(rest[: marker.start()]), _as_written(rest[marker.end() :])
    marker = ANSWER.search(next_cell)
    if marker and not QUESTION.search(next_cell[: marker.start()]):
        return _question(rest), _as_written(next_cell[marker.end() :])
    return _question(rest), ""


def _question(text: str) -> str:
    """The question as written, less the opening `**` of a bold "Your Answer:" that follows it."""
    return re.sub(r"\s*[*_]+$", "", _as_written(text))


def _status(answer: str) -> str:
    return "empty" if _clean(answer).lower() in PLACEHOLDERS else "answered"


def answer_checks(answers: list[dict[str, str]], points: dict[str, float]) -> list[CheckResult]:
    """One check per question: skipped ("graded manually") when answered, failed when not."""
    checks = []
    for number, item in enumerate(answers, start=1):
        check_id = f"notebook.inline.q{number}"
        answered = item["status"] == "answered"
        message = {
            "answered": "graded manually",
            "empty": 'no answer: nothing follows "Your Answer:"',
            "missing": "the question is not in the notebook",
        }[item["status"]]
        checks.append(
            CheckResult(
                id=check_id,
                target="notebook",
                name=f"Inline question #{number}",
                status="skipped" if answered else "failed",
                score=0.0,
                max_score=points.get(check_id, 0.0),
                message=message,
                details={"answer": item["answer"]},
            )
        )
    return checks
