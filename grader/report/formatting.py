"""The formatting every report shares: what each shows of a result, decided in one place.

HTML, Gradescope and JUnit all print checks; keeping the labels, number formats, safe
file names and the rule for what a hidden check reveals here means a hidden case cannot
leak through one format while another keeps it back.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

from grader.import_errors import ImportProblem
from grader.results import CheckResult, RunResult, SubmissionResult

STATUS_SYMBOLS = {"passed": "✓", "failed": "✗", "error": "!", "timeout": "◔", "skipped": "–"}
GROUP_ORDER = ("forward", "backward", "inputs", "model", "training", "speed", "notebook")
HIDDEN_SAFE_KEYS = (
    "max_error",
    "tolerance",
    "traceback",
    "import_error",
    "history",
    "first_layer_filters",
)
"""The only `details` keys a hidden check shows: none describes its inputs (the case, its
shapes, expected and returned values, the failing index). An allowlist, so a key added later
stays back until someone decides it is safe."""

_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED_STEMS = {"index"}
_MAX_STEM = 80


def printable(text: str) -> str:
    """Student output may hold control characters that neither HTML nor XML 1.0 allow."""
    return _CONTROL_CHARS.sub("\ufffd", text)


def points(value: float, digits: int = 2) -> str:
    """Points without noise: 2.0 -> "2", 1.25 -> "1.25", 1/3 -> "0.33"."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def percent(value: float) -> str:
    return f"{value:.1f}"


def seconds(value: float) -> str:
    if value < 59.95:
        return f"{value:.1f} s"
    whole = round(value)
    return f"{whole // 60} min {whole % 60:02d} s"


def status_label(status: str) -> str:
    """A text status with a symbol, so colour is never the only signal."""
    return f"{STATUS_SYMBOLS.get(status, '?')} {status}"


def page_stems(run: RunResult) -> list[str]:
    """File-name stems for the submissions, in order: safe characters, unique ignoring case.

    Ids come from folder or file names students chose, so they may hold path separators,
    markup or a name that collides with `index.html`; the list is aligned with
    `run.submissions` so even duplicated ids get their own page.
    """
    used: set[str] = set()
    stems = []
    for sub in run.submissions:
        base = _UNSAFE_CHARS.sub("_", sub.id).strip("._-")[:_MAX_STEM] or "submission"
        if base.lower() in _RESERVED_STEMS:
            base += "_submission"
        stem, n = base, 2
        while stem.lower() in used:
            stem, n = f"{base}-{n}", n + 1
        used.add(stem.lower())
        stems.append(stem)
    return stems


def reveals_case(check: CheckResult, show_hidden: bool) -> bool:
    return check.visibility != "hidden" or show_hidden


def visible_details(check: CheckResult, show_hidden: bool) -> dict[str, Any]:
    """The check's details, or only those that say nothing of its inputs when it is hidden."""
    if reveals_case(check, show_hidden):
        return dict(check.details)
    return {k: v for k, v in check.details.items() if k in HIDDEN_SAFE_KEYS}


def shown_message(check: CheckResult, show_hidden: bool) -> str:
    """The message a report shows: a hidden check's says which function failed and how, not on what.

    Results written before `student_message` existed fall back to the bare status.
    """
    if reveals_case(check, show_hidden) or check.status in ("passed", "skipped"):
        return check.message
    if check.student_message is not None:
        return check.student_message
    return f"{check.target}: {check.status} (the hidden case is not shown)"


_SHAPE = re.compile(r"\(\d+(?:, ?\d+)*,?\)")


def shown_hint(check: CheckResult, show_hidden: bool) -> str | None:
    """The hint; for a hidden check without the shapes some hints quote (`(1, 1, 1, 2, 6, 4, 5)`),
    which would give away the hidden case's sizes."""
    if check.hint is None or reveals_case(check, show_hidden):
        return check.hint
    return _SHAPE.sub("(...)", check.hint)


def format_value(value: Any) -> str:
    """Shapes as tuples, nested parameters as `key=value`, floats short."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        inner = ", ".join(format_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def case_items(case: Any) -> list[tuple[str, str]]:
    if not isinstance(case, Mapping):
        return [("case", format_value(case))] if case not in (None, "", {}) else []
    return [(str(k), format_value(v)) for k, v in case.items()]


def format_error(value: Any) -> str:
    return (
        f"{value:.3g}" if isinstance(value, (int, float)) and math.isfinite(value) else str(value)
    )


def counterexample(details: Mapping[str, Any]) -> str | None:
    """The counterexample's code with a line saying what it is (and whether the search ran out
    of time), when the check has one."""
    found = details.get("counterexample")
    if not isinstance(found, Mapping) or not isinstance(found.get("code"), str):
        return None
    early = (
        " (the search ran out of time: a smaller one may exist)"
        if found.get("stopped_early")
        else ""
    )
    return (
        f"# The smallest fresh input found on which it still fails{early}; run it in a cell:\n"
        + found["code"]
    )


def check_text(check: CheckResult, show_hidden: bool) -> str:
    """A plain-text account of one check for formats without markup (Gradescope, JUnit)."""
    details = visible_details(check, show_hidden)
    lines = [f"{status_label(check.status)}: {shown_message(check, show_hidden)}".rstrip(": ")]
    if check.hint:
        lines.append(f"Hint: {shown_hint(check, show_hidden)}")
    if not reveals_case(check, show_hidden):
        lines.append("This is a hidden check: its inputs are not shown.")
    items = case_items(details.get("case"))
    if items:
        lines.append("Case: " + ", ".join(f"{k}: {v}" for k, v in items))
    for key in ("expected", "got"):
        if details.get(key) is not None:
            lines.append(f"{key.capitalize()}: {details[key]}")
    if details.get("max_error") is not None:
        lines.append(f"Max error: {error_line(details)}")
    for case in as_list(details.get("cases")):
        if isinstance(case, Mapping):
            summary = ", ".join(f"{k}: {v}" for k, v in case_items(case.get("case")))
            message = f": {case['message']}" if case.get("message") else ""
            lines.append(f"  - {status_label(str(case.get('status', '')))} ({summary}){message}")
    if details.get("traceback"):
        lines += ["Traceback:", str(details["traceback"]).rstrip()]
    example = counterexample(details)
    if example:
        lines += ["Counterexample:", example]
    return "\n".join(lines)


def error_line(details: Mapping[str, Any]) -> str:
    """The max error, its tolerance and where it occurs, from a check's details."""
    line = format_error(details["max_error"])
    if details.get("tolerance") is not None:
        line += f" (tolerance {format_error(details['tolerance'])})"
    if details.get("where") is not None:
        line += f" at index {format_value(details['where'])}"
    return line


def groups(submissions: Iterable[SubmissionResult]) -> list[str]:
    """The check groups present: the assignment's order first, then any others by name."""
    seen = {c.group for s in submissions for c in s.checks}
    extra = sorted(seen.difference(GROUP_ORDER))
    return [g for g in GROUP_ORDER if g in seen] + extra


def group_scores(sub: SubmissionResult) -> dict[str, tuple[float, float]]:
    """Score and maximum per group; skipped checks count towards neither, as in the total."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for check in sub.checks:
        totals[check.group][0] += check.score
        if check.status != "skipped":
            totals[check.group][1] += check.max_score
    return {g: (s, m) for g, (s, m) in totals.items()}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def strings(value: Any) -> list[str]:
    """A details entry meant as a list of strings, whatever shape it arrived in."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(v.get("message", v)) if isinstance(v, dict) else str(v) for v in items]


def inline_answers(details: Mapping[str, Any]) -> list[dict[str, str]]:
    """`inline_answers` with every key present, so templates need no guards."""
    return [
        {
            "question": str(a.get("question") or "(question not found)"),
            "answer": str(a.get("answer") or "(no answer)"),
            "status": str(a.get("status") or "not graded"),
        }
        for a in as_list(details.get("inline_answers"))
        if isinstance(a, Mapping)
    ]


def finite_floats(values: Sequence[Any]) -> list[float | None]:
    """Numbers from JSON as floats; anything else (null, text) as None."""
    out: list[float | None] = []
    for v in as_list(values):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        out.append(float(v) if ok else None)
    return out


def import_problems(sub: SubmissionResult) -> list[ImportProblem]:
    """Each place where the submission's code does not import, once."""
    raw = [
        *(sub.details.get("import_errors") or []),
        *(c.details.get("import_error") for c in sub.checks),
    ]
    found: dict[tuple, ImportProblem] = {}
    for problem in filter(None, map(ImportProblem.from_json, raw)):
        found.setdefault((problem.file, problem.line, problem.offset, problem.message), problem)
    return list(found.values())


def status_text(sub: SubmissionResult) -> str:
    """`graded`, or the error: why it could not be graded, or where its code does not import."""
    if sub.status == "error":
        return f"error: {sub.error}"
    problems = import_problems(sub)
    if problems:
        return "error: does not import: " + "; ".join(f"{p.where()}: {p.message}" for p in problems)
    return "graded"
