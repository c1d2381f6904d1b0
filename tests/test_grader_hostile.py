"""Hostile and broken submissions are contained: each fails with a reason, the others' grades stand."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tests.grading_helpers import SUBMISSIONS, failing, grade_folder, options

CORRECT = (SUBMISSIONS / "correct_folder" / "layers.py").read_text()
CONV_CHECKS = ("forward.conv_forward_naive.*", "backward.conv_backward_naive.public", "inputs.conv_forward_naive.all")


def _with_conv_forward(body: str) -> str:
    """The correct layers.py whose conv_forward_naive first runs `body`."""
    head = "def conv_forward_naive(x, w, b, conv_param):\n"
    return CORRECT.replace(head, head + textwrap.indent(textwrap.dedent(body), "    "), 1)


HOSTILE = {
    "loop_at_import": "while True:\n    pass\n" + CORRECT,
    "loop_in_function": _with_conv_forward("while True:\n    pass\n"),
    "exit_at_import": "import sys\nsys.exit(0)\n" + CORRECT,
    "os_exit_mid_check": _with_conv_forward("import os\nos._exit(0)\n"),
    "segfault": _with_conv_forward("import ctypes\nctypes.string_at(0)\n"),
    "huge_allocation": _with_conv_forward("import numpy as _np\n_big = _np.ones(20 * 2**30, dtype=_np.uint8)\n"),
    "floods_output": "print('x' * 5_000_000)\n" + CORRECT,
    "imports_reference": "from reference.layers import *\n",
    "deletes_its_files": _with_conv_forward("import os, glob\nfor f in glob.glob('**/*.py', recursive=True):\n    os.remove(f)\n"),
    "syntax_error": CORRECT.replace("def relu_forward(x):", "def relu_forward(x) oops:"),
}


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    for name, source in HOSTILE.items():
        (folder / name).mkdir()
        (folder / name / "layers.py").write_text(source)
    shutil.copytree(SUBMISSIONS / "correct_folder", folder / "zz_correct")
    results = folder.parent / "results.json"
    run = grade_folder(folder, options(seed=3, only=CONV_CHECKS, timeout=4.0), results_path=results)
    return {s.id: s for s in run.submissions}, results


def test_the_run_completes_and_the_correct_submission_keeps_full_marks(class_run):
    subs, results = class_run
    assert set(subs) == set(HOSTILE) | {"zz_correct"}
    correct = subs["zz_correct"]
    assert failing(correct) == {} and correct.score == correct.max_score > 0
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
    check = next(c for c in class_run[0][name].checks if c.id == "forward.conv_forward_naive.public")
    assert check.status == status
    assert words.lower() in (check.message + check.details.get("traceback", "")).lower()


def test_output_flood_does_not_fail_a_correct_function(class_run):
    result = class_run[0]["floods_output"]
    assert failing(result) == {}
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
