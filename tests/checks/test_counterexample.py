"""Counterexamples: on demo bugs, the shrunk input is no larger than the failing case, the code
shown still fails the buggy function, and the course's correct function passes it."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.grading import GradingOptions
from grader.runner import grade_all
from grader.sandbox import Limits
from grader.submission import load

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "submissions"
BUGS = {
    "bug_conv_kernel_flipped": "forward.conv_forward_naive.public",
    "bug_conv_no_bias": "forward.conv_forward_naive.public",
    "bug_maxpool_whole_window": "backward.max_pool_backward_naive.public",
    "bug_bn_unbiased_variance": "forward.spatial_batchnorm_forward.public",
    "bug_conv_dx_not_cropped": "backward.conv_backward_naive.public",
    "bug_groupnorm_modifies_dout": "inputs.spatial_groupnorm_backward.all",
}
# Runs a counterexample's code with `print` capturing what it shows: pairs (yours, expected).
RUN = """
import sys
import numpy as np
shown = []
exec(open(sys.argv[1]).read(), {"print": lambda label, value: shown.append(np.asarray(value))})
if all(v.dtype == bool for v in shown):  # "x changed: ..." lines
    print("differs" if any(shown) else "same")
else:
    pairs = list(zip(shown[::2], shown[1::2]))
    same = all(a.shape == b.shape and np.allclose(a, b, atol=1e-5) for a, b in pairs)
    print("same" if same else "differs")
"""


@pytest.fixture(scope="module")
def graded():
    subs = [load(DEMO / name) for name in BUGS]
    options = GradingOptions(
        seed=0, limits=Limits(call_timeout_s=30), only=tuple(set(BUGS.values()))
    )
    run = grade_all(subs, load_assignment(), options, jobs=2)
    return {sub.id: {c.id: c for c in sub.checks} for sub in run.submissions}


def _run(code: str, folder: Path, tmp_path: Path) -> str:
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(script)],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_counterexample_is_small_fails_the_bug_and_passes_the_solution(
    bug, graded, tmp_path, reference_package
):
    check = graded[bug][BUGS[bug]]
    assert check.status == "failed"
    found = check.details["counterexample"]
    failing = check.details.get("case") or check.details["cases"][0]["case"]
    original = math.prod(failing["x.shape"])
    sizes = found["sizes"]
    assert math.prod(sizes[k] for k in ("N", "C", "H", "W")) <= original
    student = tmp_path / "student"
    shutil.copytree(DEMO / bug, student / "ie590")  # as the notebook imports it
    (student / "ie590" / "__init__.py").touch()
    assert _run(found["code"], student, tmp_path) == "differs"
    solution = reference_package(tmp_path / "solution")
    assert _run(found["code"], solution, tmp_path) == "same"


def test_a_passing_check_has_no_counterexample(graded):
    passing = [c for checks in graded.values() for c in checks.values() if c.status == "passed"]
    assert passing and not any("counterexample" in c.details for c in passing)
