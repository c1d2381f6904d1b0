"""Layer checks judge each function on its own evidence, and feedback-only work costs no points."""

from __future__ import annotations

import shutil

import pytest

from grader.assignment import load_assignment
from grader.cases import CaseBook
from grader.oracle import answer


def _submission(tmp_path, source: str):
    (tmp_path / "layers.py").write_text(source)
    return tmp_path


def test_forward_input_safety_does_not_depend_on_the_backward(tmp_path, correct_layers, grading):
    source = correct_layers.replace(
        "def conv_backward_naive(dout, cache):",
        "def conv_backward_naive(dout, cache):\n    raise NotImplementedError\n\ndef _unused(dout,"
        " cache):",
    )
    result = grading.one(
        _submission(tmp_path, source),
        grading.options(only=("inputs.conv_*", "backward.conv_backward_naive.public")),
    )
    statuses = {c.id: c.status for c in result.checks if c.status != "skipped"}
    assert statuses == {
        "inputs.conv_forward_naive.all": "passed",
        "inputs.conv_backward_naive.all": "error",
        "backward.conv_backward_naive.public": "error",
    }
    backward = next(c for c in result.checks if c.id == "backward.conv_backward_naive.public")
    assert "not implemented" in backward.message


def test_a_slow_forward_timing_out_in_the_numeric_gradient_does_not_fail_the_backward(
    tmp_path, correct_layers, grading
):
    head = "def conv_forward_naive(x, w, b, conv_param):\n"
    source = correct_layers.replace(head, head + "    import time\n    time.sleep(0.1)\n", 1)
    result = grading.one(
        _submission(tmp_path, source),
        grading.options(only=("backward.conv_backward_naive.public",), timeout=3),
    )
    assert grading.failing(result) == {}


def test_test_mode_cases_say_so_and_have_no_backward():
    book = CaseBook(load_assignment(), 0, answer)
    case = book.get("spatial_batchnorm", "notebook_test")
    assert case.mode == "test" and case.describe()["bn_param"]["mode"] == "test"
    assert case.ref_grads == ()
    assert book.get("spatial_batchnorm", "notebook_backward").mode == "train"


def test_a_test_mode_case_without_training_calls_is_refused():
    from grader.errors import AssignmentError
    from grader.cases import CaseBook as Book

    assignment = load_assignment()
    assignment.cases["spatial_batchnorm"]["broken"] = {
        "x": {"shape": [2, 3, 2, 2]},
        "gamma": {"shape": [3]},
        "beta": {"shape": [3]},
        "mode": "test",
    }
    with pytest.raises(AssignmentError, match="train_calls"):
        Book(assignment, 0, answer).get("spatial_batchnorm", "broken")


def test_the_submission_time_budget_bounds_a_slow_submission(tmp_path, correct_layers, grading):
    import time

    head = "def conv_forward_naive(x, w, b, conv_param):\n"
    source = correct_layers.replace(head, head + "    import time\n    time.sleep(1.5)\n", 1)
    started = time.monotonic()
    result = grading.one(
        _submission(tmp_path, source),
        grading.options(only=("forward.*",), timeout=10, submission_timeout_s=4),
    )
    assert time.monotonic() - started < 4 + 10 + 5  # one call in flight may finish, no more
    ran_out = [c for c in result.checks if "time budget ran out" in c.message]
    assert ran_out and all(c.status == "timeout" for c in ran_out)


MEMOISING = """

_first_answer = None
_real_conv_forward_naive = conv_forward_naive


def conv_forward_naive(x, w, b, conv_param):
    global _first_answer
    if _first_answer is None:
        _first_answer = _real_conv_forward_naive(x, w, b, conv_param)
    return _first_answer
"""


def test_a_function_that_memoises_its_first_answer_fails(tmp_path, grading, submissions):
    """Each case calls the function on other inputs first, in the same process."""
    folder = tmp_path / "memo"
    shutil.copytree(submissions / "correct_folder", folder)
    (folder / "layers.py").write_text((folder / "layers.py").read_text() + MEMOISING)
    results = grading.checks(folder, "forward.conv_forward_naive.*", "forward.relu_forward.*")
    assert results["forward.conv_forward_naive.public"].status == "failed"
    assert results["forward.conv_forward_naive.hidden"].score == 0
    assert results["forward.relu_forward.hidden"].status == "passed"
