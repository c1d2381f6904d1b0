"""Printed errors against recomputed ones: a faked print is flagged for review."""

from __future__ import annotations

import nbformat
import pytest

from grader.notebook import consistency


def test_printed_values_are_parsed() -> None:
    text = (
        "Testing conv_backward_naive function\ndx error:  6.65e-10\ndw error: 7.2e-11\ndb error: "
        " nan\n"
    )
    assert consistency.printed_values(text) == {
        "dx error": 6.65e-10,
        "dw error": 7.2e-11,
        "db error": pytest.approx(float("nan"), nan_ok=True),
    }


def test_a_faked_print_is_flagged_for_review(notebooks) -> None:
    nb = notebooks.build([("code", "out, _ = conv_forward_naive(x, w, b, conv_param)\nprint(...)")])
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="difference:  2.2e-08\n")
    ]
    case = consistency.PUBLIC_CASES[0]
    student = consistency.reference_results(case)[0] + 1.0
    rows = consistency.compare(
        nb, "submitted", {case.name: consistency.recomputed_errors(case, [student])}
    )
    flags = consistency.review_flags(rows)
    assert len(flags) == 1 and flags[0]["printed"] == 2.2e-08 and flags[0]["recomputed"] > 0.01
    honest = consistency.compare(nb, "submitted", {case.name: {"difference": 1e-12}})
    assert not consistency.review_flags(honest)


def test_backward_cells_are_not_mistaken_for_forward_cells() -> None:
    src = (
        "out, cache = conv_forward_naive(x, w, b, p)\ndx, dw, db = conv_backward_naive(dout, cache)"
    )
    case = next(c for c in consistency.BACKWARD_FIRST if c.matches(src))
    assert case.name == "conv_backward"
