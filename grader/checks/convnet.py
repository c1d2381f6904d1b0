"""The student's network in the sandbox, as both the model and the training checks use it.

Which network, in which file, with which parameters and defaults is the assignment file's
[network] table (IE590's FourLayerConvNet, cs231n's ThreeLayerConvNet): whether the
submission has that network to grade at all, the steps that build it (seeding numpy's
generator first, as the notebook does) and load parameters into it, and what is wrong with a
params dict it returned.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import numpy as np

from grader.assignment import CheckSpec
from grader.checks.base import GradingContext, Unavailable
from grader.compare import describe
from grader.results import CheckResult
from grader.sandbox.steps import Step, call, ref, set_

NETWORK_ROLE = "cnn"  # the role grading inspects the network's module under


def model_unavailable(spec: CheckSpec, ctx: GradingContext) -> CheckResult | None:
    """Not handed in when the submission lacks the network's file, failed when it does not import
    or lacks the class."""
    network = ctx.assignment.network
    if ctx.student_modules is not None and network.module not in ctx.student_modules:
        loose = f" (or {PurePosixPath(network.file).name})" if "/" in network.file else ""
        return ctx.missing_part(spec, network.class_name, "network", network.file + loose)
    found = ctx.functions.get(NETWORK_ROLE)
    message = None
    if isinstance(found, Unavailable):
        message, status = found.message, found.status
    elif found is None or network.class_name not in found:
        message, status = f"{network.class_name} is not defined in {network.file}", "failed"
    if message is None:
        return None
    return CheckResult(
        spec.id, network.class_name, spec.name, status, 0.0, spec.points, spec.visibility, message
    )


def network_steps(ctx: GradingContext, config: dict[str, Any], seed: int) -> list[Step]:
    """`construct_steps` for the assignment's network in the submission's module."""
    return construct_steps(
        f"{ctx.modules[NETWORK_ROLE]}:{ctx.assignment.network.class_name}", config, seed
    )


def construct_steps(constructor: str, config: dict[str, Any], seed: int) -> list[Step]:
    """Seed numpy's global generator (the student's initialisation draws from it), then build the
    model."""
    kwargs: dict[str, Any] = {k: v for k, v in config.items() if k not in ("input_dim", "dtype")}
    steps: list[Step] = [call("numpy.random:seed", seed % 2**32)]
    if "input_dim" in config:
        steps.append(call("builtins:tuple", list(config["input_dim"]), as_="input_dim"))
        kwargs["input_dim"] = ref("input_dim")
    if "dtype" in config:
        steps.append(call("numpy:dtype", config["dtype"], as_="dtype"))
        kwargs["dtype"] = ref("dtype", "type")
    steps.append(call(constructor, kwargs=kwargs, as_="model"))
    return steps


def load_steps(params: dict[str, np.ndarray], arrays: dict[str, np.ndarray]) -> list[Step]:
    """Replace the model's parameters with given arrays (added to `arrays` as inputs)."""
    steps = []
    for name, value in params.items():
        arrays[f"param_{name}"] = value
        steps.append(set_(ref("model", "params", name), ref(f"param_{name}")))
    return steps


def param_problems(
    params: Any, expected: dict[str, np.ndarray], what: str = "model.params"
) -> list[str]:
    """What is wrong with a returned params dict: missing or extra names, non-arrays, shapes."""
    if not isinstance(params, dict):
        return [f"{what} should be a dict of arrays, but it is {describe(params)}"]
    problems = []
    missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
    if missing:
        problems.append(f"{what} lacks {', '.join(missing)}")
    if extra:
        problems.append(f"{what} has unexpected entries {', '.join(extra)}")
    for name in (n for n in expected if n in params):
        got = params[name]
        if type(got) is not np.ndarray:
            problems.append(f"{what}['{name}'] should be an array, but it is {describe(got)}")
        elif got.shape != np.shape(expected[name]):
            problems.append(
                f"{what}['{name}'] has shape {got.shape}, expected {expected[name].shape}"
            )
    return problems
