"""Comparing what a submission returned with what it should have returned.

A value passes only on positive evidence: a plain ndarray of a real numeric dtype, finite,
of exactly the expected shape, within tolerance. Everything else yields a `Mismatch` saying
what arrived instead, in words a student can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.sandbox import Opaque


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """The notebook's relative error: max |x - y| / max(1e-8, |x| + |y|), elementwise."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def normwise_error(x: np.ndarray, y: np.ndarray) -> float:
    """max |x - y| / max |y|: the error measure for float32, whose rounding breaks rel_error near
    zero."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y)) / max(1e-8, float(np.max(np.abs(y)))))


METRICS = {"rel_error": rel_error, "normwise": normwise_error}


@dataclass
class Mismatch:
    """Why a returned value is not the expected one; `error`/`where` only when values were compared.

    `summary` says the same without the case (no shapes, indices or values): what a student
    may read about a hidden case.
    """

    message: str
    error: float | None = None
    where: list[int] | None = None
    summary: str = ""


def describe(value: Any) -> str:
    """A short, safe description of a returned value (never calls the submission's code)."""
    if isinstance(value, Opaque):
        return f"an object of type {value.type_name} ({value.summary})"
    if isinstance(value, np.ndarray):
        return f"an array of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} values"
    if isinstance(value, list):
        return f"a list of {len(value)} values"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))[:8]}"
    return f"{type(value).__name__} {value!r}"[:120]


def check_array(got: Any, expected: np.ndarray, name: str) -> Mismatch | None:
    """Validate type, dtype, shape and finiteness before any arithmetic on `got`."""
    if type(got) is not np.ndarray:
        return Mismatch(
            f"{name} should be a numpy array of shape {expected.shape}, but it is {describe(got)}",
            summary=f"{name} is not a numpy array",
        )
    if got.dtype.kind not in "biuf":
        return Mismatch(
            f"{name} has dtype {got.dtype}; a real numeric array was expected",
            summary=f"{name} is not a real numeric array",
        )
    if got.shape != expected.shape:
        extra = ""
        if got.size == expected.size:
            extra = " (the values may be right, but the shape is part of the answer)"
        return Mismatch(
            f"{name} has shape {got.shape}, expected {expected.shape}{extra}",
            summary=f"{name} has the wrong shape",
        )
    if got.dtype.kind == "f" and not np.all(np.isfinite(got)):
        bad = np.argwhere(~np.isfinite(got))[0].tolist()
        return Mismatch(
            f"{name} contains NaN or inf (first at index {bad})",
            where=bad,
            summary=f"{name} contains NaN or inf",
        )
    return None


def compare_arrays(
    got: Any, expected: np.ndarray, name: str, tolerance: float, metric: str = "rel_error"
) -> Mismatch | None:
    """None when `got` matches `expected` within `tolerance` under `metric`."""
    invalid = check_array(got, expected, name)
    if invalid:
        return invalid
    error = METRICS[metric](got, expected)
    if error <= tolerance:
        return None
    where = np.unravel_index(
        int(np.argmax(np.abs(got.astype(np.float64) - expected))), expected.shape
    )
    where_list = [int(i) for i in where]
    got_v, exp_v = (
        float(got[where]) if got.ndim else float(got),
        float(expected[where]) if expected.ndim else float(expected),
    )
    return Mismatch(
        f"{name} differs from the expected values: {metric} {error:.2e} > tolerance"
        f" {tolerance:.0e}; largest difference at index {tuple(where_list)}: got {got_v:.6g},"
        f" expected {exp_v:.6g}",
        error=error,
        where=where_list,
        summary=f"{name} has wrong values",
    )


def matches(
    got: Any, expected: np.ndarray, tolerance: float = 1e-6, metric: str = "rel_error"
) -> bool:
    """True when `got` is a valid array equal to `expected`: the test hint probes use."""
    return (
        check_array(got, expected, "value") is None and METRICS[metric](got, expected) <= tolerance
    )
