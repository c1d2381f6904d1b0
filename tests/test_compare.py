"""Comparing returned values: only a valid array within tolerance passes, anything else says why."""

from __future__ import annotations

import numpy as np
import pytest

from grader.compare import check_array, compare_arrays, describe, matches, normwise_error, rel_error
from grader.sandbox import Opaque

EXPECTED = np.arange(6, dtype=np.float64).reshape(2, 3)


def test_rel_error_is_the_notebooks_and_normwise_suits_float32():
    x = np.array([1.0, 0.0])
    assert rel_error(x, x) == 0.0 and rel_error(np.zeros(0), np.zeros(0)) == 0.0
    assert rel_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 2.1)
    # near zero rel_error explodes where normwise does not
    tiny = np.array([100.0, 1e-7], dtype=np.float32)
    assert rel_error(tiny, np.array([100.0, 2e-7])) > 0.3
    assert normwise_error(tiny, np.array([100.0, 2e-7])) < 1e-8


@pytest.mark.parametrize(
    "got, says",
    [
        (
            [[0, 1, 2], [3, 4, 5]],
            "should be a numpy array of shape (2, 3), but it is a list of 2 values",
        ),
        (Opaque("Box", "<Box>"), "an object of type Box (<Box>)"),
        (np.array([["a"] * 3] * 2), "has dtype <U1; a real numeric array was expected"),
        (
            np.zeros((3, 2)),
            "has shape (3, 2), expected (2, 3) (the values may be right, but the shape",
        ),
        (np.zeros((1, 2, 3)), "has shape (1, 2, 3), expected (2, 3) (the values"),
        (np.zeros((2, 2)), "has shape (2, 2), expected (2, 3)"),
    ],
)
def test_anything_but_a_valid_array_is_refused_before_any_arithmetic(got, says):
    mismatch = check_array(got, EXPECTED, "out")
    assert mismatch is not None and says in mismatch.message and mismatch.error is None


def test_a_wrong_shape_of_another_size_says_nothing_about_the_values():
    assert "values may be right" not in check_array(np.zeros((2, 2)), EXPECTED, "out").message


def test_non_finite_values_are_located():
    got = EXPECTED.copy()
    got[1, 2] = np.nan
    mismatch = check_array(got, EXPECTED, "out")
    assert "NaN or inf" in mismatch.message and mismatch.where == [1, 2]


def test_values_are_compared_within_the_tolerance_and_the_worst_entry_is_named():
    assert compare_arrays(EXPECTED + 1e-9, EXPECTED, "out", 1e-6) is not None, "rel_error near 0"
    assert compare_arrays(EXPECTED + 1e-9, EXPECTED, "out", 1e-6, metric="normwise") is None
    got = EXPECTED.copy()
    got[0, 1] += 0.5
    mismatch = compare_arrays(got, EXPECTED, "dx", 1e-6)
    assert mismatch.where == [0, 1] and mismatch.error == pytest.approx(0.5 / 2.5)
    assert (
        "dx differs from the expected values: rel_error 2.00e-01 > tolerance 1e-06"
        in mismatch.message
    )
    assert "largest difference at index (0, 1): got 1.5, expected 1" in mismatch.message
    assert compare_arrays(got, EXPECTED, "dx", 0.3) is None


def test_an_integer_array_of_the_right_values_passes():
    assert compare_arrays(EXPECTED.astype(np.int64), EXPECTED, "out", 1e-12) is None


def test_matches_is_the_hint_probes_test():
    assert matches(EXPECTED.copy(), EXPECTED) and not matches(EXPECTED + 1, EXPECTED)
    assert not matches([0.0], np.zeros(1)) and not matches(np.zeros(2), EXPECTED)


@pytest.mark.parametrize(
    "value, says",
    [
        ((1, 2), "a tuple of 2 values"),
        ({"b": 1, "a": 2}, "a dict with keys ['a', 'b']"),
        (None, "NoneType None"),
        (np.zeros((2, 1), np.float32), "an array of shape (2, 1) and dtype float32"),
    ],
)
def test_describe_never_calls_the_submissions_code(value, says):
    assert describe(value) == says
