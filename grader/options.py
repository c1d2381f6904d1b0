"""Options declared as data: dataclasses whose fields carry their default and a line of help.

The assignment file's `[defaults]` table and each check kind's options are such dataclasses.
`parse` turns a TOML table into one: every key must be a field (an unknown key is refused
with the nearest valid one), every value must have the field's type (ints are accepted, and
converted, where floats are declared), and what the table leaves out takes the field's
default, which is written down nowhere else. The declarations (names, types, defaults, help)
are all a schema of the assignment file needs.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeVar, Union

from grader.errors import AssignmentError

T = TypeVar("T")


def option(default: Any, help: str) -> Any:
    """A field with its default and its one line of help (mutable defaults are copied per use)."""
    metadata = {"help": help}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@typing.dataclass_transform(frozen_default=True, field_specifiers=(option,))
class Options:
    """Declared options: every subclass is a frozen dataclass of `option` fields.

    `class Gradient(ModelCheck, aspect="gradient")` names the aspect a subclass declares, for a
    kind whose `aspect` option picks one of several declarations.
    """

    aspect: ClassVar[str | None] = None

    def __init_subclass__(cls, aspect: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.aspect = aspect or cls.aspect
        dataclasses.dataclass(frozen=True)(cls)


def help_of(cls: type, name: str) -> str:
    """The declared help line of field `name` of `cls`."""
    return next(f.metadata["help"] for f in dataclasses.fields(cls) if f.name == name)


def parse(cls: type[T], table: Mapping[str, Any], where: str, also: Iterable[str] = ()) -> T:
    """`table` as an instance of the options dataclass `cls`.

    Keys in `also` are valid in the same table but belong elsewhere: they are only offered as
    suggestions for a misspelt key.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    values = {}
    for key, value in table.items():
        if key not in names:
            raise AssignmentError(f"{where}: unknown key {key!r}{suggestion(key, [*names, *also])}")
        try:
            values[key] = _convert(value, hints[key])
        except TypeError:
            raise AssignmentError(
                f"{where}: {key} must be {_describe(hints[key])}, not {value!r} "
                f"({help_of(cls, key)})"
            ) from None
    return cls(**values)


def suggestion(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; valid keys: {', '.join(sorted(valid))}"


def _convert(value: Any, tp: Any) -> Any:
    """`value` checked against the type `tp` (ints become floats where floats are declared)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        for option_type in args:
            try:
                return _convert(value, option_type)
            except TypeError:
                continue
        raise TypeError(tp)
    if origin is Literal:
        if value in args:
            return value
        raise TypeError(tp)
    if origin in (dict, Mapping) and isinstance(value, dict):
        return {_convert(k, args[0]): _convert(v, args[1]) for k, v in value.items()}
    if origin is list and isinstance(value, list):
        return [_convert(v, args[0]) for v in value]
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(_not_negative(value))
    if (
        tp in (int, str, bool)
        and isinstance(value, tp)
        and (tp is bool or not isinstance(value, bool))
    ):
        return _not_negative(value) if tp is int else value
    if tp is type(None) and value is None:
        return value
    raise TypeError(tp)


def _not_negative(value: float) -> float:
    """Points, tolerances, sizes, budgets and bars are never negative: a minus sign is a typo."""
    if value < 0:
        raise TypeError(value)
    return value


def _describe(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (dict, Mapping):
        return f"a table of {_describe(args[1])}"
    if origin is list:
        return f"a list of {_describe(args[0])}"
    return {
        float: "a number of at least 0",
        int: "an integer of at least 0",
        str: "a string",
        bool: "true or false",
    }.get(tp, getattr(tp, "__name__", str(tp)))
