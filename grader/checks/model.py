"""Checks of the student's network (kind "model"), one aspect per check.

The network (IE590's FourLayerConvNet, cs231n's ThreeLayerConvNet), its parameters and its
constructor's defaults are the assignment file's [network] table. Every aspect runs the
student's class in the sandbox and judges plain arrays in the parent:
construction (names, shapes, scale, dtype), the loss API, the notebook's initial-loss sanity
check, agreement with the reference model when both hold the same parameters, and the
notebook's numeric gradient check, whose central differences the parent computes from
losses the child evaluated at perturbed parameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grader.assignment import CheckSpec, Network
from grader.checks import Aspects, register
from grader.checks.base import CaseOutcome, GradingContext, combine
from grader.checks.convnet import load_steps, model_unavailable, network_steps, param_problems
from grader.checks.memo import memo
from grader.compare import describe, normwise_error, rel_error
from grader.options import Options, option
from grader.oracle import model_kwargs, reference_model
from grader.run_case import coordinates
from grader.results import CheckResult
from grader.sandbox import Reply
from grader.sandbox.steps import Program, call, numeric, ref, ret, set_

LOSS_MODULE = "_grader_loss"
LOSS_SOURCE = '''"""Written by the grader: the loss as a function of one parameter."""


def loss_with(model, name, value, X, y):
    model.params[name] = value
    return model.loss(X, y)[0]
'''
STANDARD_SHAPES_HINT = (
    "The grader loads parameters of the shapes the assignment specifies; see the construction"
    " check."
)
NOTEBOOK_GRADIENT = {
    "num_filters": 3,
    "filter_size": 3,
    "input_dim": [3, 16, 16],
    "hidden_dim": 7,
    "dtype": "float64",
}


def private_modules() -> dict[str, str]:
    return {LOSS_MODULE: LOSS_SOURCE}


def call_error(case: str, reply: Reply, what: str, hint: str | None = None) -> CaseOutcome:
    error = reply.error
    status = "timeout" if error.kind == "timeout" else "error"
    return CaseOutcome(
        case,
        status,
        f"{what}: {error.message}",
        hint,
        {"traceback": error.traceback} if error.traceback else {},
    )


def draw_inputs(
    rng: np.random.RandomState, n: int, network: Network, config: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """n images of the configuration's input_dim and labels below its num_classes."""
    kwargs = model_kwargs(network.config(config))
    X = rng.randn(n, *kwargs["input_dim"])
    y = rng.randint(kwargs["num_classes"], size=n)
    return X, y


def _config_label(config: dict[str, Any]) -> str:
    return (
        ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v}" for k, v in config.items())
        or "defaults"
    )


def _outcome(
    case: str, problems: list[str], details: dict[str, Any], hint: str | None = None
) -> CaseOutcome:
    if problems:
        return CaseOutcome(case, "failed", "; ".join(problems), hint, details)
    return CaseOutcome(case, "passed", "", None, details)


# ---------------------------------------------------------------- the check kind
class ModelCheck(Options):
    """The configurations a model check builds the student's network with."""

    configs: list[dict[str, Any]] = option(
        [{}],
        "constructor arguments of each configuration checked, one case each ({}: the defaults)",
    )


class Construction(ModelCheck, aspect="construction"):
    """Parameter names, shapes, dtype and initial scale."""


class LossApi(ModelCheck, aspect="loss_api"):
    """Scores without y, (loss, grads) with y, a gradient for every parameter."""

    num_inputs: int = option(3, "images in the batch")


class InitialLoss(ModelCheck, aspect="initial_loss"):
    """The notebook's sanity check: about log(C) at first, larger with regularisation."""

    num_inputs: int = option(4, "images in the batch")
    reg: float = option(0.5, "the regularisation strength that must make the loss grow")
    tolerance: float = option(0.05, "how far the loss may be from log(C)")


class ReferenceMatch(ModelCheck, aspect="reference"):
    """With the same parameters: the reference's scores, loss and gradients."""

    num_inputs: int = option(4, "images in the batch")
    tolerance: float = option(1e-6, "largest normwise error of scores, loss and each gradient")


class Gradient(ModelCheck, aspect="gradient"):
    """The notebook's numeric gradient check on its tiny network."""

    h: float = option(1e-6, "the step of the central differences")
    seed: int = option(123, "the notebook's np.random.seed before it draws X, y and the parameters")
    max_coords: int = option(12, "coordinates checked per parameter")
    tolerance: float = option(0.1, "largest relative error (the notebook: errors up to about 1e-1)")


@register(
    "model",
    options=Aspects((Construction, LossApi, InitialLoss, ReferenceMatch, Gradient)),
    private_modules=private_modules,
)
def model_check(spec: CheckSpec, opts: ModelCheck, ctx: GradingContext) -> CheckResult:
    unavailable = model_unavailable(spec, ctx)
    if unavailable:
        return unavailable
    judge = ASPECTS[opts.aspect]
    outcomes = [
        judge(spec, opts, ctx, dict(config), f"config{i}") for i, config in enumerate(opts.configs)
    ]
    return combine(spec, ctx.assignment.network.class_name, outcomes)


def _construction(
    spec: CheckSpec, opts: Construction, ctx: GradingContext, config: dict[str, Any], case: str
) -> CaseOutcome:
    network = ctx.assignment.network
    steps = network_steps(ctx, config, ctx.seed)
    reply = ctx.sandbox.run(
        Program([*steps, ret(params=ref("model", "params"))]), timeout=ctx.call_timeout
    )
    if not reply.ok:
        return call_error(case, reply, f"{network.class_name}({_config_label(config)})")
    expected = reference_model(network, config).params
    params = reply.values["params"]
    details = {"config": _config_label(config)}
    problems = param_problems(params, expected)
    if problems:
        return _outcome(case, problems, details, _w2_hint(network, config, params))
    kwargs = network.config(config)
    dtype, scale = np.dtype(kwargs["dtype"]), float(kwargs["weight_scale"])
    for name in network.params:
        problems += _init_problems(name, params[name], dtype, scale, name in network.weights)
    hint = (
        "Draw weights as weight_scale * np.random.randn(...), biases as zeros, and cast both with"
        " .astype(dtype)."
    )
    return _outcome(case, problems, details, hint)


def _w2_hint(network: Network, config: dict[str, Any], params: Any) -> str | None:
    """Name the two usual reasons for a wrong W2: the pool or the padding left out of its size."""
    w2 = params.get("W2") if isinstance(params, dict) else None
    kwargs = model_kwargs(network.config(config))
    if (
        type(w2) is not np.ndarray
        or w2.ndim != 2
        or not {"num_filters", "filter_size"} <= set(kwargs)
    ):
        return None
    _, h, w = kwargs["input_dim"]
    f, size = kwargs["num_filters"], kwargs["filter_size"]
    if w2.shape[0] == f * h * w:
        return (
            "W2's rows ignore the 2x2 max pool, which halves H and W: num_filters * (H // 2) * (W"
            " // 2)."
        )
    if w2.shape[0] == f * ((h - size + 1) // 2) * ((w - size + 1) // 2):
        return (
            "W2's rows assume a convolution that shrinks the image: with pad = (filter_size - 1) //"
            " 2 it keeps H x W."
        )
    return None


def _init_problems(
    name: str, value: np.ndarray, dtype: np.dtype, scale: float, weight: bool
) -> list[str]:
    problems = [f"{name} has dtype {value.dtype}, expected {dtype}"] if value.dtype != dtype else []
    if not weight:
        if np.any(value != 0):
            problems.append(f"{name} should start at zero")
        return problems
    values = value.astype(np.float64).ravel()
    n = values.size
    std, mean = float(values.std()), float(values.mean())
    # Sampling error of the std of n normal draws is std/sqrt(2n): allow 6 of those, at least 25%.
    if abs(std / scale - 1) > max(0.25, 6 / math.sqrt(2 * n)):
        problems.append(
            f"{name} has standard deviation {std:.3g}, expected weight_scale = {scale:g}"
        )
    elif abs(mean) > 6 * scale / math.sqrt(n) + 0.05 * scale:
        problems.append(f"{name} has mean {mean:.3g}; weights should be centred at zero")
    return problems


def _loss_api(
    spec: CheckSpec, opts: LossApi, ctx: GradingContext, config: dict[str, Any], case: str
) -> CaseOutcome:
    rng = np.random.RandomState(ctx.seed % 2**32)
    X, y = draw_inputs(rng, opts.num_inputs, ctx.assignment.network, config)
    steps = network_steps(ctx, config, ctx.seed) + [
        call(ref("model", "loss"), ref("X"), as_="scores"),
        call(ref("model", "loss"), ref("X"), ref("y"), as_="out"),
        ret(scores=ref("scores"), out=ref("out"), params=ref("model", "params")),
    ]
    reply = ctx.sandbox.run(Program(steps, {"X": X, "y": y}), timeout=ctx.call_timeout)
    if not reply.ok:
        return call_error(case, reply, "model.loss")
    num_classes = ctx.assignment.network.config(config)["num_classes"]
    scores, out = reply.values["scores"], reply.values["out"]
    problems = []
    if type(scores) is not np.ndarray or scores.shape != (len(X), num_classes):
        problems.append(
            f"loss(X) should return scores of shape {(len(X), num_classes)}, but it returned"
            f" {describe(scores)}"
        )
    loss, grads = _unpack_loss(out)
    if loss is None:
        problems.append(
            f"loss(X, y) should return a tuple (loss, grads), but it returned {describe(out)}"
        )
    elif not math.isfinite(loss):
        problems.append(f"loss(X, y) returned a loss of {loss}")
    elif isinstance(reply.values["params"], dict):
        problems += param_problems(grads, reply.values["params"], "grads")
    return _outcome(case, problems, {"config": _config_label(config), "N": len(X)})


def _unpack_loss(out: Any) -> tuple[float | None, Any]:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return None, None
    loss = out[0]
    if isinstance(loss, np.ndarray) and loss.size == 1 and loss.dtype.kind == "f":
        loss = float(loss.reshape(()))
    if isinstance(loss, bool) or not isinstance(loss, (int, float)):
        return None, None
    return float(loss), out[1]


def _initial_loss(
    spec: CheckSpec, opts: InitialLoss, ctx: GradingContext, config: dict[str, Any], case: str
) -> CaseOutcome:
    rng = np.random.RandomState(ctx.seed % 2**32)
    X, y = draw_inputs(rng, opts.num_inputs, ctx.assignment.network, config)
    reg = opts.reg
    steps = network_steps(ctx, config, ctx.seed) + [
        call(ref("model", "loss"), ref("X"), ref("y"), as_="plain"),
        set_(ref("model", "reg"), reg),
        call(ref("model", "loss"), ref("X"), ref("y"), as_="regularised"),
        ret(plain=ref("plain"), regularised=ref("regularised")),
    ]
    reply = ctx.sandbox.run(Program(steps, {"X": X, "y": y}), timeout=ctx.call_timeout)
    if not reply.ok:
        return call_error(case, reply, "model.loss")
    plain, _ = _unpack_loss(reply.values["plain"])
    regularised, _ = _unpack_loss(reply.values["regularised"])
    if plain is None or regularised is None:
        return _outcome(case, ["loss(X, y) should return a tuple (loss, grads)"], {})
    expected = math.log(ctx.assignment.network.config(config)["num_classes"])
    tolerance = opts.tolerance
    details = {"loss": plain, f"loss with reg = {reg:g}": regularised, "expected": expected}
    problems = []
    if not abs(plain - expected) <= tolerance:
        problems.append(
            f"the initial loss without regularisation is {plain:.6g}; with small random weights it "
            f"should be about log(C) = {expected:.4f} (within {tolerance:g})"
        )
    if not regularised > plain:
        problems.append(
            f"with model.reg = {reg:g} the loss should grow, but it went from {plain:.6g} to"
            f" {regularised:.6g}"
        )
    return _outcome(case, problems, details)


def _reference_match(
    spec: CheckSpec, opts: ReferenceMatch, ctx: GradingContext, config: dict[str, Any], case: str
) -> CaseOutcome:
    """Same parameters in both models: scores, loss and every gradient must agree with the
    reference."""
    network = ctx.assignment.network
    config.setdefault("dtype", "float64")
    rng = np.random.RandomState((ctx.seed + 7) % 2**32)
    X, y = draw_inputs(rng, opts.num_inputs, network, config)
    params = _random_params(reference_model(network, config).params, rng)
    expected = memo(
        ("reference_match", spec.id, network, config, ctx.seed),
        lambda: _reference_outputs(network, config, params, X, y),
    )
    arrays = {"X": X, "y": y}
    steps = (
        network_steps(ctx, config, ctx.seed)
        + load_steps(params, arrays)
        + [
            call(ref("model", "loss"), ref("X"), as_="scores"),
            call(ref("model", "loss"), ref("X"), ref("y"), as_="out"),
            ret(scores=ref("scores"), out=ref("out")),
        ]
    )
    reply = ctx.sandbox.run(Program(steps, arrays), timeout=ctx.call_timeout)
    details: dict[str, Any] = {"config": _config_label(config)}
    if not reply.ok:
        return call_error(
            case,
            reply,
            f"model.loss with the reference's parameters ({_config_label(config)})",
            STANDARD_SHAPES_HINT,
        )
    tolerance = opts.tolerance
    problems = _compare_outputs(reply.values, expected, tolerance, details)
    hint = _reg_hint(network, config, params, reply.values, expected) if problems else None
    return _outcome(case, problems, details, hint)


def _random_params(
    shapes: dict[str, np.ndarray], rng: np.random.RandomState
) -> dict[str, np.ndarray]:
    """He-scaled weights and non-zero biases, so every ReLU and every regularisation term matters.

    A conv filter bank (F, C, HH, WW) has fan-in C * HH * WW; an affine weight (D, M) has D.
    """
    params = {}
    for name, value in shapes.items():
        shape = value.shape
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        scale = math.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.1
        params[name] = scale * rng.randn(*shape)
    return params


def _reference_outputs(network, config, params, X, y) -> dict[str, Any]:
    model = reference_model(network, config, params)
    loss, grads = model.loss(X, y)
    return {"scores": model.loss(X), "loss": float(loss), "grads": grads}


def _compare_outputs(
    values: dict[str, Any], ref: dict[str, Any], tolerance: float, details: dict[str, Any]
) -> list[str]:
    scores = values["scores"]
    if type(scores) is not np.ndarray or scores.shape != ref["scores"].shape:
        return [
            f"loss(X) should return scores of shape {ref['scores'].shape}, but it returned"
            f" {describe(scores)}"
        ]
    errors = {"scores": normwise_error(scores, ref["scores"])}
    loss, grads = _unpack_loss(values["out"])
    if loss is None:
        return [
            "loss(X, y) should return a tuple (loss, grads), but it returned"
            f" {describe(values['out'])}"
        ]
    errors["loss"] = abs(loss - ref["loss"]) / max(abs(ref["loss"]), 1e-8)
    problems = param_problems(grads, ref["grads"], "grads")
    if problems:
        return problems
    errors.update(
        {f"grads['{n}']": normwise_error(grads[n], ref["grads"][n]) for n in ref["grads"]}
    )
    details["errors"] = errors
    return [
        f"{name} differs from the reference model's (normwise error {err:.2e} > {tolerance:.0e})"
        for name, err in errors.items()
        if not err <= tolerance
    ]


def _reg_hint(
    network: Network,
    config: dict[str, Any],
    params: dict[str, np.ndarray],
    values: dict[str, Any],
    ref: dict[str, Any],
) -> str | None:
    """Name the regularisation bugs seen in real submissions when the gradients show them."""
    reg = float(network.config(config).get("reg", 0.0))
    _, grads = _unpack_loss(values["out"])
    if not reg or not isinstance(grads, dict):
        return None
    weights = network.weights
    for name in network.params:
        got = grads.get(name)
        if type(got) is not np.ndarray or got.shape != params[name].shape:
            continue
        diff = got - ref["grads"][name]
        if name not in weights and np.allclose(diff, reg * params[name], rtol=1e-4, atol=1e-10):
            return (
                f"grads['{name}'] is off by exactly reg * {name}: the L2 penalty applies to "
                f"the weights {', '.join(weights)} only, not to biases."
            )
        sum_instead_of_weights = reg * (np.sum(params[name]) - params[name])
        if name in weights and np.allclose(diff, sum_instead_of_weights, rtol=1e-4, atol=1e-10):
            return (
                f"grads['{name}'] is off by reg * np.sum({name}) in every entry: the gradient of"
                f" 0.5 * reg * np.sum({name}**2) is reg * {name}."
            )
    return None


def _gradient(
    spec: CheckSpec, opts: Gradient, ctx: GradingContext, config: dict[str, Any], case: str
) -> CaseOutcome:
    """The notebook's numeric gradient check on its tiny network; the grader differentiates."""
    network = ctx.assignment.network
    config = {**NOTEBOOK_GRADIENT, **config}
    h, tolerance = opts.h, opts.tolerance
    X, y, params = _notebook_gradient_inputs(network, config, opts.seed)
    coords = _gradient_coords(params, opts.max_coords, ctx.seed)
    reference = memo(
        ("gradient", spec.id, network, config, ctx.seed, h),
        lambda: _reference_gradient_errors(network, config, params, X, y, coords, h),
    )
    arrays = {"X": X, "y": y}
    steps = network_steps(ctx, config, ctx.seed) + load_steps(params, arrays)
    steps.append(call(ref("model", "loss"), ref("X"), ref("y"), as_="out"))
    returned: dict[str, Any] = {"out": ref("out")}
    for name in network.params:
        arrays[f"coords_{name}"] = coords[name]
        loss = call(
            f"{LOSS_MODULE}:loss_with", ref("model"), name, ref(f"param_{name}"), ref("X"), ref("y")
        )
        steps.append(numeric(loss, wrt=2, coords=ref(f"coords_{name}"), h=h, as_=f"num_{name}"))
        returned[f"num_{name}"] = ref(f"num_{name}")
    reply = ctx.sandbox.run(Program([*steps, ret(**returned)], arrays), timeout=ctx.call_timeout)
    if not reply.ok:
        return call_error(case, reply, "the numeric gradient check", STANDARD_SHAPES_HINT)
    loss, grads = _unpack_loss(reply.values["out"])
    problems = param_problems(grads, params, "grads")
    if problems:
        return _outcome(case, problems, {})
    degenerate = _degenerate(network, config, params, X, y, loss, grads)
    if degenerate:
        return _outcome(case, [f"not earned: {degenerate}"], {})
    errors, excused, problems = {}, {}, []
    for name in network.params:
        evals = np.asarray(reply.values[f"num_{name}"], dtype=np.float64)
        differences = (evals[:, 0] - evals[:, 1]) / (2 * h)
        analytic = grads[name][tuple(coords[name].T)].astype(np.float64)
        keep = reference[name] <= tolerance / 10
        excused[name] = int((~keep).sum())
        errors[name] = rel_error(analytic[keep], differences[keep]) if keep.any() else None
        if errors[name] is not None and not errors[name] <= tolerance:
            problems.append(f"{name}: max relative error {errors[name]:.2e} > {tolerance:g}")
    details = {"relative_errors": errors, "coordinates_left_out": excused, "h": h}
    note = _excuse_note(excused, coords)
    if note:
        details["note"] = note
    return _outcome(case, problems, details)


def _degenerate(network: Network, config, params, X, y, loss, grads) -> str | None:
    """Why a self-consistent gradient proves nothing here: a loss that is not the network's
    (layers returning zeros give a constant loss, trivially consistent) or no gradient at all."""
    expected = float(reference_model(network, config, params).loss(X, y)[0])
    if loss is None or not abs(loss - expected) <= 0.5 * max(1.0, abs(expected)):
        return (
            f"the loss is {loss!r} where the network's is about {expected:.4g}, so its numeric"
            " gradient proves nothing (see the reference check)"
        )
    if not any(np.any(np.asarray(grads[name]) != 0) for name in network.params):
        return "every gradient is zero: a loss that does not depend on the parameters"
    return None


def _notebook_gradient_inputs(network: Network, config: dict[str, Any], seed: int):
    """The notebook's cell: np.random.seed(seed), X, y, then the parameters in constructor order."""
    rng = np.random.RandomState(seed)
    X, y = draw_inputs(rng, 2, network, config)
    shapes = reference_model(network, config).params
    weight_scale = float(network.config(config)["weight_scale"])
    params = {
        n: (
            weight_scale * rng.randn(*shapes[n].shape)
            if n in network.weights
            else np.zeros(shapes[n].shape)
        )
        for n in network.params
    }
    return X, y, params


def _gradient_coords(params: dict[str, np.ndarray], limit: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(seed % 2**32)
    return {name: coordinates(value.shape, limit, rng) for name, value in params.items()}


def _reference_gradient_errors(network, config, params, X, y, coords, h) -> dict[str, np.ndarray]:
    """Per coordinate, how far the reference's own numeric gradient is from its analytic one."""
    model = reference_model(network, config, params)
    _, grads = model.loss(X, y)
    errors = {}
    for name in network.params:
        row = []
        for coord in map(tuple, coords[name]):
            value = model.params[name][coord]
            losses = []
            for sign in (1, -1):
                model.params[name][coord] = value + sign * h
                losses.append(model.loss(X, y)[0])
            model.params[name][coord] = value
            difference = (losses[0] - losses[1]) / (2 * h)
            row.append(rel_error(np.array([difference]), np.array([grads[name][coord]])))
        errors[name] = np.array(row)
    return errors


def _excuse_note(excused: dict[str, int], coords: dict[str, np.ndarray]) -> str | None:
    left_out = {n: k for n, k in excused.items() if k}
    if not left_out:
        return None
    parts = ", ".join(f"{n}: {k} of {len(coords[n])}" for n, k in left_out.items())
    return (
        f"coordinates left out ({parts}): there a central difference is unreliable (a ReLU kink or"
        " round-off within h), and even the course's solution misses its own analytic gradient,"
        " which is the notebook's 'error of 1.0 for b3, please proceed'; no points depend on them"
    )


ASPECTS = {
    "construction": _construction,
    "loss_api": _loss_api,
    "initial_loss": _initial_loss,
    "reference": _reference_match,
    "gradient": _gradient,
}
