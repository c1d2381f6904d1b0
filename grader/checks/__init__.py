"""Check kinds: each maps a `CheckSpec`, its declared options and a `GradingContext` to a result.

A module registers each kind it serves with `register`: the check function, the dataclass
declaring the kind's options (one per aspect when an `aspect` option picks among several),
whether its checks grade cases, and the grader's own modules its programs call in the
sandbox. `validate` holds a whole assignment against these declarations before any
submission is graded, so a typo stops the run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grader.assignment import COMMON_KEYS, Assignment, CheckSpec
from grader.errors import AssignmentError
from grader.layer_table import family
from grader.options import Options, parse


class NoOptions(Options):
    """A kind without options of its own."""


@dataclass(frozen=True)
class Aspects:
    """Option declarations picked by the check's `aspect` option; each names its own aspect."""

    classes: tuple[type, ...]
    default: str | None = None

    @property
    def by_name(self) -> dict[str, type]:
        return {cls.aspect: cls for cls in self.classes}


@dataclass(frozen=True)
class Kind:
    """A registered check kind."""

    name: str
    check: Callable[[CheckSpec, Any, Any], Any]
    options: type | Aspects
    cases: bool
    private_modules: Callable[[], Mapping[str, str]] = field(default=lambda: {})

    def options_of(self, spec: CheckSpec, where: str = "") -> Any:
        """The check's options as the kind declares them; AssignmentError when they do not fit."""
        where = where or f"check {spec.id}"
        table, declared = dict(spec.options), self.options
        if isinstance(declared, Aspects):
            aspect = table.pop("aspect", declared.default)
            if aspect not in declared.by_name:
                raise AssignmentError(
                    f"{where}: aspect {aspect!r} is not one of {', '.join(declared.by_name)}"
                )
            declared = declared.by_name[aspect]
        return parse(declared, table, where, also=(*COMMON_KEYS, "aspect"))


KINDS: dict[str, Kind] = {}


def register(
    kind: str,
    *,
    options: type | Aspects = NoOptions,
    cases: bool = False,
    private_modules: Callable[[], Mapping[str, str]] = lambda: {},
) -> Callable:
    """Register the decorated function as the check of `kind`."""

    def add(check: Callable) -> Callable:
        KINDS[kind] = Kind(kind, check, options, cases, private_modules)
        return check

    return add


def validate(assignment: Assignment) -> None:
    """Reject, before any submission is graded, checks whose kind, family, cases or options do
    not fit their kind's declaration."""
    kinds = load_kinds()
    for spec in assignment.checks:
        where = f"{assignment.source}: check {spec.id}"
        if spec.kind not in kinds:
            raise AssignmentError(
                f"{where}: kind {spec.kind!r} is not one of {', '.join(sorted(kinds))}"
            )
        if kinds[spec.kind].cases and not spec.cases:
            raise AssignmentError(
                f"{where}: a {spec.kind} check needs a family and a non-empty list of cases"
            )
        if spec.family is not None:
            try:
                family(spec.family)
            except ValueError as exc:
                raise AssignmentError(f"{where}: {exc}") from None
        kinds[spec.kind].options_of(spec, where)


def load_kinds() -> dict[str, Kind]:
    """Import the modules that register check kinds."""
    from grader.checks import layers, model, notebook, speed, training  # noqa: F401  (they register)

    return KINDS
