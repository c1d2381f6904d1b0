"""The class grid: who failed what, one row per submission and one column per function graded.

Columns are the targets of each check group (`forward` / `conv_forward_naive`, ...), in the
assignment's group order; a cell sums the checks of its submission, group and target into one
state: passed, partial, failed, error, not handed in, or not graded (left out by --only/--skip).
Checks worth no points (notebook execution, inline answers graded by hand) are notes and get
no column. Every state has its own symbol and words, so the grid reads without colour.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Sequence

from grader.report.formatting import GROUP_ORDER, points
from grader.results import CheckResult, RunResult, SubmissionResult

STATES = {
    "passed": ("✓", "passed"),
    "partial": ("◐", "partial credit"),
    "failed": ("✗", "failed"),
    "error": ("!", "error (raised, crashed or timed out)"),
    "missing": ("○", "not handed in"),
    "unselected": ("·", "not graded (--only/--skip)"),
}
"""state -> (symbol, words)."""


@dataclass(frozen=True)
class Column:
    group: str
    target: str

    @property
    def label(self) -> str:
        """The target without what the group already says: `conv` under forward, not
        `conv_forward_naive`."""
        label = self.target.removesuffix("_naive").removeprefix("spatial_")
        if self.group in ("forward", "backward"):
            label = label.removesuffix(f"_{self.group}")
        return label


@dataclass(frozen=True)
class Cell:
    state: str
    score: float
    max_score: float
    anchor: str  # the first check's id, to link into the student's page

    @property
    def symbol(self) -> str:
        return STATES[self.state][0]

    @property
    def words(self) -> str:
        return STATES[self.state][1]


def columns(run: RunResult) -> list[Column]:
    """Group, then target, in the order checks first appear; only checks worth points."""
    seen = dict.fromkeys(
        Column(c.group, _target(c)) for s in run.submissions for c in s.checks if c.max_score > 0
    )
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    return sorted(seen, key=lambda col: order.get(col.group, len(order)))


def group_spans(cols: Sequence[Column]) -> list[tuple[str, int]]:
    """(group, number of columns) for the grid's first header row."""
    spans: list[tuple[str, int]] = []
    for col in cols:
        if spans and spans[-1][0] == col.group:
            spans[-1] = (col.group, spans[-1][1] + 1)
        else:
            spans.append((col.group, 1))
    return spans


def row(run: RunResult, sub: SubmissionResult, cols: Sequence[Column]) -> list[Cell | None]:
    """The cells of one submission; None where it has no check of the column at all."""
    by_column: dict[Column, list[CheckResult]] = {}
    for check in sub.checks:
        by_column.setdefault(Column(check.group, _target(check)), []).append(check)
    return [_cell(run.details, by_column[c]) if c in by_column else None for c in cols]


def _cell(run_details: dict[str, Any], checks: list[CheckResult]) -> Cell:
    counted = [c for c in checks if c.max_score > 0] or checks
    graded = [c for c in counted if c.status != "skipped"]
    score = sum(c.score for c in graded)
    max_score = sum(c.max_score for c in graded)
    if not graded:
        selected = any(_selected(run_details, c.id) for c in counted)
        state = "missing" if selected else "unselected"
    elif all(c.status == "passed" for c in graded):
        state = "passed"
    elif any(c.status in ("error", "timeout") for c in graded):
        state = "error"
    else:
        state = "partial" if score > 0 else "failed"
    return Cell(state, score, max_score, counted[0].id)


def _selected(run_details: dict[str, Any], check_id: str) -> bool:
    """Whether the run's --only/--skip (recorded in results.json) chose the check."""
    only = [p for p in run_details.get("only") or [] if isinstance(p, str)]
    skip = [p for p in run_details.get("skip") or [] if isinstance(p, str)]
    if only and not any(fnmatch.fnmatchcase(check_id, p) for p in only):
        return False
    return not any(fnmatch.fnmatchcase(check_id, p) for p in skip)


def _target(check: CheckResult) -> str:
    """The target as the check's id names it (`group.target.cases`), the same for every result."""
    parts = check.id.split(".")
    return parts[1] if len(parts) > 2 else check.target


def title(col: Column, cell: Cell) -> str:
    """A cell's words for a tooltip: the function, the state, and the points when graded."""
    text = f"{col.group} {col.target}: {cell.words}"
    if cell.state not in ("missing", "unselected"):
        text += f", {points(cell.score)} / {points(cell.max_score)} points"
    return text
