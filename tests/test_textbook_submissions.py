"""Textbook-style correct submissions (every naive layer looped over every output index, a
layer_utils.py on the naive layers, a cs231n package whose fast layers need the uncompiled
extension) pass every layer check on any seed."""

from __future__ import annotations

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
