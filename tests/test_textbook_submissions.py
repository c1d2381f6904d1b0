"""Textbook-style correct submissions (every naive layer looped over every output index, a
layer_utils.py on the naive layers, a cs231n package whose fast layers need the uncompiled
extension) pass every layer check on any seed."""

from __future__ import annotations

import subprocess

import pytest


TEXTBOOK = ("textbook_loops", "textbook_naive_sandwich", "cs231n_style")


@pytest.mark.parametrize("seed", [0, 987654321])
def test_textbook_submissions_pass_every_layer_check(seed, grading, submissions):
    run = grading.paths([submissions / name for name in TEXTBOOK], grading.options(seed=seed))
    for result in run.submissions:
        assert result.status == "graded", result.error
        assert grading.failing(result) == {}, result.id
        assert result.score == pytest.approx(result.max_score) and result.max_score > 80


def test_the_cs231n_package_runs_on_the_course_fast_layers(grading, submissions):
    only = ("forward.conv_relu_*",)
    run = grading.paths([submissions / "cs231n_style"], grading.options(seed=0, only=only))
    result = run.submissions[0]
    assert result.details["package"] == "cs231n"
    assert "fast_layers" in result.details["substituted"]
    assert grading.failing(result) == {}


@pytest.fixture
def two_busy_loops():
    """`yes > /dev/null` twice: both cores busy for the length of a test."""
    loops = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(2)]
    try:
        yield
    finally:
        for process in loops:
            process.kill()
            process.wait()


def _every_check_but_training(grading, submissions, seed: int) -> dict[str, dict[str, float]]:
    opts = grading.options(seed=seed, only=(), skip=("training.*",), timeout=60.0)
    run = grading.paths([submissions / name for name in TEXTBOOK], opts)
    for result in run.submissions:
        assert result.status == "graded", result.error
        assert grading.failing(result) == {}, (result.id, seed)
        assert result.score == pytest.approx(result.max_score), (result.id, seed)
    return {r.id: {c.id: c.score for c in r.checks} for r in run.submissions}


@pytest.mark.slow
def test_textbook_submissions_score_the_full_maximum_idle_and_busy(grading, submissions, request):
    """Model and speed checks included: textbook code loses nothing to slowness or to load, and
    every check scores the same whether the machine is idle or both cores are busy."""
    _every_check_but_training(grading, submissions, 987654321)
    idle = _every_check_but_training(grading, submissions, 0)
    request.getfixturevalue("two_busy_loops")
    assert _every_check_but_training(grading, submissions, 0) == idle
