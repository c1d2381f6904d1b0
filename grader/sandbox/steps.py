"""Sandbox programs, typed and checked in the parent before anything reaches the child.

A program is a list of steps that the fork server (grader/sandboxed/server.py) runs in order
in a fresh child, starting from named input arrays; a step may keep its value under a name
(`as_`) for the steps after it, and the last step may return named values. Each kind of step
is a dataclass with a factory: `call`, `set_`, `names`, `numeric`, `timed` and `ret`. Values
given to a step are plain JSON data, references to named values (`ref`) and deep copies
(`copy_of`).

A misspelt step, option or keyword is a Python error where the program is written, and
`Program` refuses a reference to a name that no input array or earlier step defines, a return
that is not last, and values that are not plain data: a grader bug raises here, in the parent,
instead of coming back as if the student's code had raised it. `to_json()` gives the format
the server reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union

import numpy as np

from grader.errors import ProgramError

NUMERIC_KINDS = "biufc"
Key = Union[str, int]


@dataclass(frozen=True)
class Ref:
    """A named value of the program, optionally followed along a path into it."""

    name: str = field(metadata={"help": "an input array's name or an earlier step's `as_`"})
    path: tuple[Key, ...] = field(
        default=(),
        metadata={
            "help": "attribute names, dict keys or indices followed from the value, in order"
        },
    )

    def __getitem__(self, key: Key) -> Ref:
        """`ref("model")["params"]["W1"]` is `ref("model", "params", "W1")`."""
        return Ref(self.name, (*self.path, key))

    def to_json(self) -> dict[str, Any]:
        return {"@": self.name, "path": list(self.path)} if self.path else {"@": self.name}


@dataclass(frozen=True)
class Copy:
    """A deep copy of a value, taken in the child just before the step uses it."""

    value: Any = field(metadata={"help": "the value to copy (usually a `Ref`)"})

    def to_json(self) -> dict[str, Any]:
        return {"copy": _json(self.value)}


@dataclass(frozen=True)
class Call:
    """Call a function or method with arguments; its result may be kept as `as_`."""

    target: str | Ref = field(
        metadata={"help": "'module:attribute.path' imported in the child, or a `Ref` to a callable"}
    )
    args: tuple[Any, ...] = field(default=(), metadata={"help": "positional arguments"})
    kwargs: Mapping[str, Any] = field(default_factory=dict, metadata={"help": "keyword arguments"})
    as_: str | None = field(default=None, metadata={"help": "the name the result is kept under"})

    def __post_init__(self) -> None:
        if isinstance(self.target, Ref):
            return
        if not isinstance(self.target, str):
            raise ProgramError(f"a call target is 'module:attr' or a Ref, not {self.target!r}")
        module, _, attribute = self.target.partition(":")
        if not (module and attribute):
            raise ProgramError(f"call target {self.target!r} is not 'module:attribute'")

    def spec(self) -> dict[str, Any]:
        """The call without its name, as `numeric` and `timed` embed it."""
        return {
            "call": _json(self.target),
            "args": _json(list(self.args)),
            "kwargs": _json(dict(self.kwargs)),
        }

    def to_json(self) -> dict[str, Any]:
        return _named(self.spec(), self.as_)


@dataclass(frozen=True)
class Set:
    """Assign a value to an attribute, key or index of a named value."""

    target: Ref = field(metadata={"help": "where to assign: a Ref with a non-empty path"})
    value: Any = field(metadata={"help": "the value assigned"})

    def __post_init__(self) -> None:
        if not isinstance(self.target, Ref) or not self.target.path:
            raise ProgramError(f"set_ needs a Ref with a path, not {self.target!r}")

    def to_json(self) -> dict[str, Any]:
        return {"set": self.target.to_json(), "value": _json(self.value)}


@dataclass(frozen=True)
class Names:
    """Import a module and list its public callable names (an import error is the step's)."""

    module: str = field(metadata={"help": "the module's dotted name"})
    as_: str = field(metadata={"help": "the name the sorted list is kept under"})

    def to_json(self) -> dict[str, Any]:
        return {"getattr_names": self.module, "as": self.as_}


@dataclass(frozen=True)
class Numeric:
    """Evaluate a call with one array argument moved by +-h at each of the given coordinates.

    The value kept is an array of shape (coordinates, 2, *output shape): the outputs at +h and
    -h. The central differences themselves are the parent's to take.
    """

    call: Call = field(metadata={"help": "the call evaluated (its `as_` is not used)"})
    wrt: Key = field(metadata={"help": "the moved argument: a position in args or a keyword"})
    coords: Ref | list[list[int]] = field(
        metadata={
            "help": "the indices moved: an integer array (coordinates, ndim), usually an input"
        }
    )
    h: float = field(metadata={"help": "the step of the central differences"})
    output: tuple[Key, ...] = field(
        default=(),
        metadata={
            "help": "the path from the call's result to the numeric output, e.g. (0,) for `out`"
        },
    )
    as_: str = field(
        default="numeric", metadata={"help": "the name the evaluations are kept under"}
    )

    def to_json(self) -> dict[str, Any]:
        spec = {
            **self.call.spec(),
            "wrt": self.wrt,
            "coords": _json(self.coords),
            "h": float(self.h),
            "output": list(self.output),
        }
        return {"numeric": spec, "as": self.as_}


@dataclass(frozen=True)
class Timed:
    """Time a call `repeat` times on fresh deep copies of its arguments (CPU seconds of the
    child's calling thread, a list: independent of the machine's load)."""

    call: Call = field(metadata={"help": "the call timed (its `as_` is not used)"})
    repeat: int = field(metadata={"help": "how many timed runs"})
    as_: str = field(metadata={"help": "the name the list of durations is kept under"})

    def __post_init__(self) -> None:
        if not isinstance(self.repeat, int) or self.repeat < 1:
            raise ProgramError(f"timed needs a positive repeat, not {self.repeat!r}")

    def to_json(self) -> dict[str, Any]:
        return {"time": self.call.spec(), "repeat": self.repeat, "as": self.as_}


@dataclass(frozen=True)
class Return:
    """The program's answer: named values sent back to the parent (the last step only)."""

    values: Mapping[str, Any] = field(metadata={"help": "name -> value, usually a Ref"})

    def to_json(self) -> dict[str, Any]:
        return {"return": {str(name): _json(value) for name, value in self.values.items()}}


Step = Union[Call, Set, Names, Numeric, Timed, Return]


def ref(name: str, *path: Key) -> Ref:
    return Ref(name, path)


def copy_of(value: Any) -> Copy:
    return Copy(value)


def call(
    target: str | Ref, *args: Any, kwargs: Mapping[str, Any] | None = None, as_: str | None = None
) -> Call:
    return Call(target, args, dict(kwargs or {}), as_)


def set_(target: Ref, value: Any) -> Set:
    return Set(target, value)


def names(module: str, as_: str = "names") -> Names:
    return Names(module, as_)


def numeric(
    call: Call,
    *,
    wrt: Key,
    coords: Ref | list[list[int]],
    h: float,
    output: Sequence[Key] = (),
    as_: str,
) -> Numeric:
    return Numeric(call, wrt, coords, h, tuple(output), as_)


def timed(call: Call, *, as_: str, repeat: int = 1) -> Timed:
    return Timed(call, repeat, as_)


def ret(**values: Any) -> Return:
    return Return(values)


@dataclass
class Program:
    """Steps and the input arrays they start from, checked as a whole when built."""

    steps: Sequence[Step]
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.steps = list(self.steps)
        self.arrays = dict(self.arrays)
        if not self.steps:
            raise ProgramError("a program has at least one step")
        for name, array in self.arrays.items():
            if (
                not isinstance(name, str)
                or type(array) is not np.ndarray
                or array.dtype.kind not in NUMERIC_KINDS
            ):
                raise ProgramError(f"input {name!r} must be a numeric numpy.ndarray")
        known = set(self.arrays)
        self._json = []
        for index, step in enumerate(self.steps):
            if isinstance(step, Return) and index != len(self.steps) - 1:
                raise ProgramError(f"step {index}: ret() must be the last step")
            encoded = step.to_json()
            undefined = sorted(_references(encoded) - known)
            if undefined:
                raise ProgramError(
                    f"step {index} ({type(step).__name__}): reference to undefined "
                    f"name {undefined[0]!r}"
                )
            if encoded.get("as") is not None:
                known.add(encoded["as"])
            self._json.append(encoded)
        try:
            json.dumps(self._json, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ProgramError(f"the program is not plain JSON data: {exc}") from None

    def to_json(self) -> list[dict[str, Any]]:
        """The program in the format grader/sandboxed/server.py reads."""
        return self._json


def _named(spec: dict[str, Any], as_: str | None) -> dict[str, Any]:
    return spec if as_ is None else {**spec, "as": as_}


def _json(value: Any) -> Any:
    """A step's value as the server reads it; plain mappings must not look like a Ref or a Copy."""
    if isinstance(value, (Ref, Copy)):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        if "@" in value or set(value) == {"copy"}:
            raise ProgramError(f"a plain mapping {value!r} would read as a reference or a copy")
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        raise ProgramError("arrays reach a program as named inputs, not inside a step")
    return value


def _references(encoded: Any) -> set[str]:
    """The names every reference inside an encoded step uses."""
    found, todo = set(), [encoded]
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            if "@" in value and set(value) <= {"@", "path"}:
                found.add(value["@"])
            else:
                todo.extend(value.values())
        elif isinstance(value, list):
            todo.extend(value)
    return found
