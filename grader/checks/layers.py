"""Forward, backward and input-safety checks of the layer functions.

Each case of a check passes only on positive evidence: a validated array matching the
reference (or the notebook's printed answer). A backward that misses the reference is also
compared with the numeric gradient of the student's own forward, so the message can say
whether the forward, the backward, or both are wrong.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import numpy as np

from grader.assignment import CheckSpec
from grader.cases import Case
from grader import course_layers
from grader.checks import counterexample, hints, register
from grader.checks.base import CaseOutcome, GradingContext, combine, error_summary
from grader.results import CheckResult
from grader.compare import METRICS, Mismatch, check_array, compare_arrays, describe, rel_error
from grader.options import Options, option
from grader.run_case import Observation, numeric_gradient


class LayerOptions(Options):
    """Options of a forward or backward check."""

    tolerance: float | None = option(
        None,
        "the check's own tolerance for float64 cases (default: the assignment's "
        "forward_tolerance or backward_tolerance)",
    )


class InputsOptions(Options):
    """Options of an input-safety check."""

    function: Literal["forward", "backward", "both"] = option(
        "both", "whose changes to its inputs are judged: the forward's, the backward's, or both"
    )


@register("forward", options=LayerOptions, cases=True)
def forward_check(spec: CheckSpec, opts: LayerOptions, ctx: GradingContext):
    target = ctx.family(spec).forward
    return _layer_check(spec, ctx, target, lambda case: _forward_case(ctx, opts, case), opts)


@register("backward", options=LayerOptions, cases=True)
def backward_check(spec: CheckSpec, opts: LayerOptions, ctx: GradingContext):
    fam = ctx.family(spec)
    target = fam.forward if fam.returns_loss else fam.backward
    return _layer_check(spec, ctx, target, lambda case: _backward_case(ctx, opts, case), opts)


@register("inputs", options=InputsOptions, cases=True)
def inputs_check(spec: CheckSpec, opts: InputsOptions, ctx: GradingContext):
    fam = ctx.family(spec)
    which = opts.function
    target = fam.forward if which == "forward" else (fam.backward or fam.forward)
    return _layer_check(spec, ctx, target, lambda case: _inputs_case(ctx, case, which), None)


def _layer_check(
    spec: CheckSpec,
    ctx: GradingContext,
    target: str,
    judge: Callable[[Case], CaseOutcome],
    opts: LayerOptions | None,
) -> CheckResult:
    """Judge each case of `spec` (unless its part was not handed in), then combine; a failed
    check gets its counterexample."""
    skipped = ctx.not_handed_in(spec, ctx.family(spec).role, target)
    if skipped:
        return skipped
    cases = ctx.cases(spec)
    outcomes = [judge(case) for case in cases]
    result = combine(spec, target, outcomes)
    return _with_counterexample(result, ctx, opts, cases, outcomes, spec.kind)


def _with_counterexample(
    result: CheckResult,
    ctx: GradingContext,
    opts: LayerOptions | None,
    cases: list[Case],
    outcomes: list[CaseOutcome],
    stage: str,
) -> CheckResult:
    """A failed check gets the smallest fresh input on which its function still fails: judged
    against the course's answers where they are at hand for any input, else (a student kit) by
    what needs none: a backward against its own forward, inputs written into."""
    budget = ctx.assignment.defaults.counterexample_seconds
    failing = [c for c, o in zip(cases, outcomes) if o.status == "failed"]
    if result.status != "failed" or not failing or budget <= 0:
        return result
    case = failing[0]
    search = _search(ctx, opts, case, stage)
    if search is None:
        return result
    found = ctx.counterexample(
        f"{result.target}:{search.kind}", lambda: counterexample.shrink(case, search, budget)
    )
    if found:
        result.details["counterexample"] = {
            "code": counterexample.code(found, ctx.modules[case.family.role], search),
            "sizes": found["sizes"],
            "stopped_early": found["stopped_early"],
        }
    return result


def _search(
    ctx: GradingContext, opts: LayerOptions | None, case: Case, stage: str
) -> counterexample.Search | None:
    if stage == "inputs":
        return counterexample.inputs_search(ctx)
    if course_layers.answers_any_input():
        tolerance = ctx.tolerance(stage, case, opts.tolerance if opts else None)
        return counterexample.answer_search(ctx, stage, tolerance)
    if stage == "backward" and not case.family.returns_loss:
        return counterexample.own_gradient_search(ctx, ctx.assignment.defaults.numeric_tolerance)
    return None


def _forward_case(ctx: GradingContext, opts: LayerOptions, case: Case) -> CaseOutcome:
    fam = case.family
    missing = ctx.unavailable(fam.forward, fam.role)
    if missing:
        return missing.for_case(case)
    obs = ctx.observe(case)
    if obs.error and obs.failed_stage == "forward":
        return CaseOutcome.from_error(case, fam.forward, obs.error)
    out, problem = _unpack_forward(obs)
    if problem:
        return CaseOutcome.failed(case, problem)
    tolerance = ctx.tolerance("forward", case, opts.tolerance)
    if case.expected is not None:
        expected, tolerance, metric = (
            case.expected,
            case.expected_tolerance or tolerance,
            "rel_error",
        )
    else:
        expected, metric = case.ref_out, ctx.metric(case)
    mismatch = compare_arrays(
        out, expected, "loss" if fam.returns_loss else "out", tolerance, metric
    )
    if mismatch is None:
        return CaseOutcome.passed(case, error=_error(out, expected, metric))
    return CaseOutcome.failed(case, mismatch, hint=hints.forward_hint(case, out, obs))


def _backward_case(ctx: GradingContext, opts: LayerOptions, case: Case) -> CaseOutcome:
    fam = case.family
    missing = _unavailable(ctx, case)
    if missing:
        return missing
    obs = ctx.observe(case)
    if obs.error:
        failed_fn = fam.forward if obs.failed_stage == "forward" else fam.backward
        return CaseOutcome.from_error(
            case,
            failed_fn,
            obs.error,
            forward_first=obs.failed_stage == "forward" and not fam.returns_loss,
        )
    grads, problem = _unpack_grads(obs)
    if problem:
        return CaseOutcome.failed(case, problem)
    worst, propagated = 0.0, None
    for name, got, expected in zip(fam.grads, grads, case.ref_grads):
        label = f"d{name}"
        if case.compare == "max_pool_ties":
            mismatch = _check_pool_ties(case, got)
        else:
            tolerance = ctx.tolerance("backward", case, opts.tolerance)
            mismatch = compare_arrays(got, expected, label, tolerance, ctx.metric(case))
        if mismatch and not fam.returns_loss:
            mistake = _forward_mistake_propagated(ctx, case, obs, name, got)
            if mistake:
                propagated = mistake
                continue
        if mismatch:
            verdict = _two_way_verdict(ctx, case, obs, name, got)
            hint = hints.backward_hint(case, name, got, expected)
            mismatch.message = f"{mismatch.message}. {verdict}".strip(". ") + "."
            mismatch.summary = f"{mismatch.summary}. {verdict}".strip(". ") + "."
            return CaseOutcome.failed(case, mismatch, hint=hint)
        if case.compare != "max_pool_ties":
            worst = max(worst, _error(got, expected, ctx.metric(case)))
    if propagated:
        message = (
            "the forward's mistake propagated: this backward is the exact gradient of your own"
            f" forward, so it keeps its points ({propagated})"
        )
        return CaseOutcome(case.name, "passed", message, None, {"propagated": propagated})
    return CaseOutcome.passed(case, error=worst)


def _forward_mistake_propagated(
    ctx: GradingContext, case: Case, obs: Observation, name: str, got: Any
) -> str | None:
    """The forward's mistake, when a hint probe confirms it and this gradient is the numeric
    gradient of the student's own forward: one mistake is charged once, to the forward. (The
    probe's confirmation keeps a degenerate forward, all zeros say, from earning anything.)"""
    out, problem = _unpack_forward(obs)
    if problem or out is None:
        return None
    tolerance = ctx.tolerance("forward", case)
    if compare_arrays(out, case.ref_out, "out", tolerance, ctx.metric(case)) is None:
        return None
    confirmed = hints.forward_hint(case, out, obs)
    if not confirmed or not _consistent_with_own_forward(ctx, obs, name, got):
        return None
    return confirmed


def _inputs_case(ctx: GradingContext, case: Case, which: str) -> CaseOutcome:
    """Were the input arrays left as they were? Judged on the functions `which` names only."""
    missing = _unavailable(ctx, case, forward_only=which == "forward")
    if missing:
        return missing
    obs = ctx.observe(case)
    if (
        obs.error and (which != "forward" or obs.failed_stage == "forward")
    ) or not obs.after_forward:
        reason = obs.error.message if obs.error else "the functions did not run"
        summary = error_summary(obs.error) if obs.error else reason
        return CaseOutcome.errored(
            case,
            f"could not check the inputs: {reason}",
            summary=f"could not check the inputs: the code {summary}",
        )
    wrong = _wrong_output(ctx, case, obs, which)
    if wrong:
        return CaseOutcome.failed(
            case,
            Mismatch(
                f"not earned: {wrong}; leaving the inputs untouched counts only for a function"
                " that does its job",
                summary=f"not earned: {wrong}",
            ),
        )
    changed = []
    if which in ("forward", "both"):
        changed += [
            f"{n} (by {case.family.forward})"
            for n, v in obs.after_forward.items()
            if not _same(v, case.arrays[n])
        ]
    if which in ("backward", "both") and obs.after_backward:
        fn = case.family.backward or case.family.forward
        before = {**obs.after_forward, "dout": case.dout}
        changed += [
            f"{n} (by {fn})" for n, v in obs.after_backward.items() if not _same(v, before[n])
        ]
    if changed:
        return CaseOutcome.failed(
            case,
            Mismatch(
                f"modified its input arrays in place: {', '.join(changed)}",
                summary=f"modified its input arrays in place: {', '.join(changed)}",
            ),
            hint=(
                "Work on copies (e.g. `x = x.copy()` or `np.pad(x, ...)`) instead of writing into"
                " the arrays you were given: callers reuse them."
            ),
        )
    return CaseOutcome.passed(case)


def _wrong_output(ctx: GradingContext, case: Case, obs: Observation, which: str) -> str | None:
    """Whether the function the check is named after (the forward when `which` is "forward",
    else the backward) gives a wrong output on this case; None when it is right. The other
    function's mistakes are charged by its own checks."""
    fam, metric = case.family, ctx.metric(case)
    if which == "forward":
        out, problem = _unpack_forward(obs)
        tolerance = ctx.tolerance("forward", case)
        if problem or compare_arrays(out, case.ref_out, "out", tolerance, metric):
            return f"{fam.forward}'s output on this case is wrong (see its forward checks)"
        return None
    if not obs.after_backward:
        return None
    grads, problem = _unpack_grads(obs)
    tolerance = ctx.tolerance("backward", case)
    mismatches = [
        (
            _check_pool_ties(case, got)
            if case.compare == "max_pool_ties"
            else compare_arrays(got, expected, f"d{name}", tolerance, metric)
        )
        and not (not fam.returns_loss and _forward_mistake_propagated(ctx, case, obs, name, got))
        for name, got, expected in zip(fam.grads, grads, case.ref_grads)
    ]
    if problem or any(mismatches):
        return f"{fam.backward or fam.forward}'s gradients on this case are wrong"
    return None


def _unavailable(ctx: GradingContext, case: Case, forward_only: bool = False) -> CaseOutcome | None:
    """The outcome when the forward (or the backward) cannot run at all (missing, unimportable,
    hung)."""
    fam = case.family
    for fn in filter(None, (fam.forward, None if forward_only else fam.backward)):
        missing = ctx.unavailable(fn, fam.role)
        if missing:
            return missing.for_case(case)
    return None


def _unpack_forward(obs: Observation) -> tuple[Any, Mismatch | None]:
    fam = obs.case.family
    result = obs.forward
    if isinstance(result, tuple) and len(result) == 2:
        out = result[0]
        if fam.returns_loss and isinstance(out, (int, float)) and not isinstance(out, bool):
            out = np.asarray(float(out))
        return out, None
    what = "(loss, dx)" if fam.returns_loss else "(out, cache)"
    return None, Mismatch(
        f"{fam.forward} should return a tuple {what}, but it returned {describe(result)}",
        summary=f"{fam.forward} does not return a tuple {what}",
    )


def _unpack_grads(obs: Observation) -> tuple[tuple[Any, ...], Mismatch | None]:
    fam = obs.case.family
    if fam.returns_loss:
        result = obs.forward
        if isinstance(result, tuple) and len(result) == 2:
            return (result[1],), None
        return (), Mismatch(
            f"{fam.forward} should return a tuple (loss, dx), but it returned {describe(result)}",
            summary=f"{fam.forward} does not return a tuple (loss, dx)",
        )
    grads = obs.grads
    if len(fam.grads) == 1:
        if isinstance(grads, tuple):
            return (), Mismatch(
                f"{fam.backward} should return the array dx alone, but it returned"
                f" {describe(grads)}",
                summary=f"{fam.backward} does not return the array dx alone",
            )
        return (grads,), None
    if isinstance(grads, tuple) and len(grads) == len(fam.grads):
        return grads, None
    names = ", ".join(f"d{g}" for g in fam.grads)
    return (), Mismatch(
        f"{fam.backward} should return a tuple ({names}), but it returned {describe(grads)}",
        summary=f"{fam.backward} does not return a tuple ({names})",
    )


def _two_way_verdict(ctx: GradingContext, case: Case, obs: Observation, name: str, got: Any) -> str:
    """Say whether the forward, the backward, or both are wrong, using the student's own forward."""
    out, _ = _unpack_forward(obs)
    forward_ok = (
        out is not None
        and compare_arrays(
            out, case.ref_out, "out", ctx.tolerance("forward", case), ctx.metric(case)
        )
        is None
    )
    consistent = _consistent_with_own_forward(ctx, obs, name, got)
    if consistent is None:
        return "" if forward_ok else "Your forward is wrong too (see the forward check)."
    if forward_ok and not consistent:
        return (
            "Your backward does not match your own forward (checked against its numeric gradient)"
        )
    if not forward_ok and consistent:
        return (
            "Your forward is wrong; your backward matches your own forward, so fix the forward"
            " first"
        )
    if not forward_ok:
        return (
            "Both are wrong: your forward differs from the reference and your backward does not"
            " match your own forward"
        )
    return "Your backward matches your own forward numerically here, yet not the reference"


def _consistent_with_own_forward(
    ctx: GradingContext, obs: Observation, name: str, got: Any
) -> bool | None:
    """Does `got` agree with the numeric gradient of the student's own forward? (None: unknown.)"""
    shape = getattr(obs.case.arrays.get(name), "shape", None)
    if type(got) is not np.ndarray or got.shape != shape:
        return None
    obs = ctx.observe(obs.case, numeric=True)
    if name not in obs.numeric:
        return None
    try:
        numeric = numeric_gradient(obs, name, ctx.assignment.defaults.numeric_h)
    except (ValueError, TypeError):
        return None
    analytic = got[tuple(obs.coords[name].T)]
    return rel_error(analytic, numeric) <= ctx.assignment.defaults.numeric_tolerance


def _check_pool_ties(case: Case, dx: Any) -> Mismatch | None:
    """Ties: each window's gradient lands only on maximal entries and sums to its upstream value."""
    x = case.arrays["x"]
    invalid = check_array(dx, x, "dx")
    if invalid:
        return invalid
    p = case.settings["pool_param"]
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    for n, c, i, j in np.ndindex(*case.dout.shape):
        window = (n, c, slice(i * s, i * s + ph), slice(j * s, j * s + pw))
        xs, ds = x[window], dx[window]
        off_max = np.abs(ds[xs < xs.max()]).max(initial=0.0)
        total = ds.sum()
        if off_max > 1e-9 or abs(total - case.dout[n, c, i, j]) > 1e-9 * max(1.0, abs(total)):
            return Mismatch(
                f"window {(n, c, i, j)} has tied maxima: its gradient must go only to maximal"
                f" entries and sum to the upstream gradient {case.dout[n, c, i, j]:.6g}; got a sum"
                f" of {total:.6g}"
                + (" with gradient on non-maximal entries" if off_max > 1e-9 else ""),
                where=[int(n), int(c), int(i), int(j)],
                summary="dx is wrong where a pooling window has tied maxima",
            )
    return None


def _same(after: Any, before: np.ndarray) -> bool:
    return (
        type(after) is np.ndarray
        and after.shape == before.shape
        and np.array_equal(after, before, equal_nan=True)
    )


def _error(got: np.ndarray, expected: np.ndarray, metric: str) -> float:
    return METRICS[metric](got, expected)
