"""What the terminal shows: one line per check, then a summary that puts the mistakes first.

`grader check` prints every check on one line, a module that does not import once (file, line
and caret) with the checks it stopped marked as not run, tracebacks once each, and then the
summary: failures with their hints, the checks not run and why, notes (checks worth no
points), advice, and one line of totals with the seed and the command that reproduces the run.
`-q` prints the summary alone. Words, not colours alone, carry every status; a hidden check
shows which function failed and how, never its case, unless the instructor asks.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from typing import Callable, Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.import_errors import ImportProblem
from grader.report.formatting import (
    counterexample,
    visible_details,
    import_problems,
    points,
    seconds,
    shown_hint,
    shown_message,
    status_text,
)
from grader.results import CheckResult, RunResult, SubmissionResult

MARKS = {
    "passed": "PASS",
    "failed": "FAIL",
    "error": "ERROR",
    "timeout": "TIMEOUT",
    "skipped": "SKIP",
    "not run": "NOT RUN",
    "note": "NOTE",
}
STYLES = {"passed": "green", "skipped": "dim", "note": "yellow"}
FAILING = ("failed", "error", "timeout", "not run")
TRACEBACK_LINES = 12


def outcome(check: CheckResult) -> str:
    """A check's status as a reader should take it.

    "not run" when the module of its function does not import (the mistake is shown once,
    elsewhere); "note" when it did not pass but is worth no points, so it costs nothing.
    """
    if check.status in ("passed", "skipped"):
        return check.status
    if check.max_score == 0:
        return "note"
    return "not run" if check.details.get("import_error") else check.status


def failed(sub: SubmissionResult) -> bool:
    return any(outcome(c) in FAILING for c in sub.checks)


def print_check(
    console: Console,
    sub: SubmissionResult,
    *,
    seed: int,
    reproduce: str,
    show_hidden: bool,
    quiet: bool,
    selected: Callable[[str], bool] = lambda check_id: True,
    advice: Sequence[str] = (),
) -> None:
    """The whole feedback of `grader check` for one submission (or only its summary).

    Checks `selected` leaves out (--only/--skip) are counted in one line, not listed.
    """
    problems = import_problems(sub)
    chosen = [c for c in sub.checks if selected(c.id)]
    if not quiet and sub.status == "graded":
        _print_problems(console, problems)
        _print_checks(console, chosen, show_hidden)
        if len(chosen) < len(sub.checks):
            say(
                console,
                f"   SKIP  {len(sub.checks) - len(chosen)} checks not selected by --only/--skip",
                "dim",
            )
    _print_summary(
        console,
        sub,
        problems,
        show_hidden=show_hidden,
        excerpts=quiet,
        advice=advice,
        unselected=len(sub.checks) - len(chosen),
    )
    say(console, f"seed {seed}; to reproduce this run: {reproduce}", "bold")


def say(console: Console, text: str, style: str = "") -> None:
    body = escape(text)
    console.print(f"[{style}]{body}[/]" if style else body, highlight=False, soft_wrap=True)


def _print_problems(console: Console, problems: list[ImportProblem]) -> None:
    for problem in problems:
        say(
            console,
            f"{problem.where()}: the module does not import, so the checks of its functions "
            "could not run:",
            "bold red",
        )
        say(console, problem.excerpt())
        console.print()


def _print_checks(console: Console, checks: Iterable[CheckResult], show_hidden: bool) -> None:
    shown_tracebacks: set[str] = set()
    for check in checks:
        kind = outcome(check)
        line = f"{MARKS[kind]:>7}  {_points(check, kind):>9}  {check.id}: "
        say(console, line + _message(check, kind, show_hidden), STYLES.get(kind, "red"))
        trace = str(check.details.get("traceback") or "").strip()
        if kind in ("error", "timeout") and trace:
            if trace in shown_tracebacks:
                say(console, "           | (the same traceback as above)")
            else:
                shown_tracebacks.add(trace)
                say(
                    console,
                    "\n".join(
                        "           | " + line for line in trace.splitlines()[-TRACEBACK_LINES:]
                    ),
                )


def _points(check: CheckResult, kind: str) -> str:
    """Points a check earned; skipped and zero-point checks cost nothing, and say so."""
    if kind in ("skipped", "note"):
        return "-"
    return f"{points(check.score)}/{points(check.max_score)}"


def _message(check: CheckResult, kind: str, show_hidden: bool) -> str:
    message = shown_message(check, show_hidden)
    if kind == "skipped" and check.max_score:
        worth = points(check.max_score)
        return f"{worth} point{'' if worth == '1' else 's'} not counted: {message}"
    if kind == "note":
        return f"worth no points: {message}"
    if kind == "not run":
        problem = ImportProblem.from_json(check.details.get("import_error"))
        where = problem.file if problem and problem.file else "its module"
        return f"{where} does not import (see above)"
    return message


def _print_summary(
    console: Console,
    sub: SubmissionResult,
    problems: list[ImportProblem],
    *,
    show_hidden: bool,
    excerpts: bool,
    advice: Sequence[str],
    unselected: int,
) -> None:
    console.rule("summary", style="dim")
    for text in advice:
        say(console, f"note: {text}", "bold yellow")
    if sub.status == "error":
        say(console, f"cannot grade {sub.id}: {sub.error or 'no reason given'}", "bold red")
        return
    kinds = Counter(outcome(c) for c in sub.checks)
    for problem in problems:
        stopped = sum(
            1
            for c in sub.checks
            if outcome(c) == "not run"
            and ImportProblem.from_json(c.details.get("import_error")) == problem
        )
        if not stopped:
            continue
        say(
            console,
            f"NOT RUN  {stopped} checks, because {problem.file or problem.module} does not import: "
            f"{problem.message}" + (f" (line {problem.line})" if problem.line is not None else ""),
            "red",
        )
        if excerpts:
            say(console, problem.excerpt())
    for check in sub.checks:
        kind = outcome(check)
        if kind in ("failed", "error", "timeout"):
            say(
                console,
                f"{MARKS[kind]:>7}  {check.id} ({_points(check, kind)}): "
                f"{shown_message(check, show_hidden)}",
                "red",
            )
            if check.hint:
                say(console, f"         hint: {shown_hint(check, show_hidden)}")
            example = counterexample(visible_details(check, show_hidden))
            if example:
                say(console, textwrap.indent(example, " " * 9), "cyan")
    for check in sub.checks:
        if outcome(check) == "note":
            say(
                console,
                f"   NOTE  {check.id}, worth no points: {shown_message(check, show_hidden)}",
                "yellow",
            )
    if sub.details.get("substituted"):
        provided = ", ".join(map(str, sub.details["substituted"]))
        say(console, f"course modules provided by the grader: {provided}")
    say(console, totals(sub, kinds, unselected), "bold")


def totals(sub: SubmissionResult, kinds: Counter, unselected: int = 0) -> str:
    """One line: the score, then how many checks ended each way."""
    words = [
        f"{kinds[k]} {k}" for k in ("passed", "failed", "error", "timeout", "not run") if kinds[k]
    ]
    if kinds["skipped"] - unselected:
        words.append(f"{kinds['skipped'] - unselected} skipped (not counted)")
    if unselected:
        words.append(f"{unselected} not selected")
    if kinds["note"]:
        words.append(f"{kinds['note']} note{'s' if kinds['note'] != 1 else ''}")
    return (
        f"score {points(sub.score, 4)} / {points(sub.max_score)} ({sub.percentage:.0f}%): "
        + ", ".join(words or ["no checks"])
    )


def class_table(run: RunResult) -> Table:
    """`grader run`'s closing table: a row per submission, errors named where they are."""
    table = Table(title=f"{run.assignment} (seed {run.seed})")
    for column in ("submission", "status", "score", "%", "time"):
        table.add_column(
            column, justify="right" if column in ("score", "%", "time") else "left", overflow="fold"
        )
    for sub in run.submissions:
        table.add_row(
            escape(sub.id),
            escape(status_text(sub)),
            f"{points(sub.score, 4)}/{points(sub.max_score)}",
            f"{sub.percentage:.0f}",
            seconds(sub.duration_s),
        )
    return table


def progress_line(sub: SubmissionResult, done: int, total: int) -> str:
    """One line per finished submission for logs that are not a terminal (CI)."""
    width = len(str(total))
    how = "stored grade reused" if sub.details.get("reused") else f"in {seconds(sub.duration_s)}"
    return (
        f"[{done:>{width}}/{total}] {sub.id}: {points(sub.score, 4)}/{points(sub.max_score)} "
        f"({status_text(sub)}) {how}"
    )
