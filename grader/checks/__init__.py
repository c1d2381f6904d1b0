"""Check kinds: each maps a `CheckSpec` and a `GradingContext` to a `CheckResult`.

Modules register the kinds they serve in `KINDS`; the assignment file names a kind per check.
"""

from __future__ import annotations

from typing import Callable, Iterable

from grader.assignment import Assignment
from grader.errors import AssignmentError

KINDS: dict[str, Callable] = {}
ASPECTS: dict[str, tuple[str, ...]] = {}


def register(kind: str) -> Callable[[Callable], Callable]:
    def add(check: Callable) -> Callable:
        KINDS[kind] = check
        return check

    return add


def declare_aspects(kind: str, aspects: Iterable[str]) -> None:
    """The values a kind accepts for its `aspect` option, so a typo fails before grading starts."""
    ASPECTS[kind] = tuple(aspects)


def validate(assignment: Assignment) -> None:
    """Reject, before any submission is graded, checks that name an unknown family or aspect."""
    from grader.layer_table import family

    load_kinds()
    for spec in assignment.checks:
        where = f"{assignment.source}: check {spec.id}"
        if spec.family is not None:
            try:
                family(spec.family)
            except ValueError as exc:
                raise AssignmentError(f"{where}: {exc}") from None
        aspect = spec.options.get("aspect")
        if spec.kind in ASPECTS and aspect is not None and aspect not in ASPECTS[spec.kind]:
            raise AssignmentError(f"{where}: aspect {aspect!r} is not one of {', '.join(ASPECTS[spec.kind])}")


def load_kinds() -> dict[str, Callable]:
    """Import the modules that register check kinds (the network checks need the sandbox too)."""
    from grader.checks import layers  # noqa: F401  (registers forward, backward, inputs)
    from grader.checks import network, speed, training  # noqa: F401  (registers model, speed, training)

    return KINDS
