"""Inline answers: collected for manual grading, empty and untouched ones flagged."""

from __future__ import annotations

from grader.notebook import answers


def test_seed_inline_answers_are_collected(seed_cells, notebooks) -> None:
    found = answers.collect_answers(notebooks.build(seed_cells))
    assert [a["status"] for a in found] == ["answered"] * 3
    assert "stride = 4" in found[0]["answer"] and "1/4" in found[2]["answer"]


def test_empty_and_missing_answers_are_flagged(notebooks) -> None:
    nb = notebooks.build(
        [
            ("markdown", "Inline Question #1: Why?\n\nYour Answer: *fill this in*"),
            ("markdown", "Inline Question #2: How?"),
            ("markdown", "**Your Answer:**"),
            ("markdown", "Inline Question #3: What?\n\nYour Answer: max is non-linear"),
        ]
    )
    found = answers.collect_answers(nb)
    assert [a["status"] for a in found] == ["empty", "empty", "answered"]
    checks = answers.answer_checks(
        found + [{"question": "", "answer": "", "status": "missing"}], {}
    )
    assert [c.status for c in checks] == ["failed", "failed", "skipped", "failed"]
    assert checks[2].message == "graded manually"


def test_answers_are_kept_exactly_as_written(notebooks) -> None:
    answer = "*stride = 4, pool height $HH = 4 + 2P_H$, where P_H and P_W are the padding*"
    question = "If you want to reduce $W \\times H$ to $W/4 \\times H/4$?"
    nb = notebooks.build(
        [("markdown", f"**Inline Question #1:** {question}\n\n**Your Answer:** {answer}\n")]
    )
    (found, *_) = answers.collect_answers(nb)
    assert found == {
        "question": f"Inline Question #1: {question}",
        "answer": answer,
        "status": "answered",
    }
