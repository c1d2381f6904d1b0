"""The aside's two filters: right ones pass, and each wrong one is explained."""

from __future__ import annotations

import numpy as np
import pytest

from grader.notebook import image_filters


def _filters(vertical: list[list[float]], gaussian: list[list[float]]) -> np.ndarray:
    w = np.zeros((4, 3, 3, 3))
    w[2, 1], w[3, 0] = vertical, gaussian
    return w


SOBEL = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
GAUSS = (np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16).tolist()


def test_correct_filters_pass() -> None:
    checks = image_filters.grade_image_filters(_filters(SOBEL, GAUSS), "", {})
    assert [c.status for c in checks] == ["passed", "passed"]
    assert [c.id for c in checks] == ["notebook.aside.vertical_edge", "notebook.aside.gaussian"]


def test_untouched_filters_say_so() -> None:
    checks = image_filters.grade_image_filters(np.zeros((4, 3, 3, 3)), "", {})
    assert all(c.status == "failed" and "TODO was left untouched" in c.message for c in checks)


@pytest.mark.parametrize(
    "kernel, expected",
    [
        (np.array(SOBEL).T.tolist(), "horizontal edges"),
        ([[1, 0, -1], [0, 0, 0], [0, 0, 0]], "not symmetric top-bottom"),
        ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], "not antisymmetric"),
    ],
)
def test_wrong_vertical_edge_filters_are_explained(kernel: list, expected: str) -> None:
    assert any(
        expected in p for p in image_filters.vertical_edge_problems(_filters(kernel, GAUSS)[2])
    )


def test_edge_filter_on_the_wrong_channel() -> None:
    w = _filters(SOBEL, GAUSS)
    w[2, 0] = SOBEL
    assert any("red" in p for p in image_filters.vertical_edge_problems(w[2]))


@pytest.mark.parametrize(
    "kernel, expected",
    [
        ((np.array(GAUSS) * 16).tolist(), "sums to 16"),
        ([[1 / 9] * 3] * 3, "peak is not (only) at the centre"),
        ([[0, 0, 0], [0, 1, 0], [0, 0, 0]], "does not smooth"),
        ([[0.1, 0.1, 0.1], [0.1, 0.3, -0.1], [0.1, 0.1, 0.1]], "negative"),
    ],
)
def test_wrong_gaussians_are_explained(kernel: list, expected: str) -> None:
    assert any(expected in p for p in image_filters.gaussian_problems(_filters(SOBEL, kernel)[3]))


def test_missing_w_gives_the_reason() -> None:
    checks = image_filters.grade_image_filters(
        None, "the notebook has no aside cell", {"notebook.aside.gaussian": 2.0}
    )
    assert checks[1].message == "the notebook has no aside cell" and checks[1].max_score == 2.0
