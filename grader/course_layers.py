"""The course's layer functions as the parent calls them, and the answers they give a case.

Expected outputs and gradients (`answer`) and the variants the hint probes recompute all call
the course's layers through `layer(name)`. The grader lends them the reference's (grader.oracle
does so when imported); a student kit, which must not contain the solution, lends a replay of
the answers recorded when the kit was built (grader.kit.replay).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from grader.cases import Case

_lent: dict[str, Callable[..., Any]] = {}
_any_input = [True]


def lend(functions: Mapping[str, Callable[..., Any]], *, any_input: bool = True) -> None:
    """Use `functions` (name -> callable) as the course's layers from now on; `any_input` False
    for a replay, which answers only the inputs it recorded."""
    _lent.clear()
    _lent.update(functions)
    _any_input[0] = any_input


def answers_any_input() -> bool:
    """Whether the course's layers at hand answer fresh inputs (a counterexample needs them)."""
    return _any_input[0]


def layer(name: str) -> Callable[..., Any]:
    if not _lent:
        raise RuntimeError(
            "no course layers lent: the grader imports grader.oracle, which lends the reference's;"
            " a student kit lends its replay"
        )
    return _lent[name]


def answer(case: Case, rng: np.random.RandomState) -> None:
    """Attach the course's answers to `case`: output, gradients, final parameter dict.

    A case whose dout is not given gets one drawn from `rng` after its inputs, shaped like the
    reference's output.
    """
    result, param = reference_forward(case)
    case.ref_param = param
    if case.family.returns_loss:
        loss, dx = result
        case.ref_out, case.ref_grads = np.asarray(loss), (dx,)
        return
    out, cache = result
    case.ref_out = out
    if case.dout is None:
        dtype = next(iter(case.arrays.values())).dtype
        case.dout = rng.randn(*out.shape).astype(dtype if dtype.kind == "f" else np.float64)
    if case.mode == "train":
        case.ref_grads = reference_backward(case, case.dout, cache)


def reference_forward(
    case: Case, arrays: dict[str, np.ndarray] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Run the course's forward (after the case's training calls) in float64.

    Returns the forward's result and the final parameter dict (running averages), so the
    caller can compare both with what the student's code produced.
    """
    fam = case.family
    values = {k: as_float64(v) for k, v in (arrays or case.arrays).items()}
    values.update(copy.deepcopy(case.settings))
    forward = layer(fam.forward)
    for batch in case.train_batches:
        forward(*[as_float64(batch) if p == "x" else values[p] for p in fam.signature])
    if case.train_batches:
        values["bn_param"]["mode"] = "test"
    result = forward(*[values[p] for p in fam.signature])
    return result, values.get("bn_param", values.get("gn_param", {}))


def reference_backward(case: Case, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    grads = layer(case.family.backward)(as_float64(dout), cache)
    return grads if isinstance(grads, tuple) else (grads,)


def as_float64(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    return value
