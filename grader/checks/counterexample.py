"""A counterexample the student can run: the smallest fresh input on which a failing layer still
fails, as a few lines of NumPy to paste into a notebook cell.

The search starts from the failing case's sizes and settings, draws fresh values (seeded, never
a case's own), and shrinks one size at a time (N, C, F, the image, the kernel, the pool window,
the groups) while the student's function keeps failing on a valid geometry. Settings that may be
the bug's condition (stride, padding) stay as they are. The expected values come from the
course's layers in the parent, for this fresh input only; the student's code runs in the sandbox.
The search is bounded in time, and says so when it stops early.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader import course_layers
from grader.cases import Case, draw_case
from grader.compare import compare_arrays, rel_error
from grader.run_case import (
    CaseRunOptions,
    Observation,
    numeric_evaluations,
    numeric_gradient,
    run_case,
)

Sizes = dict[str, int]
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Geometry:
    """A family's sizes: read from a case, turned into a case spec, checked, and shrunk."""

    read: Callable[[Case], Sizes]
    spec: Callable[[Sizes], dict[str, Any]]
    valid: Callable[[Sizes], bool]
    moves: tuple[Callable[[Sizes], Sizes], ...]
    out_shape: Callable[[Sizes], tuple[int, ...]]


def _less(**deltas: str | int) -> Callable[[Sizes], Sizes]:
    """A move: each named size minus a number or minus another size (a stride, say)."""

    def move(s: Sizes) -> Sizes:
        return {**s, **{k: s[k] - (s[d] if isinstance(d, str) else d) for k, d in deltas.items()}}

    return move


def _shape(*dims: int) -> dict[str, Any]:
    return {"shape": list(dims)}


def _conv_sizes(case: Case) -> Sizes:
    (n, c, h, w), (f, _, hh, ww) = case.arrays["x"].shape, case.arrays["w"].shape
    p = case.settings["conv_param"]
    return dict(N=n, C=c, H=h, W=w, F=f, HH=hh, WW=ww, S=p["stride"], P=p["pad"])


def _conv_spec(s: Sizes) -> dict[str, Any]:
    return {
        "x": _shape(s["N"], s["C"], s["H"], s["W"]),
        "w": _shape(s["F"], s["C"], s["HH"], s["WW"]),
        "b": _shape(s["F"]),
        "stride": s["S"],
        "pad": s["P"],
    }


def _conv_valid(s: Sizes) -> bool:
    return all(v >= 1 for k, v in s.items() if k != "P") and all(
        s[a] + 2 * s["P"] - s[k] >= 0 and (s[a] + 2 * s["P"] - s[k]) % s["S"] == 0
        for a, k in (("H", "HH"), ("W", "WW"))
    )


CONV_MOVES = (
    _less(N=1),
    _less(F=1),
    _less(C=1),
    _less(H="S"),
    _less(W="S"),
    _less(HH=1, H=1),
    _less(WW=1, W=1),
)


def _pool_sizes(case: Case) -> Sizes:
    n, c, h, w = case.arrays["x"].shape
    p = case.settings["pool_param"]
    return dict(N=n, C=c, H=h, W=w, PH=p["pool_height"], PW=p["pool_width"], S=p["stride"])


def _pool_spec(s: Sizes) -> dict[str, Any]:
    return {
        "x": _shape(s["N"], s["C"], s["H"], s["W"]),
        "pool_height": s["PH"],
        "pool_width": s["PW"],
        "stride": s["S"],
    }


def _pool_valid(s: Sizes) -> bool:
    return all(v >= 1 for v in s.values()) and all(
        s[a] - s[k] >= 0 and (s[a] - s[k]) % s["S"] == 0 for a, k in (("H", "PH"), ("W", "PW"))
    )


POOL_MOVES = (
    _less(N=1),
    _less(C=1),
    _less(H="S"),
    _less(W="S"),
    _less(PH=1, H=1),
    _less(PW=1, W=1),
)


def _norm_sizes(case: Case) -> Sizes:
    n, c, h, w = case.arrays["x"].shape
    return dict(N=n, C=c, H=h, W=w, G=case.settings.get("G", c))


def _norm_spec(per_channel: tuple[int, ...]) -> Callable[[Sizes], dict[str, Any]]:
    def spec(s: Sizes) -> dict[str, Any]:
        param_shape = [s["C"] if d == -1 else d for d in per_channel]
        return {
            "x": _shape(s["N"], s["C"], s["H"], s["W"]),
            "gamma": {"shape": param_shape},
            "beta": {"shape": param_shape},
            "G": s["G"],
        }

    return spec


def _norm_valid(s: Sizes) -> bool:
    return (
        all(v >= 1 for v in s.values())
        and s["C"] % s["G"] == 0
        and s["N"] * s["H"] * s["W"] * (s["C"] // s["G"]) >= 2
    )


def _fewer_groups(s: Sizes) -> Sizes:
    return {**s, "G": s["G"] - 1, "C": (s["G"] - 1) * (s["C"] // s["G"])}


NORM_MOVES = (_less(N=1), _less(C="G"), _fewer_groups, _less(H=1), _less(W=1))


def _conv_out(s: Sizes) -> tuple[int, ...]:
    rows = (s["H"] + 2 * s["P"] - s["HH"]) // s["S"] + 1
    return (s["N"], s["F"], rows, (s["W"] + 2 * s["P"] - s["WW"]) // s["S"] + 1)


def _pool_out(s: Sizes) -> tuple[int, ...]:
    return (s["N"], s["C"], (s["H"] - s["PH"]) // s["S"] + 1, (s["W"] - s["PW"]) // s["S"] + 1)


def _norm_out(s: Sizes) -> tuple[int, ...]:
    return (s["N"], s["C"], s["H"], s["W"])


CONV = Geometry(_conv_sizes, _conv_spec, _conv_valid, CONV_MOVES, _conv_out)
POOL = Geometry(_pool_sizes, _pool_spec, _pool_valid, POOL_MOVES, _pool_out)
BATCHNORM_MOVES = (_less(N=1), _less(C=1), _less(H=1), _less(W=1))
GEOMETRIES = {
    "conv": CONV,
    "conv_relu": CONV,
    "max_pool": POOL,
    "avg_pool": POOL,
    "spatial_batchnorm": Geometry(
        _norm_sizes, _norm_spec((-1,)), _norm_valid, BATCHNORM_MOVES, _norm_out
    ),
    "spatial_groupnorm": Geometry(
        _norm_sizes, _norm_spec((1, -1, 1, 1)), _norm_valid, NORM_MOVES, _norm_out
    ),
}


@dataclass(frozen=True)
class Search:
    """How one failing function is judged on a fresh case, and how its example is written.

    `kind`: "answer" (its output or gradient differs from the course's, which needs the course's
    answers for fresh inputs), "own_gradient" (its backward disagrees with the numeric gradient of
    its own forward) or "inputs" (it writes into the arrays it was given); the last two need no
    answers, so a student kit can search for them too.
    """

    kind: str
    stage: str  # "forward" or "backward": the calls the example makes
    fails: Callable[[Case, float], bool]  # (fresh case, seconds it may take)

    @property
    def needs_answers(self) -> bool:
        return self.kind == "answer"


def shrink(case: Case, search: Search, budget_s: float) -> dict[str, Any] | None:
    """The smallest fresh case on which the function still fails, as details for the check's
    result (the case, the sizes, whether the time ran out); None when no fresh draw of the
    failing case's own sizes fails (the failure needs its particular values)."""
    geometry = GEOMETRIES.get(case.family.name)
    if geometry is None or case.train_batches or case.is_float32:
        return None
    deadline = time.monotonic() + budget_s
    sizes = geometry.read(case)
    seed = next(
        (
            s
            for s in SEEDS
            if _left(deadline) and _fails(case, geometry, sizes, s, search, deadline)
        ),
        None,
    )
    if seed is None:
        return None
    stopped_early = False
    shrunk = True
    while shrunk and not stopped_early:
        shrunk = False
        for move in geometry.moves:
            if not _left(deadline):
                stopped_early = True
                break
            smaller = move(sizes)
            if geometry.valid(smaller) and _fails(case, geometry, smaller, seed, search, deadline):
                sizes, shrunk = smaller, True
    fresh = _fresh(case, geometry, sizes, seed, search.needs_answers)
    return {"sizes": sizes, "seed": seed, "stopped_early": stopped_early, "fresh": fresh}


def _fresh(case: Case, geometry: Geometry, sizes: Sizes, seed: int, answered: bool) -> Case:
    """A case of `sizes` with fresh values; its dout is drawn after the inputs, as the printed
    code draws it, shaped like the course's output (or, without answers, like the geometry's)."""
    spec = {**geometry.spec(sizes), **_kept_settings(case)}
    if "G" not in case.family.signature:
        spec.pop("G", None)
    rng = np.random.RandomState(seed)
    fresh = draw_case(case.family, f"counterexample_{seed}", spec, rng)
    if answered:
        course_layers.answer(fresh, rng)
    else:
        fresh.dout = rng.randn(*geometry.out_shape(sizes))
    return fresh


def _kept_settings(case: Case) -> dict[str, Any]:
    """The case's own eps and momentum (a sandwich's pool settings too)."""
    kept: dict[str, Any] = {}
    for param in ("bn_param", "gn_param"):
        kept.update({k: v for k, v in case.settings.get(param, {}).items() if k != "mode"})
    pool = case.settings.get("pool_param")
    if pool and "conv_param" in case.settings:
        kept.update(
            pool_height=pool["pool_height"],
            pool_width=pool["pool_width"],
            pool_stride=pool["stride"],
        )
    return kept


def _left(deadline: float) -> float:
    """Seconds of the search's budget left: each trial may take at most that long."""
    return max(0.0, deadline - time.monotonic())


def _fails(
    case: Case, geometry: Geometry, sizes: Sizes, seed: int, search: Search, deadline: float
) -> bool:
    try:
        fresh = _fresh(case, geometry, sizes, seed, search.needs_answers)
    except (ValueError, KeyError, IndexError, ZeroDivisionError, TypeError):
        return False  # the course's layers refuse this geometry: not a valid one
    return search.fails(fresh, _left(deadline))


def answer_search(ctx: Any, stage: str, tolerance: float) -> Search:
    """Fails when the function's answer differs from the course's on the fresh case."""

    def fails(fresh: Case, seconds: float) -> bool:
        obs = run_case(ctx.sandbox, fresh, _bounded(ctx, fresh, seconds))
        return _wrong_answer(fresh, obs, stage, tolerance)

    return Search("answer", stage, fails)


def own_gradient_search(ctx: Any, tolerance: float) -> Search:
    """Fails when the backward disagrees with the numeric gradient of the student's own forward."""

    def fails(fresh: Case, seconds: float) -> bool:
        options = _bounded(ctx, fresh, seconds)
        obs = run_case(ctx.sandbox, fresh, options)
        if obs.error:
            return False
        obs.numeric, obs.coords = numeric_evaluations(
            ctx.sandbox, fresh, options, np.random.RandomState(0)
        )
        grads = obs.grads if isinstance(obs.grads, tuple) else (obs.grads,)
        for name, got in zip(fresh.family.grads, grads):
            if name not in obs.numeric or getattr(got, "shape", None) != fresh.arrays[name].shape:
                continue
            numeric = numeric_gradient(obs, name, options.numeric_h)
            if rel_error(got[tuple(obs.coords[name].T)], numeric) > tolerance:
                return True
        return False

    return Search("own_gradient", "backward", fails)


def inputs_search(ctx: Any) -> Search:
    """Fails when the forward or the backward writes into an array it was given."""

    def fails(fresh: Case, seconds: float) -> bool:
        obs = run_case(ctx.sandbox, fresh, _bounded(ctx, fresh, seconds))
        before = {**fresh.arrays, "dout": fresh.dout}
        after = [*obs.after_forward.items(), *obs.after_backward.items()]
        return any(
            type(v) is np.ndarray and not np.array_equal(v, before[n], equal_nan=True)
            for n, v in after
        )

    return Search("inputs", "backward", fails)


def _bounded(ctx: Any, fresh: Case, seconds: float) -> CaseRunOptions:
    """The case's run options, each call cut at the search's remaining budget."""
    options = ctx.run_options(fresh)
    limit = seconds if options.timeout is None else min(seconds, options.timeout)
    return dataclasses.replace(options, timeout=max(limit, 0.1))


def _wrong_answer(case: Case, obs: Observation, stage: str, tolerance: float) -> bool:
    """The function ran and answered wrongly (a crash is another failure, shown by its
    traceback, so it does not count here)."""
    if obs.error:
        return False
    if stage == "forward":
        out = obs.forward[0] if isinstance(obs.forward, tuple) else obs.forward
        return compare_arrays(out, case.ref_out, "out", tolerance) is not None
    grads = obs.grads if isinstance(obs.grads, tuple) else (obs.grads,)
    return any(
        compare_arrays(got, expected, f"d{name}", tolerance) is not None
        for name, got, expected in zip(case.family.grads, grads, case.ref_grads)
    )


def code(found: dict[str, Any], module: str, search: Search) -> str:
    """The counterexample as NumPy lines: the inputs, the calls, and what shows the failure."""
    fresh: Case = found["fresh"]
    fam = fresh.family
    backward = search.stage == "backward" and fam.backward is not None
    names = [fam.forward] + ([fam.backward] if backward else [])
    lines = [
        "import numpy as np",
        f"from {module} import {', '.join(names)}",
        "",
        f"rng = np.random.RandomState({found['seed']})",
    ]
    lines += [f"{name} = rng.randn{tuple(a.shape)}" for name, a in fresh.arrays.items()]
    lines += [f"{key} = {value!r}" for key, value in fresh.settings.items()]
    if search.kind == "inputs":
        lines += [f"{name}_given = {name}.copy()" for name in fam.arrays]
    args = ", ".join(fam.signature)
    lines.append(f"out, cache = {fam.forward}({args})")
    given = list(fam.arrays)
    if backward:
        lines.append("dout = rng.randn(*out.shape)")
        if search.kind == "inputs":
            lines.append("dout_given = dout.copy()")
            given.append("dout")
        grads = ", ".join(f"d{g}" for g in fam.grads)
        lines.append(f"{grads} = {fam.backward}(dout, cache)")
    if search.kind == "inputs":
        lines += [
            f'print("{name} changed:", not np.array_equal({name}, {name}_given))' for name in given
        ]
    elif search.kind == "own_gradient":
        lines = lines[:2] + NUMERIC.splitlines() + lines[2:]
        for name in fam.grads:
            others = ", ".join(fam.signature)
            lines += [
                f"d{name}_num = numeric(lambda: {fam.forward}({others})[0], {name}, dout)",
                f'print("your d{name}:", d{name})',
                f'print("numeric gradient of your forward:", d{name}_num)',
            ]
    elif backward:
        for name, expected in zip(fam.grads, fresh.ref_grads):
            lines += _beside(f"d{name}", expected)
    else:
        lines += _beside("out", fresh.ref_out)
    return "\n".join(lines)


NUMERIC = """
def numeric(f, x, dout, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + h
        plus = f().copy()
        x[i] = old - h
        minus = f().copy()
        x[i] = old
        grad[i] = np.sum((plus - minus) * dout) / (2 * h)
    return grad
"""


def _beside(name: str, expected: np.ndarray) -> list[str]:
    text = np.array2string(np.asarray(expected), separator=", ", precision=6, threshold=10**6)
    return [f'print("your {name}:", {name})', f'print("expected {name}:", np.array({text}))']
