"""Check kinds: each maps a `CheckSpec`, its declared options and a `GradingContext` to a result.

A module registers each kind it serves with `register`: the check function, the dataclass
declaring the kind's options (one per aspect when an `aspect` option picks among several),
whether its checks grade cases, and the grader's own modules its programs call in the
sandbox. `validate` holds a whole assignment against these declarations before any
submission is graded, so a typo stops the run at once.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grader.assignment import COMMON_KEYS, Assignment, CheckSpec
from grader.errors import AssignmentError
from grader.layer_table import family
from grader.options import Options, parse, suggestion


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
    validate_cases(assignment)


# What a [cases.FAMILY.NAME] table may hold besides its arrays, and what an array table may hold.
CASE_KEYS = (
    "stride", "pad", "pool_height", "pool_width", "pool_stride", "eps", "momentum", "G", "seed",
    "train_calls", "mode", "expected", "expected_tolerance", "compare", "draw",
)  # fmt: skip
ARRAY_KEYS = ("shape", "dist", "scale", "shift", "low", "high", "dtype")
NOT_NEGATIVE = ("expected_tolerance", "eps", "momentum", "train_calls")


def validate_cases(assignment: Assignment) -> None:
    """Refuse a misspelt or negative entry of a case table, naming the case and the key."""
    for family_name, cases in assignment.cases.items():
        try:
            arrays = (*family(family_name).arrays, "dout")
        except ValueError as exc:
            raise AssignmentError(f"{assignment.source}: [cases.{family_name}]: {exc}") from None
        for name, spec in cases.items():
            where = f"{assignment.source}: [cases.{family_name}.{name}]"
            for key, value in spec.items():
                if isinstance(value, dict) and key != "draw":
                    _known(key, arrays, where, "array")
                    for inner in value:
                        _known(inner, ARRAY_KEYS, f"{where} {key}", "key")
                    continue
                _known(key, CASE_KEYS, where, "key", also=arrays)
                if key in NOT_NEGATIVE and not (
                    isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
                ):
                    raise AssignmentError(f"{where}: {key} must be a number of at least 0")


def _known(key: str, valid: tuple[str, ...], where: str, what: str, also=()) -> None:
    if key not in valid:
        raise AssignmentError(f"{where}: unknown {what} {key!r}{suggestion(key, [*valid, *also])}")


KIND_MODULES = ("layers", "model", "notebook", "speed", "training")


def load_kinds() -> dict[str, Kind]:
    """Import the modules that register check kinds: those this installation has (a student kit
    has the layer kinds only)."""
    for name in KIND_MODULES:
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            importlib.import_module(f"{__name__}.{name}")
    return KINDS
