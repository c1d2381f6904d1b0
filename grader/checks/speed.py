"""Speed checks (kind "speed"): naive layers against textbook loops, fast layers against naive.

The assignment asks for naive layers and says not to worry about their speed, so the baseline
is the textbook answer, loops over every output index (reference/textbook_layers.py, reaching
the child as `_grader_baseline`, used only here), and only pathological slowness fails; the
fast layers' bars stay relative to the course's naive layers, as the notebook measures them. Each
check times one function, the one it charges. Times are the child's CPU time, so a busy machine
changes no grade; the functions compared run in the same worker on the same inputs, interleaved
round by round; a check takes the median of the per-round ratios and fails only when a second
measurement agrees. A speed point goes with a correct function: the timed call's own output is
compared with the reference computed in the parent, and a wrong one earns nothing.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np

from grader.assignment import CheckSpec
from grader.cases import Case
from grader.checks import Aspects, register
from grader.checks.base import CaseOutcome, GradingContext, combine
from grader.compare import compare_arrays
from grader.results import CheckResult
from grader.sandbox.steps import Program, Step, call, ref, ret, timed
from grader.options import Options, option
from grader.oracle import COURSE_DIR

BASELINE_MODULE = "_grader_baseline"  # textbook loops: what the naive layers are timed against
COURSE_NAIVE_MODULE = "_grader_course_naive"  # the course's naive layers, for the fast-layer bars
STAGES = ("forward", "backward")


class Timing(Options):
    """How a speed check measures."""

    rounds: int = option(5, "interleaved timed rounds per measurement (ratios are their median)")
    time_limit: float = option(60.0, "seconds one measurement may take")


class NaiveSpeed(Timing, aspect="naive"):
    """One naive layer function timed against textbook loops."""

    stage: Literal["forward", "backward"] = option(
        "forward", "the function timed and charged: the family's forward or its backward"
    )
    max_ratio: float = option(
        6.0, "how many times the CPU time of textbook loops the student's function may take"
    )


class FastSpeed(Timing, aspect="fast"):
    """The submission's own fast layers: right, and faster than the naive ones."""

    factor: float = option(0.1, "the share of the notebook's speed-up the fast layers must reach")
    notebook_speedup: dict[Literal["forward", "backward"], float] = option(
        {},
        "the notebook's speed-up of the fast layers over the naive ones, per stage (10 if not"
        " given)",
    )

    def speedup(self, stage: str) -> float:
        return self.notebook_speedup.get(stage, 10.0)


def private_modules() -> dict[str, str]:
    return {
        BASELINE_MODULE: (COURSE_DIR / "textbook_layers.py").read_text(),
        COURSE_NAIVE_MODULE: (COURSE_DIR / "layers.py").read_text(),
    }


@register(
    "speed",
    options=Aspects((NaiveSpeed, FastSpeed), default="naive"),
    cases=True,
    private_modules=private_modules,
)
def speed_check(spec: CheckSpec, opts: NaiveSpeed | FastSpeed, ctx: GradingContext) -> CheckResult:
    fam = ctx.family(spec)
    if isinstance(opts, FastSpeed):
        skipped = ctx.not_handed_in(spec, "fast_layers", _fast(fam.forward))
        return skipped or combine(
            spec, _fast(fam.forward), [_fast_case(opts, ctx, c) for c in ctx.cases(spec)]
        )
    function = getattr(fam, opts.stage)
    skipped = ctx.not_handed_in(spec, fam.role, function)
    return skipped or combine(spec, function, [_naive_case(opts, ctx, c) for c in ctx.cases(spec)])


def _fast(name: str) -> str:
    return name.replace("_naive", "_fast")


def _naive_case(opts: NaiveSpeed, ctx: GradingContext, case: Case) -> CaseOutcome:
    """Student / textbook loops in CPU time: fails above max_ratio, only when a re-measurement
    agrees, and earns nothing when the timed function's output is wrong."""
    fam, stage = case.family, opts.stage
    function = getattr(fam, stage)
    for fn in (fam.forward, function):
        missing = ctx.unavailable(fn, fam.role)
        if missing:
            return missing.for_case(case)
    limit = opts.max_ratio
    layers = {
        "student": (ctx.modules[fam.role], fam.forward, fam.backward),
        "textbook": (BASELINE_MODULE, fam.forward, fam.backward),
    }
    measurements: list[float] = []
    for _ in range(2):
        timing = _measure(opts, ctx, case, layers, stages=(stage,))
        if isinstance(timing, CaseOutcome):
            return timing
        if not measurements:
            wrong = _output_problem(ctx, case, timing["outputs"]["student"], stage, function)
            if wrong:
                message = f"not earned: the timed call's output is wrong ({wrong})"
                hint = f"The speed point goes with a correct {function}: see its {stage} checks."
                return CaseOutcome(case.name, "failed", message, hint, {"case": case.describe()})
        measurements.append(_median_ratio(timing, "student", "textbook", stage))
        if measurements[-1] <= limit:
            break
    details = {"case": case.describe(), "ratios": measurements, "max_ratio": limit}
    worst = min(measurements)
    if worst > limit:
        message = (
            f"{function} takes {worst:.1f}x the CPU time of textbook loops over every output index"
            f" (limit {limit:g}x; measured twice, median of interleaved rounds)"
        )
        hint = (
            "Something inside your loops is redone for every output index (padding or copying the"
            " whole input, allocating a full-size array): do it once, before the loops."
        )
        return CaseOutcome(case.name, "failed", message, hint, details)
    details["summary"] = f"{stage} {measurements[-1]:.1f}x textbook loops (CPU time)"
    return CaseOutcome(case.name, "passed", "", None, details)


def _fast_case(opts: FastSpeed, ctx: GradingContext, case: Case) -> CaseOutcome:
    """The submission's fast layers: right answers, and faster than naive by the notebook's figures
    x factor."""
    fam = case.family
    fast = ctx.modules["fast_layers"]
    naive = ctx.modules[fam.role]
    layers = {
        "fast": (fast, _fast(fam.forward), _fast(fam.backward)),
        "student": (naive, fam.forward, fam.backward),
        "course": (COURSE_NAIVE_MODULE, fam.forward, fam.backward),
    }
    factor = opts.factor
    bars = {stage: factor * opts.speedup(stage) for stage in STAGES}
    speedups, measurements = {}, []
    for attempt in range(2):
        timing = _measure(opts, ctx, case, layers)
        if isinstance(timing, CaseOutcome):
            return timing
        if attempt == 0:
            wrong = _fast_mismatch(ctx, case, timing["outputs"])
            if wrong:
                return CaseOutcome(case.name, "failed", wrong, None, {"case": case.describe()})
        # Against the slower naive version: a student whose own naive layers are fast loses nothing.
        speedups = {
            s: max(
                _median_ratio(timing, "student", "fast", s),
                _median_ratio(timing, "course", "fast", s),
            )
            for s in STAGES
        }
        measurements.append(speedups)
        if all(speedups[s] >= bars[s] for s in STAGES):
            break
    best = {s: max(m[s] for m in measurements) for s in STAGES}
    details = {"case": case.describe(), "speedups": measurements, "required": bars}
    slow = [
        f"{_fast(getattr(fam, s))} is only {best[s]:.1f}x faster than the naive version (required"
        f" {bars[s]:.1f}x: {factor:g} of the notebook's {opts.speedup(s)}x)"
        for s in STAGES
        if best[s] < bars[s]
    ]
    if slow:
        return CaseOutcome(
            case.name, "failed", "; ".join(slow) + " (measured twice)", None, details
        )
    return CaseOutcome(case.name, "passed", "", None, details)


def _measure(
    opts: Timing,
    ctx: GradingContext,
    case: Case,
    layers: dict[str, tuple[str, str, str]],
    stages: tuple[str, ...] = STAGES,
) -> dict | CaseOutcome:
    """One worker: each function once (warm-up, and the cache for its backward), then interleaved
    timed rounds of `stages`."""
    rounds = opts.rounds
    arrays = {**case.arrays, "dout": case.dout}
    args = [ref(p) if p in case.arrays else case.settings[p] for p in case.family.signature]
    steps: list[Step] = []
    returned: dict[str, Any] = {}
    for who, (module, forward, _) in layers.items():
        steps.append(call(f"{module}:{forward}", *args, as_=f"{who}_fwd"))
        returned[f"{who}_out"] = ref(f"{who}_fwd", 0)
    # A forward's check never runs the backward: a crashing backward costs only its own point.
    for who, (module, _, backward) in layers.items() if "backward" in stages else ():
        steps.append(
            call(f"{module}:{backward}", ref("dout"), ref(f"{who}_fwd", 1), as_=f"{who}_bwd")
        )
        returned[f"{who}_grads"] = ref(f"{who}_bwd")
    for r in range(rounds):
        for who, (module, forward, backward) in layers.items():
            timed_calls = {
                "forward": call(f"{module}:{forward}", *args),
                "backward": call(f"{module}:{backward}", ref("dout"), ref(f"{who}_fwd", 1)),
            }
            for s in stages:
                steps.append(timed(timed_calls[s], as_=f"t{r}_{who}_{s}"))
                returned[f"t{r}_{who}_{s}"] = ref(f"t{r}_{who}_{s}")
    timeout = max(1.0, min(opts.time_limit, ctx.deadline - time.monotonic()))
    reply = ctx.sandbox.run(Program([*steps, ret(**returned)], arrays), timeout=timeout)
    if not reply.ok:
        kind = reply.error.kind
        what = (
            f"did not finish {rounds} timed rounds within {timeout:g} s"
            if kind == "timeout"
            else reply.error.message
        )
        return CaseOutcome(
            case.name,
            "failed" if kind == "timeout" else "error",
            f"could not be timed: {what}",
            None,
            {"case": case.describe()},
        )
    values = reply.values
    times = {
        (who, s): [_seconds(values.get(f"t{r}_{who}_{s}")) for r in range(rounds)]
        for who in layers
        for s in stages
    }
    return {
        "times": times,
        "outputs": {who: (values[f"{who}_out"], values.get(f"{who}_grads")) for who in layers},
    }


def _seconds(value: Any) -> float:
    if isinstance(value, list) and value and isinstance(value[0], float):
        return max(value[0], 1e-7)
    raise ValueError(f"a timing step returned {value!r}")


def _median_ratio(timing: dict, numerator: str, denominator: str, stage: str) -> float:
    top, bottom = timing["times"][(numerator, stage)], timing["times"][(denominator, stage)]
    return float(np.median([a / b for a, b in zip(top, bottom)]))


def _fast_mismatch(ctx: GradingContext, case: Case, outputs: dict) -> str | None:
    fam = case.family
    for stage in STAGES:
        problem = _output_problem(ctx, case, outputs["fast"], stage, _fast(getattr(fam, stage)))
        if problem:
            return problem
    return None


def _output_problem(
    ctx: GradingContext, case: Case, output: tuple, stage: str, function: str
) -> str | None:
    """What is wrong with a timed function's output (`output`: its forward's out and its
    backward's gradients), against the reference computed in the parent; None when right."""
    out, grads = output
    tolerance = ctx.tolerance("backward", case)
    if stage == "forward":
        problem = compare_arrays(out, case.ref_out, "out", tolerance)
        return f"{function}: {problem.message}" if problem else None
    if len(case.family.grads) == 1:
        grads = (grads,)
    if not isinstance(grads, tuple) or len(grads) != len(case.ref_grads):
        return f"{function} should return {len(case.ref_grads)} gradient(s)"
    for name, got, expected in zip(case.family.grads, grads, case.ref_grads):
        problem = compare_arrays(got, expected, f"d{name}", tolerance)
        if problem:
            return f"{function}: {problem.message}"
    return None
