"""The student's FourLayerConvNet in the sandbox, as both the model and the training checks use it.

Whether the submission has a network to grade at all, the steps that build it (seeding numpy's
generator first, as the notebook does) and load parameters into it, and what is wrong with a
params dict it returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.assignment import CheckSpec
from grader.checks.base import GradingContext, Unavailable
from grader.compare import describe
from grader.results import CheckResult
from grader.sandbox.steps import Step, call, ref, set_

MODEL = "FourLayerConvNet"
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4")


def model_unavailable(spec: CheckSpec, ctx: GradingContext) -> CheckResult | None:
    """Skipped when the submission has no cnn.py, failed when it does not import or lacks the class."""
    if ctx.student_modules is not None and "classifiers.cnn" not in ctx.student_modules:
        return CheckResult(spec.id, MODEL, spec.name, "skipped", 0.0, spec.points, spec.visibility,
                           "skipped: the submission has no classifiers/cnn.py (or cnn.py)")
    found = ctx.functions.get("cnn")
    message = None
    if isinstance(found, Unavailable):
        message, status = found.message, found.status
    elif found is None or MODEL not in found:
        message, status = f"{MODEL} is not defined in classifiers/cnn.py", "failed"
    if message is None:
        return None
    return CheckResult(spec.id, MODEL, spec.name, status, 0.0, spec.points, spec.visibility, message)


def construct_steps(module: str, config: dict[str, Any], seed: int) -> list[Step]:
    """Seed numpy's global generator (the student's initialisation draws from it), then build the model."""
    kwargs: dict[str, Any] = {k: v for k, v in config.items() if k not in ("input_dim", "dtype")}
    steps: list[Step] = [call("numpy.random:seed", seed % 2**32)]
    if "input_dim" in config:
        steps.append(call("builtins:tuple", list(config["input_dim"]), as_="input_dim"))
        kwargs["input_dim"] = ref("input_dim")
    if "dtype" in config:
        steps.append(call("numpy:dtype", config["dtype"], as_="dtype"))
        kwargs["dtype"] = ref("dtype", "type")
    steps.append(call(f"{module}:{MODEL}", kwargs=kwargs, as_="model"))
    return steps


def load_steps(params: dict[str, np.ndarray], arrays: dict[str, np.ndarray]) -> list[Step]:
    """Replace the model's parameters with given arrays (added to `arrays` as inputs)."""
    steps = []
    for name, value in params.items():
        arrays[f"param_{name}"] = value
        steps.append(set_(ref("model", "params", name), ref(f"param_{name}")))
    return steps


def param_problems(params: Any, expected: dict[str, np.ndarray], what: str = "model.params") -> list[str]:
    """What is wrong with a returned params dict: missing or extra names, non-arrays, shapes."""
    if not isinstance(params, dict):
        return [f"{what} should be a dict of arrays, but it is {describe(params)}"]
    problems = []
    missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
    if missing:
        problems.append(f"{what} lacks {', '.join(missing)}")
    if extra:
        problems.append(f"{what} has unexpected entries {', '.join(extra)}")
    for name in (n for n in PARAMS if n in params and n in expected):
        got = params[name]
        if type(got) is not np.ndarray:
            problems.append(f"{what}['{name}'] should be an array, but it is {describe(got)}")
        elif got.shape != np.shape(expected[name]):
            problems.append(f"{what}['{name}'] has shape {got.shape}, expected {expected[name].shape}")
    return problems
