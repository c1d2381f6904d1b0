"""Parent-side validation of programs, so that a grader bug raises here instead of being
reported as the student's exception.

A program is a list of steps (see server.py for what each step does). This checks the shape of
every step, that every `{"@": name}` reference names an input array or an earlier `"as"`, that
the program is JSON-serialisable, and that the input arrays are plain numeric ndarrays.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

import numpy as np

from grader.errors import ProgramError

STEP_KINDS = ("call", "set", "getattr_names", "numeric", "time", "return")
NUMERIC_KINDS = "biufc"


def check_program(program: list[dict], arrays: Mapping[str, np.ndarray]) -> None:
    if not isinstance(program, list) or not program:
        raise ProgramError("a program is a non-empty list of steps")
    for name, array in arrays.items():
        if not isinstance(name, str) or type(array) is not np.ndarray \
                or array.dtype.kind not in NUMERIC_KINDS:
            raise ProgramError(f"input {name!r} must be a numeric numpy.ndarray")
    known = set(arrays)
    for index, step in enumerate(program):
        where = f"step {index}"
        kinds = [k for k in STEP_KINDS if isinstance(step, dict) and k in step]
        if len(kinds) != 1:
            raise ProgramError(f"{where} must have exactly one of {STEP_KINDS}: {step!r}")
        check_step(kinds[0], step, known, where)
        if kinds[0] == "return" and index != len(program) - 1:
            raise ProgramError(f"{where}: 'return' must be the last step")
        if "as" in step:
            if not isinstance(step["as"], str):
                raise ProgramError(f"{where}: 'as' must be a string")
            known.add(step["as"])
    try:
        json.dumps(program)
    except (TypeError, ValueError) as exc:
        raise ProgramError(f"the program is not JSON-serialisable: {exc}") from None


def check_step(kind: str, step: dict, known: set[str], where: str) -> None:
    if kind == "call":
        check_call(step, known, where)
    elif kind == "set":
        ref = step["set"]
        if not (is_ref(ref) and ref.get("path")) or "value" not in step:
            raise ProgramError(f"{where}: 'set' needs a reference with a path and a 'value'")
        check_values([ref, step["value"]], known, where)
    elif kind == "getattr_names":
        if not isinstance(step["getattr_names"], str):
            raise ProgramError(f"{where}: 'getattr_names' takes a module name")
    elif kind == "numeric":
        spec = step["numeric"]
        if not isinstance(spec, dict) or not isinstance(spec.get("wrt"), (int, str)) \
                or "coords" not in spec:
            raise ProgramError(f"{where}: 'numeric' needs 'call', 'wrt' and 'coords'")
        check_call(spec, known, where)
        check_values([spec["coords"]], known, where)
    elif kind == "time":
        if not isinstance(step["time"], dict) or not isinstance(step.get("repeat"), int) \
                or step["repeat"] < 1:
            raise ProgramError(f"{where}: 'time' needs a call step and a positive 'repeat'")
        check_call(step["time"], known, where)
    elif not isinstance(step["return"], dict):
        raise ProgramError(f"{where}: 'return' takes a mapping of names to values")
    else:
        check_values(list(step["return"].values()), known, where)


def check_call(spec: dict, known: set[str], where: str) -> None:
    target = spec.get("call")
    if isinstance(target, str):
        if not target.partition(":")[0]:
            raise ProgramError(f"{where}: call target {target!r} has no module")
    elif not is_ref(target):
        raise ProgramError(f"{where}: 'call' is 'module:attr' or a reference")
    if not isinstance(spec.get("args", []), list) or not isinstance(spec.get("kwargs", {}), dict):
        raise ProgramError(f"{where}: 'args' must be a list and 'kwargs' a mapping")
    check_values([target, spec.get("args", []), spec.get("kwargs", {})], known, where)


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and "@" in value and set(value) <= {"@", "path"}


def check_values(values: list, known: set[str], where: str) -> None:
    """Every reference inside `values` must name something defined by now."""
    todo = list(values)
    while todo:
        value = todo.pop()
        if is_ref(value):
            if value["@"] not in known:
                raise ProgramError(f"{where}: reference to undefined name {value['@']!r}")
            if not isinstance(value.get("path", []), list):
                raise ProgramError(f"{where}: a reference's path must be a list")
        elif isinstance(value, dict):
            todo.extend(value.values())
        elif isinstance(value, list):
            todo.extend(value)
