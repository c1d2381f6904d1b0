"""The course's solution, run in the parent: the one module of the grader that imports `reference`.

Every answer passes through here: the layer functions (lent to grader.course_layers, which
computes the expected outputs and gradients of a case and the variants the hint probes
recompute), the networks and the Solver (model and training checks), the data utilities (the
built-in data set, CIFAR-10 batches) and the folder of the course's files (a workspace's provided
modules, the grader's private modules).

What must also work without the solution (the student kit builds on it) never imports this
module: the sandbox, run_case, compare, the layer table, the results, the case inputs and the
workspace builder; tests/test_oracle.py imports them with `reference` blocked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

import reference
from grader.assignment import Network
from grader import course_layers
from grader.course_layers import answer, reference_backward, reference_forward
from grader.errors import AssignmentError
from grader.workspace import CourseModules
from reference import layer_utils, layers
from reference.classifiers import cnn as networks
from reference.data_utils import get_builtin_data, load_CIFAR_batch
from reference.solver import Solver

__all__ = [
    "COURSE",
    "COURSE_DIR",
    "LAYER_FUNCTIONS",
    "Solver",
    "answer",
    "get_builtin_data",
    "load_CIFAR_batch",
    "model_kwargs",
    "reference_backward",
    "reference_forward",
    "reference_model",
    "reference_network",
]

COURSE_DIR = Path(reference.__file__).parent
COURSE = CourseModules(COURSE_DIR)
LAYER_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: getattr(module, name)
    for module in (layers, layer_utils)
    for name in dir(module)
    if not name.startswith("_")
}
course_layers.lend(LAYER_FUNCTIONS)  # what answers and hint probes compute with, from now on


def model_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments from a TOML config (input_dim as a tuple, dtype as a numpy type)."""
    kwargs = dict(config)
    if "input_dim" in kwargs:
        kwargs["input_dim"] = tuple(kwargs["input_dim"])
    if "dtype" in kwargs:
        kwargs["dtype"] = np.dtype(kwargs["dtype"]).type
    return kwargs


def reference_network(name: str) -> type:
    """The course's network class called `name` (an assignment's [network] class_name)."""
    found = getattr(networks, name, None)
    if not isinstance(found, type) or name.startswith("_"):
        raise AssignmentError(
            f"[network] class_name {name!r}: the course's solution "
            f"(reference/classifiers/cnn.py) has no such network"
        )
    return found


def reference_model(
    network: Network, config: dict[str, Any], params: dict[str, np.ndarray] | None = None
) -> Any:
    """The course's `network` built with the edition's defaults and a TOML config over them,
    optionally holding `params`."""
    model = reference_network(network.class_name)(**model_kwargs(network.config(config)))
    if params is not None:
        model.params = {k: np.array(v) for k, v in params.items()}
    return model
