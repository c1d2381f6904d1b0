"""The assignment file's JSON Schema, generated from the declared options so it cannot drift.

Every table an instructor edits is declared once as an `Options` dataclass (`[defaults]`,
`[parts]`, `[network]`, each check kind's options); this module turns those declarations into a
JSON Schema (names, types, defaults, help as descriptions, no unknown keys, no negative numbers)
for editors and instructors' own tooling. The copy published with the project,
`grader/assignment.schema.json`, is `grader assignment-schema` written to a file.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from grader.assignment import COMMON_KEYS, Defaults, Network, Parts
from grader.checks import Aspects, load_kinds

DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMMON = {
    "id": {"type": "string", "description": "group.target[.case], the group being the kind"},
    "name": {"type": "string", "description": "what the check verifies, as students read it"},
    "kind": {"type": "string", "description": "the check kind (grader/checks)"},
    "points": {"type": "number", "minimum": 0, "description": "the check's points"},
    "visibility": {"enum": ["public", "hidden"], "description": "hidden: instructors only"},
    "family": {"type": "string", "description": "the layer family whose cases it grades"},
    "cases": {"type": "array", "items": {"type": "string"}, "description": "case names"},
}


def assignment_schema() -> dict[str, Any]:
    """The JSON Schema of an assignment file (as TOML parsed into JSON's data model)."""
    return {
        "$schema": DIALECT,
        "title": "convnet-grader assignment file",
        "type": "object",
        "additionalProperties": False,
        "required": ["checks"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "package_names": {"type": "array", "items": {"type": "string"}},
            "defaults": options_schema(Defaults),
            "parts": options_schema(Parts),
            "network": options_schema(Network),
            "cases": {"type": "object", "description": "[cases.FAMILY.NAME] input configurations"},
            "checks": {"type": "array", "items": _check_schema()},
        },
    }


def published() -> str:
    """The text of grader/assignment.schema.json."""
    return json.dumps(assignment_schema(), indent=2) + "\n"


def options_schema(cls: type, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An options dataclass as a closed object schema; `extra` adds keys valid beside them."""
    hints = typing.get_type_hints(cls)
    properties = dict(extra or {})
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        prop = {**_type_schema(hints[f.name]), "description": f.metadata.get("help", "")}
        default = f.default_factory() if callable(f.default_factory) else f.default
        if default is not dataclasses.MISSING:
            prop["default"] = default
        properties[f.name] = prop
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _check_schema() -> dict[str, Any]:
    """A [[checks]] entry: the common keys, then the options of its kind (and aspect)."""
    branches = []
    for name, kind in sorted(load_kinds().items()):
        declared = kind.options
        if isinstance(declared, Aspects):
            for aspect, cls in declared.by_name.items():
                when: dict[str, Any] = {"kind": {"const": name}}
                when["aspect"] = {"const": aspect}
                required = ["aspect"] if aspect != declared.default else []
                branches.append(_branch(when, required, cls, aspect=True))
        else:
            branches.append(_branch({"kind": {"const": name}}, [], declared, aspect=False))
    return {
        "type": "object",
        "required": ["id", "kind", "points"],
        "properties": {**COMMON, "kind": {"enum": sorted(load_kinds())}},
        "allOf": branches,
    }


def _branch(when: dict, required: list[str], cls: type, aspect: bool) -> dict[str, Any]:
    """if the check is of this kind (and aspect) then it has exactly these options."""
    condition: dict[str, Any] = {"properties": when, "required": ["kind", *required]}
    if aspect and not required:  # the default aspect: `aspect` absent or naming it
        condition = {
            "properties": {"kind": when["kind"]},
            "required": ["kind"],
            "anyOf": [
                {"not": {"required": ["aspect"]}},
                {"properties": {"aspect": when["aspect"]}},
            ],
        }
    extra = {key: {} for key in COMMON_KEYS}
    if aspect:
        extra["aspect"] = {"type": "string"}
    return {"if": condition, "then": options_schema(cls, extra)}


def _type_schema(tp: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return {}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_type_schema(a) for a in args]}
    if origin is Literal:
        return {"enum": list(args)}
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0])}
    if origin in (dict, Mapping) or tp is dict:
        return {"type": "object", "additionalProperties": _type_schema(args[1]) if args else {}}
    simple = {
        float: {"type": "number", "minimum": 0},
        int: {"type": "integer", "minimum": 0},
        str: {"type": "string"},
        bool: {"type": "boolean"},
        type(None): {"type": "null"},
    }
    return dict(simple.get(tp, {}))
