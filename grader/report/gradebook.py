"""The CSV gradebook: one row per submission, its total, and its points and maximum per check group.

Instructors import it into their LMS and their scripts read it, so its columns never move:
the first five (`id, status, total, max, percentage`) stay as they were, then one column per
group of the assignment (forward, backward, inputs, model, training, speed, notebook) always,
then each group's maximum (`forward_max`, ...). A group with no graded check in a submission
(not handed in, not selected, or a submission that could not be graded) is left empty, never
written as 0 points.
"""

from __future__ import annotations

import csv
import io

from grader.report.formatting import GROUP_ORDER, group_scores, groups, points
from grader.results import RunResult, SubmissionResult

FIXED_COLUMNS = ("id", "status", "total", "max", "percentage")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Ids come from students: a leading `=` must not run as a formula in a spreadsheet."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def gradebook_csv(run: RunResult) -> str:
    columns = [*GROUP_ORDER, *(g for g in groups(run.submissions) if g not in GROUP_ORDER)]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *columns, *(f"{g}_max" for g in columns)])
    for sub in run.submissions:
        graded = _graded_groups(sub)
        scores, maxima = [], []
        for group in columns:
            score, maximum = graded.get(group, (None, None))
            scores.append("" if score is None else points(score, 4))
            maxima.append("" if maximum is None else points(maximum, 4))
        writer.writerow(
            [
                spreadsheet_safe(sub.id),
                sub.status,
                points(sub.score, 4),
                points(sub.max_score, 4),
                points(sub.percentage, 4),
                *scores,
                *maxima,
            ]
        )
    return buf.getvalue()


def _graded_groups(sub: SubmissionResult) -> dict[str, tuple[float, float]]:
    """Points and maximum of each group with at least one check that was not skipped."""
    ran = {c.group for c in sub.checks if c.status != "skipped"}
    return {g: totals for g, totals in group_scores(sub).items() if g in ran}
