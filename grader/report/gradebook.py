"""The CSV gradebook: one row per submission with its total and its score per check group."""

from __future__ import annotations

import csv
import io

from grader.report.view import group_scores, groups, points
from grader.results import RunResult

FIXED_COLUMNS = ("id", "status", "total", "max", "percentage")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Ids come from students: a leading `=` must not run as a formula in a spreadsheet."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def gradebook_csv(run: RunResult) -> str:
    columns = groups(run.submissions)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *columns])
    for sub in run.submissions:
        scores = group_scores(sub)
        writer.writerow([spreadsheet_safe(sub.id), sub.status, points(sub.score, 4), points(sub.max_score, 4),
                         points(sub.percentage, 4),
                         *(points(scores[g][0], 4) if g in scores else "" for g in columns)])
    return buf.getvalue()
