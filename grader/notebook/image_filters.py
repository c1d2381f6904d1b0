"""Grading the image-processing aside: the two 3x3 filters the students fill in.

`w[2]` must detect vertical edges in the green channel only (Sobel-like: antisymmetric
left-right, so it sums to zero, and symmetric top-bottom); `w[3]` must smooth the red
channel only with a Gaussian (non-negative, symmetric, peak at the centre, sums to about 1).
Each problem found is explained, so a student knows what to change.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from grader.results import CheckResult

CHANNELS = ("red", "green", "blue")
ATOL = 1e-6
SUM_TOLERANCE = 0.05


def vertical_edge_problems(filt: np.ndarray) -> list[str]:
    """What keeps `filt` (3, 3, 3) from being a green-channel vertical-edge detector."""
    return _filter_problems(filt, 1, _vertical_edge_kernel)


def gaussian_problems(filt: np.ndarray) -> list[str]:
    """What keeps `filt` (3, 3, 3) from being a red-channel Gaussian smoothing kernel."""
    return _filter_problems(filt, 0, _gaussian_kernel)


def _filter_problems(
    filt: np.ndarray, channel: int, kernel_problems: Callable[[np.ndarray], list[str]]
) -> list[str]:
    """What every filter of the aside can get wrong, then what its own kernel gets wrong."""
    if _untouched(filt):
        return ["all zeros: the TODO was left untouched"]
    name, problems = CHANNELS[channel], []
    others = [CHANNELS[c] for c in range(3) if c != channel and not _untouched(filt[c])]
    if others:
        problems.append(
            f"it also uses the {' and '.join(others)} channel; only {name} should be non-zero"
        )
    if _untouched(filt[channel]):
        return problems + [f"the {name} channel is all zeros"]
    return problems + kernel_problems(filt[channel])


def _untouched(kernel: np.ndarray) -> bool:
    return not np.any(np.abs(kernel) > ATOL)


def _vertical_edge_kernel(kernel: np.ndarray) -> list[str]:
    if not np.allclose(kernel[:, ::-1], -kernel, atol=ATOL):
        if np.allclose(kernel[::-1, :], -kernel, atol=ATOL):
            return [
                "it detects horizontal edges (top-bottom antisymmetric); "
                "a vertical-edge filter is its transpose"
            ]
        return [
            "it is not antisymmetric left-right (right column = -left column, "
            f"middle column 0), so it does not respond to vertical edges only; "
            f"its sum is {kernel.sum():.3g}"
        ]
    if not np.allclose(kernel[::-1, :], kernel, atol=ATOL):
        return ["it is not symmetric top-bottom like a Sobel filter, so it mixes in diagonal edges"]
    return []


def _gaussian_kernel(kernel: np.ndarray) -> list[str]:
    problems = []
    if np.any(kernel < -ATOL):
        problems.append("it has negative weights; a Gaussian is non-negative")
    if not (
        np.allclose(kernel, kernel.T, atol=ATOL)
        and np.allclose(kernel, kernel[::-1, ::-1], atol=ATOL)
        and np.allclose(kernel, kernel[:, ::-1], atol=ATOL)
    ):
        problems.append("it is not symmetric; a Gaussian looks the same flipped and transposed")
    rest = np.delete(kernel.ravel(), 4)
    if not np.all(kernel[1, 1] > rest + ATOL):
        problems.append(
            "its peak is not (only) at the centre: a Gaussian weighs the centre pixel most"
        )
    elif kernel[0, 1] <= ATOL:
        problems.append("only the centre weight is non-zero, so it does not smooth at all")
    elif not kernel[0, 1] + ATOL >= kernel[0, 0]:
        problems.append(
            "the corners weigh more than the edge middles; a Gaussian falls off with distance"
        )
    if abs(kernel.sum() - 1) > SUM_TOLERANCE:
        problems.append(
            f"it sums to {kernel.sum():.4g}, not 1, so it changes the brightness "
            f"(divide by {kernel.sum():.4g})"
        )
    return problems


def _check(check_id: str, name: str, problems: list[str], points: float) -> CheckResult:
    return CheckResult(
        id=check_id,
        target="notebook",
        name=name,
        status="failed" if problems else "passed",
        score=0.0 if problems else points,
        max_score=points,
        message="; ".join(problems) if problems else "correct",
    )


def grade_image_filters(
    w: np.ndarray | None, missing_reason: str, points: dict[str, float]
) -> list[CheckResult]:
    """The two aside checks from `w` as the aside cell left it (None when it could not be read)."""
    specs = (
        (
            "notebook.aside.vertical_edge",
            "Aside: vertical-edge filter (green channel)",
            2,
            vertical_edge_problems,
        ),
        (
            "notebook.aside.gaussian",
            "Aside: Gaussian smoothing filter (red channel)",
            3,
            gaussian_problems,
        ),
    )
    checks = []
    for check_id, name, index, problems_of in specs:
        if w is None:
            problems = [missing_reason]
        elif w.shape != (4, 3, 3, 3) or not np.all(np.isfinite(w)):
            problems = [
                f"w has shape {w.shape}; the aside expects 4 finite filters of shape (3, 3, 3)"
            ]
        else:
            problems = problems_of(w[index])
        checks.append(_check(check_id, name, problems, points.get(check_id, 1.0)))
    return checks
