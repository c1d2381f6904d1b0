"""Drawn geometries: hidden cases whose shapes, not only their values, come from the run's seed.

A case of the assignment file may carry a `draw` table: integer ranges (`N = [1, 3]`, both ends
included), sizes derived from them by arithmetic (`H = "(HO - 1) * S + PH"`), and `require`, the
conditions every draw must meet. The case's other entries then name drawn sizes:
`x = {shape = ["N", "C", "H", "W"]}`, `stride = "S"`. A draw that misses a requirement is
drawn again, so a requirement such as `"PH != PW"` or `"(W - PH) // S != WO - 1"` guarantees,
on every seed, that a function confusing two parameters gets a wrong shape or wrong values.
The requirements live in the assignment file beside the ranges they constrain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from simpleeval import InvalidExpression, SimpleEval

MAX_TRIES = 10_000


def concrete(spec: dict[str, Any], rng: np.random.RandomState) -> dict[str, Any]:
    """`spec` with its drawn sizes filled in (a spec without `draw` is returned unchanged)."""
    if "draw" not in spec:
        return spec
    sizes = draw_sizes(spec["draw"], rng)
    return {key: _fill(key, value, sizes) for key, value in spec.items() if key != "draw"}


def draw_sizes(draw: dict[str, Any], rng: np.random.RandomState) -> dict[str, int]:
    """One set of sizes meeting every requirement, drawn from `rng`."""
    ranges, derived, require = _parse(draw)
    for _ in range(MAX_TRIES):
        sizes = {name: int(rng.randint(low, high + 1)) for name, (low, high) in ranges.items()}
        for name, expression in derived.items():
            sizes[name] = _integer(_evaluate(expression, sizes), f"{name} = {expression!r}")
        if all(_evaluate(condition, sizes) for condition in require):
            return sizes
    raise ValueError(f"no draw in {MAX_TRIES} meets every requirement of {require}")


def _parse(draw: Any) -> tuple[dict[str, tuple[int, int]], dict[str, str], list[str]]:
    if not isinstance(draw, dict):
        raise ValueError("draw must be a table of ranges, derived sizes and `require`")
    ranges, derived = {}, {}
    for name, value in draw.items():
        if name == "require":
            continue
        if not name.isidentifier():
            raise ValueError(f"draw: {name!r} is not a name")
        if isinstance(value, str):
            derived[name] = value
        elif _is_range(value):
            ranges[name] = (value[0], value[1])
        else:
            raise ValueError(
                f"draw: {name} must be [low, high] (integers, low <= high) "
                f"or an expression in quotes, not {value!r}"
            )
    require = draw.get("require", [])
    if not isinstance(require, list) or not all(isinstance(c, str) for c in require):
        raise ValueError("draw: require must be a list of conditions in quotes")
    return ranges, derived, require


def _is_range(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and value[0] <= value[1]
    )


def _evaluate(expression: str, sizes: dict[str, int]) -> Any:
    try:
        return SimpleEval(names=sizes, functions={"min": min, "max": max}).eval(expression)
    except (InvalidExpression, SyntaxError, ZeroDivisionError) as exc:
        raise ValueError(f"draw: cannot evaluate {expression!r}: {exc}") from None


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"draw: {what} must give an integer, it gave {value!r}")
    return value


def _fill(key: str, value: Any, sizes: dict[str, int]) -> Any:
    """Replace the names of drawn sizes: in array shapes, and as whole setting values."""
    if isinstance(value, dict) and "shape" in value:
        return {**value, "shape": [_size(key, d, sizes) for d in value["shape"]]}
    if isinstance(value, str) and value in sizes:
        return sizes[value]
    return value


def _size(key: str, dim: Any, sizes: dict[str, int]) -> Any:
    if not isinstance(dim, str):
        return dim
    if dim not in sizes:
        raise ValueError(f"the shape of {key} names {dim!r}, which the draw does not define")
    return sizes[dim]
