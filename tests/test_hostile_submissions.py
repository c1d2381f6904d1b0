"""Hostile and broken submissions are contained: each fails with a reason; others' grades stand."""

from __future__ import annotations

import json
import shutil
import textwrap
from typing import Callable

import pytest

CONV_CHECKS = (
    "forward.conv_forward_naive.*",
    "backward.conv_backward_naive.public",
    "inputs.conv_forward_naive.all",
)


def _with_conv_forward(correct: str, body: str) -> str:
    """The correct layers.py whose conv_forward_naive first runs `body`."""
    head = "def conv_forward_naive(x, w, b, conv_param):\n"
    return correct.replace(head, head + textwrap.indent(textwrap.dedent(body), "    "), 1)


# Each hostile layers.py, made from the correct one.
HOSTILE: dict[str, Callable[[str], str]] = {
    "loop_at_import": lambda correct: "while True:\n    pass\n" + correct,
    "loop_in_function": lambda correct: _with_conv_forward(correct, "while True:\n    pass\n"),
    "exit_at_import": lambda correct: "import sys\nsys.exit(0)\n" + correct,
    "os_exit_mid_check": lambda correct: _with_conv_forward(correct, "import os\nos._exit(0)\n"),
    "segfault": lambda correct: _with_conv_forward(correct, "import ctypes\nctypes.string_at(0)\n"),
    "huge_allocation": lambda correct: _with_conv_forward(
        correct, "import numpy as _np\n_big = _np.ones(20 * 2**30, dtype=_np.uint8)\n"
    ),
    "floods_output": lambda correct: "print('x' * 5_000_000)\n" + correct,
    "imports_reference": lambda correct: "from reference.layers import *\n",
    "deletes_its_files": lambda correct: _with_conv_forward(
        correct,
        "import os, glob\nfor f in glob.glob('**/*.py', recursive=True):\n    os.remove(f)\n",
    ),
    "syntax_error": lambda correct: correct.replace(
        "def relu_forward(x):", "def relu_forward(x) oops:"
    ),
}


@pytest.fixture(scope="module")
def class_run(tmp_path_factory, correct_layers, grading, submissions):
    folder = tmp_path_factory.mktemp("class")
    for name, make in HOSTILE.items():
        (folder / name).mkdir()
        (folder / name / "layers.py").write_text(make(correct_layers))
    shutil.copytree(submissions / "correct_folder", folder / "zz_correct")
    results = folder.parent / "results.json"
    run = grading.folder(
        folder, grading.options(seed=3, only=CONV_CHECKS, timeout=4.0), results_path=results
    )
    return {s.id: s for s in run.submissions}, results


def test_the_run_completes_and_the_correct_submission_keeps_full_marks(class_run, grading):
    subs, results = class_run
    assert set(subs) == set(HOSTILE) | {"zz_correct"}
    correct = subs["zz_correct"]
    assert grading.failing(correct) == {} and correct.score == correct.max_score > 0
    on_disk = json.loads(results.read_text())
    assert [s["id"] for s in on_disk["submissions"]] == sorted(subs)


@pytest.mark.parametrize("name", sorted(set(HOSTILE) - {"deletes_its_files", "floods_output"}))
def test_hostile_submission_scores_zero_on_what_it_broke(class_run, name):
    result = class_run[0][name]
    conv_forward = [c for c in result.checks if c.id.startswith("forward.conv_forward_naive")]
    assert conv_forward and all(c.status != "passed" and c.score == 0 for c in conv_forward)
    assert all(c.message for c in conv_forward)


@pytest.mark.parametrize(
    "name, status, words",
    [
        ("loop_at_import", "timeout", "timed out"),
        ("loop_in_function", "timeout", "timed out"),
        ("exit_at_import", "error", "exit"),
        ("os_exit_mid_check", "error", "exit"),
        ("segfault", "error", "SIGSEGV"),
        ("huge_allocation", "error", "memory"),
        ("imports_reference", "error", "not available to submissions"),
        ("syntax_error", "error", "SyntaxError"),
    ],
)
def test_failure_reason_is_reported(class_run, name, status, words):
    check = next(
        c for c in class_run[0][name].checks if c.id == "forward.conv_forward_naive.public"
    )
    assert check.status == status
    assert words.lower() in (check.message + check.details.get("traceback", "")).lower()


def test_output_flood_does_not_fail_a_correct_function(class_run, grading):
    result = class_run[0]["floods_output"]
    assert grading.failing(result) == {}
    printed = result.details["stdout"]
    assert printed.startswith("xxxx") and len(printed) < 10_000  # shown to the student, truncated


def test_deleting_own_files_only_hurts_itself(class_run):
    result = class_run[0]["deletes_its_files"]
    first = next(c for c in result.checks if c.id == "forward.conv_forward_naive.public")
    assert first.status == "passed"  # the damage shows only in its own later calls
    assert class_run[0]["zz_correct"].score == class_run[0]["zz_correct"].max_score


def test_a_timed_out_function_is_not_run_again_for_every_case(class_run):
    result = class_run[0]["loop_in_function"]
    assert result.duration_s < 4.0 * 4
    hidden = next(c for c in result.checks if c.id == "forward.conv_forward_naive.hidden")
    assert "timed out" in hidden.message
