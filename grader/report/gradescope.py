"""Gradescope autograder results, one file per submission.

Schema: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (top-level `score`,
`execution_time`, `output`, `visibility`, `stdout_visibility`, `tests`). Gradescope has
only "passed"/"failed", so errors, timeouts and skips are "failed" with the reason in
`output`. Instructor-only notes (review flags) go to `extra_data`, which students never see.
"""

from __future__ import annotations

import json
import math
from typing import Any

from grader.report.formatting import check_text, percent, points, strings
from grader.results import CheckResult, SubmissionResult

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


def check_visibility(value: str) -> str:
    if value not in VISIBILITIES:
        raise ValueError(
            f"unknown Gradescope visibility {value!r}; choose one of {', '.join(VISIBILITIES)}"
        )
    return value


def gradescope_results(
    sub: SubmissionResult, *, hidden_visibility: str = "after_published", show_hidden: bool = False
) -> dict[str, Any]:
    """The results.json Gradescope expects for one submission."""
    check_visibility(hidden_visibility)
    return {
        "score": sub.score,
        "execution_time": math.ceil(sub.duration_s),
        "output": submission_output(sub),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [_test(c, hidden_visibility, show_hidden) for c in sub.checks],
        "extra_data": {
            "submission": sub.id,
            "sha256": sub.sha256,
            "status": sub.status,
            "review": strings(sub.details.get("review")),
        },
    }


def submission_output(sub: SubmissionResult) -> str:
    lines = [f"Score: {points(sub.score)} / {points(sub.max_score)} ({percent(sub.percentage)}%)"]
    if sub.error:
        lines.append(f"Grading error: {sub.error}")
    substituted = strings(sub.details.get("substituted"))
    if substituted:
        lines.append(
            "Course files used because yours were missing or did not import: "
            + ", ".join(substituted)
        )
    protections = strings(sub.details.get("protections"))
    if protections:
        lines.append("Your code ran in a sandbox with: " + ", ".join(protections))
    return "\n".join(lines)


def _test(check: CheckResult, hidden_visibility: str, show_hidden: bool) -> dict[str, Any]:
    """One Gradescope test; a skipped check is worth nothing there and has no pass/fail status."""
    test = {
        "name": check.name,
        "score": check.score,
        "max_score": 0.0 if check.status == "skipped" else check.max_score,
        "visibility": hidden_visibility if check.visibility == "hidden" else "visible",
        "output": check_text(check, show_hidden),
        "output_format": "text",
        "tags": [check.group, check.target],
        "extra_data": {"id": check.id, "status": check.status},
    }
    if check.status != "skipped":
        test["status"] = "passed" if check.status == "passed" else "failed"
    return test


def gradescope_json(sub: SubmissionResult, **options: Any) -> str:
    return json.dumps(gradescope_results(sub, **options), indent=2, allow_nan=False) + "\n"
