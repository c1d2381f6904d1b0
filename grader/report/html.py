"""The instructor's class page and one page per student, rendered from a RunResult only.

Pages are self-contained (inline CSS, SVG and PNG), readable without JavaScript and on a
phone. Everything a template needs is prepared here as plain values so templates hold no
logic beyond loops; class-wide numbers are counts of statuses, never re-graded scores.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from grader.report import charts, grid
from grader.report.markdown import markdown_html
from grader.report.formatting import (
    counterexample,
    as_list,
    case_items,
    error_line,
    group_scores,
    groups,
    import_problems,
    inline_answers,
    page_stems,
    percent,
    points,
    printable,
    reveals_case,
    seconds,
    shown_hint,
    shown_message,
    status_label,
    status_text,
    strings,
    visible_details,
)
from grader.results import CheckResult, RunResult, SubmissionResult, write_text_atomic

TEMPLATES = Path(__file__).parent / "templates"
TOP_HINTS = 3


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_printable,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(points=points, percent=percent, seconds=seconds, status_label=status_label)
    return env


def _printable(value: Any) -> Any:
    """Every value a template prints passes here; markup we built ourselves is left alone."""
    return value if isinstance(value, Markup) or not isinstance(value, str) else printable(value)


@dataclass
class CheckStats:
    """How the class did on one check: counts of statuses and the hints students got."""

    id: str
    name: str
    max_score: float
    visibility: str
    statuses: Counter = field(default_factory=Counter)
    hints: Counter = field(default_factory=Counter)

    @property
    def n(self) -> int:
        """Submissions that ran the check: a skipped check says nothing about the concept."""
        return sum(count for status, count in self.statuses.items() if status != "skipped")

    @property
    def passed(self) -> int:
        return self.statuses["passed"]

    @property
    def pass_rate(self) -> float | None:
        return 100.0 * self.passed / self.n if self.n else None

    def top_hints(self) -> list[tuple[str, int]]:
        return self.hints.most_common(TOP_HINTS)


def check_stats(run: RunResult) -> list[CheckStats]:
    """Per-check pass rates over the submissions that ran the check, lowest rate first."""
    stats: dict[str, CheckStats] = {}
    for sub in run.submissions:
        for c in sub.checks:
            s = stats.setdefault(c.id, CheckStats(c.id, c.name, c.max_score, c.visibility))
            s.statuses[c.status] += 1
            if c.status != "passed" and c.hint:
                s.hints[c.hint] += 1
    return sorted(stats.values(), key=lambda s: (s.pass_rate is None, s.pass_rate or 0.0))


@dataclass
class CheckCard:
    """One check as the student page shows it."""

    check: CheckResult
    message: str
    hint: str | None
    reveals_case: bool
    case: list[tuple[str, str]]
    expected: str | None
    got: str | None
    traceback: str | None
    cases: list[dict[str, Any]]
    error_line: str | None
    charts: list[Markup]
    filters: charts.FilterGrid | None
    counterexample: str | None = None


def check_card(check: CheckResult, show_hidden: bool) -> CheckCard:
    details = visible_details(check, show_hidden)
    cases = [
        {
            "status": str(c.get("status", "")),
            "case": case_items(c.get("case")),
            "message": str(c.get("message", "")),
        }
        for c in as_list(details.get("cases"))
        if isinstance(c, Mapping)
    ]
    filters = details.get("first_layer_filters")
    return CheckCard(
        check=check,
        message=shown_message(check, show_hidden),
        hint=shown_hint(check, show_hidden),
        reveals_case=reveals_case(check, show_hidden),
        case=case_items(details.get("case")),
        cases=cases,
        expected=_text_or_none(details.get("expected")),
        got=_text_or_none(details.get("got")),
        traceback=_text_or_none(details.get("traceback")),
        error_line=error_line(details) if details.get("max_error") is not None else None,
        charts=history_charts(details.get("history")),
        filters=charts.filter_grid(filters) if filters is not None else None,
        counterexample=counterexample(details),
    )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def history_charts(history: Any) -> list[Markup]:
    """The notebook's two training plots: loss per iteration, accuracies per epoch."""
    if not isinstance(history, Mapping):
        return []
    out = []
    loss = as_list(history.get("loss"))
    if loss:
        out.append(
            charts.line_chart_svg(
                {"loss": loss}, title="Training loss", x_label="iteration", y_label="loss"
            )
        )
    accuracies = {
        name: as_list(history.get(key))
        for name, key in (("train", "train_acc"), ("val", "val_acc"))
    }
    accuracies = {name: values for name, values in accuracies.items() if values}
    if accuracies:
        out.append(
            charts.line_chart_svg(accuracies, title="Accuracy", x_label="epoch", y_label="accuracy")
        )
    return out


def relative_link(path: Any) -> str | None:
    """A link to a file next to the report, or None: no schemes, hosts or absolute paths."""
    if not isinstance(path, str) or not path.strip():
        return None
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or path.startswith(("/", "\\")):
        return None
    return quote(path)


def student_context(run: RunResult, sub: SubmissionResult, *, show_hidden: bool) -> dict[str, Any]:
    scores = group_scores(sub)
    sections = [
        {
            "group": g,
            "score": scores[g][0],
            "max_score": scores[g][1],
            "skipped": all(c.status == "skipped" for c in sub.checks if c.group == g),
            "cards": [check_card(c, show_hidden) for c in sub.checks if c.group == g],
        }
        for g in groups([sub])
    ]
    d = sub.details
    return {
        "run": run,
        "sub": sub,
        "sections": sections,
        "passed": sum(c.status == "passed" for c in sub.checks),
        "notebook": relative_link(d.get("notebook")),
        "import_problems": import_problems(sub),
        "answers": [
            {
                **a,
                "question": markdown_html(printable(a["question"])),
                "answer": markdown_html(printable(a["answer"])),
            }
            for a in inline_answers(d)
        ],
        "substituted": strings(d.get("substituted")),
        "protections": strings(d.get("protections")),
        "stdout": str(d.get("stdout") or ""),
    }


def index_context(run: RunResult, stems: list[str]) -> dict[str, Any]:
    cols = grid.columns(run)
    rows = [
        {
            "sub": s,
            "page": f"{stem}.html",
            "status": status_text(s),
            "broken": [p.where() for p in import_problems(s)],
            "passed": sum(c.status == "passed" for c in s.checks),
            "review": strings(s.details.get("review")),
            "cells": [
                None if cell is None else {"cell": cell, "title": grid.title(col, cell)}
                for col, cell in zip(cols, grid.row(run, s, cols))
            ],
        }
        for s, stem in zip(run.submissions, stems)
    ]
    facts = [(k, v) for k, v in run.details.items() if isinstance(v, (str, int, float, bool))]
    return {
        "run": run,
        "rows": rows,
        "stats": check_stats(run),
        "facts": facts,
        "columns": cols,
        "spans": grid.group_spans(cols),
        "states": grid.STATES,
        "histogram": charts.histogram_svg([s.percentage for s in run.submissions]),
    }


def render_html(run: RunResult, out_dir: Path, *, show_hidden: bool = False) -> list[Path]:
    """Write index.html and one page per submission; return their paths."""
    env = environment()
    stems = page_stems(run)
    index = out_dir / "index.html"
    write_text_atomic(index, env.get_template("index.html").render(index_context(run, stems)))
    pages = [index]
    student = env.get_template("student.html")
    for sub, stem in zip(run.submissions, stems):
        page = out_dir / f"{stem}.html"
        write_text_atomic(page, student.render(student_context(run, sub, show_hidden=show_hidden)))
        pages.append(page)
    return pages
