"""Speed checks: CPU time against textbook loops, one function charged per check, medians,
re-measurement, and no point for a wrong function."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.checks import speed

LAYER_AND_MODEL = ("forward.*", "backward.*", "inputs.*", "model.*", "speed.*")
NAIVE = (
    "speed.conv_forward_naive.vs_course",
    "speed.conv_backward_naive.vs_course",
    "speed.max_pool_forward_naive.vs_course",
    "speed.max_pool_backward_naive.vs_course",
)
FAST = ("speed.conv_forward_fast.own_fast_layers", "speed.max_pool_forward_fast.own_fast_layers")


@pytest.fixture
def own_fast_layers(tmp_path: Path, reference_package, project_root: Path):
    """The reference as a submission that brings fast_layers.py (NumPy im2col: no compiled
    extension)."""

    def make(fast_source: str | None = None) -> Path:
        package = reference_package(tmp_path) / "ie590"
        shutil.copy(project_root / "reference" / "im2col.py", package / "im2col.py")
        if fast_source is None:
            shutil.copy(project_root / "reference" / "fast_layers.py", package / "fast_layers.py")
        else:
            (package / "fast_layers.py").write_text(fast_source)
        return package.parent

    return make


def test_slow_naive_conv_fails_only_the_conv_speed_check(grading, submissions):
    results = grading.checks(submissions / "slow_naive_conv", *LAYER_AND_MODEL)
    failed = {cid: c for cid, c in results.items() if c.status not in ("passed", "skipped")}
    assert set(failed) == {"speed.conv_forward_naive.vs_course"}, {
        k: c.message for k, c in failed.items()
    }
    check = failed["speed.conv_forward_naive.vs_course"]
    assert "x the CPU time of textbook loops" in check.message and "measured twice" in check.message
    assert len(check.details["cases"][0]["ratios"]) == 2


def test_own_fast_layers_are_checked_and_pass(own_fast_layers, grading):
    results = grading.checks(own_fast_layers(), "speed.*")
    for cid in NAIVE + FAST:
        assert results[cid].status == "passed", results[cid].message


def test_fast_layers_that_are_the_naive_ones_fail_the_speedup(own_fast_layers, grading):
    renamed = (
        "from .layers import conv_forward_naive as conv_forward_fast, conv_backward_naive as"
        " conv_backward_fast\nfrom .layers import max_pool_forward_naive as"
        " max_pool_forward_fast\nfrom .layers import max_pool_backward_naive as"
        " max_pool_backward_fast\n"
    )
    results = grading.checks(own_fast_layers(renamed), "speed.*fast*")
    for cid in FAST:
        assert results[cid].status == "failed"
        assert "faster than the naive version" in results[cid].message


def test_wrong_fast_layers_fail_on_correctness(own_fast_layers, grading, project_root):
    wrong = (
        (project_root / "reference" / "fast_layers.py").read_text()
        + "\n_right = conv_forward_fast\n\n\n"
        + "def conv_forward_fast(x, w, b, conv_param):\n"
        + "    out, cache = _right(x, w, b, conv_param)\n"
        + "    return out + 1e-3, cache\n"
    )
    check = grading.checks(own_fast_layers(wrong), FAST[0])[FAST[0]]
    assert check.status == "failed" and "conv_forward_fast" in check.message


def test_fast_checks_are_skipped_when_the_course_copy_stood_in(grading, submissions):
    results = grading.checks(submissions / "model_reg_sum_bug", "speed.*fast*")
    assert {c.status for c in results.values()} == {"skipped"}


def test_median_ratio_ignores_one_disturbed_round():
    timing = {
        "times": {
            ("student", "forward"): [1.0, 1.0, 9.0, 1.0, 1.0],
            ("textbook", "forward"): [1.0] * 5,
        }
    }
    assert speed._median_ratio(timing, "student", "textbook", "forward") == 1.0


@pytest.fixture
def busy_cores():
    """Two processes spinning on both cores for the length of a test."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for process in spinners:
            process.kill()
            process.wait()


def test_correct_submission_passes_while_both_cores_are_busy(own_fast_layers, busy_cores, grading):
    results = grading.checks(own_fast_layers(), "speed.*")
    for cid in NAIVE + FAST:
        assert results[cid].status == "passed", results[cid].message


def _with_layers(tmp_path: Path, reference_package, replace: dict[str, str]) -> Path:
    """The reference package with some layer functions redefined at the end of layers.py."""
    folder = reference_package(tmp_path)
    layers = folder / "ie590" / "layers.py"
    layers.write_text(layers.read_text() + "\n" + "\n".join(replace.values()))
    return folder


def test_each_check_charges_only_the_function_it_timed(tmp_path, reference_package, grading):
    crashing_backward = {
        "max_pool_backward_naive": "def max_pool_backward_naive(dout, cache):\n"
        "    raise ValueError('not yet')\n"
    }
    folder = _with_layers(tmp_path, reference_package, crashing_backward)
    results = grading.checks(folder, "speed.max_pool_*_naive.*")
    assert results["speed.max_pool_forward_naive.vs_course"].status == "passed"
    assert results["speed.max_pool_backward_naive.vs_course"].status in ("failed", "error")


def test_a_fast_but_wrong_function_earns_no_speed_point(tmp_path, reference_package, grading):
    zeros = {
        "conv_forward_naive": "def conv_forward_naive(x, w, b, conv_param):\n"
        "    s, p = conv_param['stride'], conv_param['pad']\n"
        "    F, _, HH, WW = w.shape\n"
        "    H = 1 + (x.shape[2] + 2 * p - HH) // s\n"
        "    W = 1 + (x.shape[3] + 2 * p - WW) // s\n"
        "    return np.zeros((x.shape[0], F, H, W)), (x, w, b, conv_param)\n"
    }
    folder = _with_layers(tmp_path, reference_package, zeros)
    check = grading.checks(folder, "speed.conv_forward_naive.*")[
        "speed.conv_forward_naive.vs_course"
    ]
    assert check.status == "failed" and check.score == 0
    assert "not earned: the timed call's output is wrong" in check.message
