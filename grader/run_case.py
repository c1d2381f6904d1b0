"""Running one case through a submission's layer functions in the sandbox -> an `Observation`.

One program per case runs the forward, snapshots the inputs and runs the backward on the
forward's own cache (so the cache never leaves the child). When an answer is wrong, another
program evaluates the forward on perturbed inputs for the grader's numeric gradient; the parent
computes the central differences itself. Nothing the child says is trusted beyond being plain
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.cases import Case
from grader.sandbox import CallError, Reply, Sandbox
from grader.sandbox.steps import Program, Step, call, numeric, ref, ret, set_

PARAMS = ("bn_param", "gn_param")


@dataclass
class Observation:
    """What the submission's functions did on one case: plain values, or the error that stopped
    them."""

    case: Case
    error: CallError | None = None
    failed_stage: str | None = None
    forward: Any = None
    grads: Any = None
    after_forward: dict[str, Any] = field(default_factory=dict)
    after_backward: dict[str, Any] = field(default_factory=dict)
    param: Any = None
    numeric: dict[str, np.ndarray] | None = None  # None until asked for (numeric_evaluations)
    coords: dict[str, np.ndarray] = field(default_factory=dict)
    stdout: str = ""


@dataclass(frozen=True)
class CaseRunOptions:
    """Where the functions are and how the numeric evaluations are taken (from the assignment)."""

    module: str
    numeric_h: float
    numeric_max_coords: int
    timeout: float | None = None


def run_case(sandbox: Sandbox, case: Case, options: CaseRunOptions) -> Observation:
    """Run `case` through the submission; on failure, localise it to the forward or the backward."""
    reply = sandbox.run(_program(case, options, stage="backward"), timeout=options.timeout)
    if reply.ok:
        return _observation(case, reply)
    forward = sandbox.run(_program(case, options, stage="forward"), timeout=options.timeout)
    if not forward.ok:
        return Observation(
            case=case, error=forward.error, failed_stage="forward", stdout=forward.stdout
        )
    observation = _observation(case, forward)
    observation.error, observation.stdout = reply.error, reply.stdout
    observation.failed_stage = "forward" if case.family.returns_loss else "backward"
    return observation


def numeric_evaluations(
    sandbox: Sandbox, case: Case, options: CaseRunOptions, rng: np.random.RandomState
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The student's forward at +-h around sampled coordinates of each input, and those
    coordinates: only asked for when an answer is wrong (to say whether the backward matches its
    own forward, or whether the forward's mistake propagated), so a correct submission never pays
    for them. Empty when they cannot be taken (test mode, float32, the forward failing)."""
    if case.mode != "train" or case.is_float32:
        return {}, {}
    arrays: dict[str, np.ndarray] = {}
    coords: dict[str, np.ndarray] = {}
    returned: dict[str, Any] = {}
    steps = _numeric_steps(case, options, rng, arrays, coords, returned)
    reply = sandbox.run(Program([*steps, ret(**returned)], arrays), timeout=options.timeout)
    if not reply.ok:
        return {}, {}
    return {n: reply.values[f"num_{n}"] for n in coords}, coords


def numeric_gradient(obs: Observation, name: str, h: float) -> np.ndarray:
    """Central differences of <dout, f(x)> at the observed coordinates, taken here in the parent."""
    evals = np.asarray(obs.numeric[name], dtype=np.float64)
    plus, minus = evals[:, 0], evals[:, 1]
    dout = 1.0 if obs.case.dout is None else obs.case.dout.astype(np.float64)
    axes = tuple(range(1, plus.ndim))
    with np.errstate(invalid="ignore", over="ignore"):  # a forward's NaN stays a NaN, no warning
        if not axes:
            return (plus - minus) * dout / (2 * h)
        return np.sum((plus - minus) * dout, axis=axes) / (2 * h)


def _program(case: Case, options: CaseRunOptions, *, stage: str) -> Program:
    """The sandbox program for `case`: the forward alone (stage "forward"), or the forward and then
    the backward on the forward's own cache (stage "backward")."""
    fam = case.family
    forward = f"{options.module}:{fam.forward}"
    arrays = dict(case.arrays)
    steps: list[Step] = []
    settings = dict(case.settings)
    for key in PARAMS:
        if key in settings:
            steps.append(call("copy:deepcopy", settings[key], as_=key))
            settings[key] = ref(key)
    args = [ref(p) if p in arrays else settings[p] for p in fam.signature]
    steps += _decoy_call(case, forward, arrays, args)
    for i, batch in enumerate(case.train_batches):
        arrays[f"train_{i}"] = batch
        steps.append(call(forward, ref(f"train_{i}"), *args[1:]))
    if case.train_batches:
        steps.append(set_(ref("bn_param", "mode"), "test"))
    steps.append(call(forward, *args, as_="fwd"))
    returned: dict[str, Any] = {"fwd": ref("fwd")}
    for name in fam.arrays:
        steps.append(call("copy:deepcopy", ref(name), as_=f"{name}__after_forward"))
        returned[f"{name}__after_forward"] = ref(f"{name}__after_forward")
    returned.update({key: ref(key) for key in PARAMS if key in case.settings})
    backward = stage != "forward" and not fam.returns_loss and case.mode == "train"
    if backward:
        arrays["dout"] = case.dout
        steps.append(
            call(f"{options.module}:{fam.backward}", ref("dout"), ref("fwd", 1), as_="bwd")
        )
        returned.update(bwd=ref("bwd"), dout__after_backward=ref("dout"))
    if backward or (stage != "forward" and fam.returns_loss):
        returned.update({f"{name}__after_backward": ref(name) for name in fam.arrays})
    return Program([*steps, ret(**returned)], arrays)


def _decoy_call(
    case: Case, forward: str, arrays: dict[str, np.ndarray], args: list[Any]
) -> list[Step]:
    """The forward once on other values of the same shape, in the same process, before the case:
    a function that memoises its first answer (in a module global, say) then fails the case, as
    it would in a notebook where the function is called on many inputs. Its arguments are copies
    of their own, so nothing the case uses (running averages, arrays) is touched."""
    first = case.family.signature[0]
    if first not in arrays or arrays[first].dtype.kind != "f":
        return []
    arrays["decoy__x"] = 0.25 - 0.5 * arrays[first]
    steps: list[Step] = []
    decoy_args: list[Any] = [ref("decoy__x")]
    for i, name in enumerate(case.family.signature[1:], start=1):
        if name in arrays or name in PARAMS:  # copies: the decoy changes nothing the case uses
            source = ref(name) if name in arrays else case.settings[name]
            steps.append(call("copy:deepcopy", source, as_=f"decoy__{name}"))
            decoy_args.append(ref(f"decoy__{name}"))
        else:
            decoy_args.append(args[i])
    return [*steps, call(forward, *decoy_args, as_="decoy__out")]


def _numeric_steps(
    case: Case,
    options: CaseRunOptions,
    rng: np.random.RandomState,
    arrays: dict[str, np.ndarray],
    coords: dict[str, np.ndarray],
    returned: dict[str, Any],
) -> list[Step]:
    """Forward evaluations at +-h on pristine copies; their inputs go into `arrays`, their
    outputs into `returned`."""
    fam = case.family
    forward = f"{options.module}:{fam.forward}"
    original = [
        ref(f"{p}__original") if p in case.arrays else case.settings[p] for p in fam.signature
    ]
    arrays.update({f"{p}__original": case.arrays[p] for p in fam.arrays})
    steps = []
    for name in fam.grads:
        coords[name] = coordinates(case.arrays[name].shape, options.numeric_max_coords, rng)
        arrays[f"coords_{name}"] = coords[name]
        steps.append(
            numeric(
                call(forward, *original),
                wrt=fam.signature.index(name),
                coords=ref(f"coords_{name}"),
                h=options.numeric_h,
                output=(0,),
                as_=f"num_{name}",
            )
        )
        returned[f"num_{name}"] = ref(f"num_{name}")
    return steps


def coordinates(shape: tuple[int, ...], limit: int, rng: np.random.RandomState) -> np.ndarray:
    """Every index when there are few, else a random sample: enough to catch a wrong gradient."""
    size = int(np.prod(shape))
    flat = np.arange(size) if size <= limit else np.sort(rng.choice(size, limit, replace=False))
    return np.stack(np.unravel_index(flat, shape), axis=1).astype(np.int64)


def _observation(case: Case, reply: Reply) -> Observation:
    values = reply.values
    names = case.family.arrays
    param_key = "bn_param" if "bn_param" in values else "gn_param"
    after_backward = {
        n: values[f"{n}__after_backward"]
        for n in (*names, "dout")
        if f"{n}__after_backward" in values
    }
    return Observation(
        case=case,
        forward=values.get("fwd"),
        grads=values.get("bwd"),
        after_forward={n: values.get(f"{n}__after_forward") for n in names},
        after_backward=after_backward,
        param=values.get(param_key),
        stdout=reply.stdout,
    )
