"""Cases: the inputs a layer is graded on, drawn in the parent, and the answers attached to them.

Public cases reproduce the notebook's cells exactly (same seeds and draws, same expected
arrays); hidden cases draw their values (and, with a `draw` table, their shapes: see
grader.geometry) from the run's seed, so a re-run with the same `--seed` grades on the same
numbers. Drawing the inputs needs nothing of the course's solution; the answers come from the
`answer` a CaseBook is given (grader.oracle.answer runs the reference). The child never sees
expected outputs.
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from grader.assignment import Assignment
from grader.errors import AssignmentError
from grader.layer_table import Family, family
from grader.geometry import concrete


@dataclass
class Case:
    """One case of a layer family: its inputs and settings, then the answers attached to them."""

    family: Family
    name: str
    arrays: dict[str, np.ndarray]
    settings: dict[str, Any]
    train_batches: list[np.ndarray] = field(default_factory=list)
    dout: np.ndarray | None = None
    ref_out: np.ndarray | None = None
    ref_grads: tuple[np.ndarray, ...] = ()
    ref_param: dict[str, Any] = field(default_factory=dict)
    expected: np.ndarray | None = None
    expected_tolerance: float | None = None
    compare: str | None = None

    @property
    def key(self) -> str:
        return f"{self.family.name}.{self.name}"

    @property
    def is_float32(self) -> bool:
        return any(a.dtype == np.float32 for a in self.arrays.values())

    @property
    def mode(self) -> str:
        """ "test" for a batch-norm case run after training calls; its backward is not graded."""
        return "test" if self.train_batches else "train"

    def args(self) -> list[Any]:
        """The forward's arguments in order, as fresh copies."""
        values = {**self.arrays, **self.settings}
        return [copy.deepcopy(values[p]) for p in self.family.signature]

    def describe(self) -> dict[str, Any]:
        """What a student needs to reproduce the case: shapes, dtype, hyper-parameters."""
        info: dict[str, Any] = {f"{k}.shape": list(v.shape) for k, v in self.arrays.items()}
        info["dtype"] = str(next(iter(self.arrays.values())).dtype)
        for key, value in self.settings.items():
            info[key] = value
        if self.train_batches:
            info["bn_param"] = {**self.settings["bn_param"], "mode": "test"}
            info["training calls before this one"] = len(self.train_batches)
        return info


Answer = Callable[[Case, np.random.RandomState], None]


class CaseBook:
    """Builds each case once per run and keeps it, so every submission is graded on the same inputs.

    `answer(case, rng)` attaches the expected answers to freshly drawn inputs; the grader's is
    grader.oracle.answer, which runs the course's solution.
    """

    def __init__(self, assignment: Assignment, seed: int, answer: Answer) -> None:
        self.assignment = assignment
        self.seed = seed
        self.answer = answer
        self._cases: dict[str, Case] = {}

    def get(self, family_name: str, case_name: str) -> Case:
        key = f"{family_name}.{case_name}"
        if key not in self._cases:
            spec = self.assignment.cases[family_name][case_name]
            try:
                rng = self._rng(
                    key, spec
                )  # the case's drawn shapes (if any) first, then its values
                case = draw_case(family(family_name), case_name, concrete(spec, rng), rng)
                self.answer(case, rng)
            except (KeyError, TypeError, ValueError) as exc:
                raise AssignmentError(f"case {key} cannot be built: {exc}") from exc
            self._cases[key] = case
        return self._cases[key]

    def _rng(self, key: str, spec: dict[str, Any]) -> np.random.RandomState:
        if "seed" in spec:
            return np.random.RandomState(int(spec["seed"]))
        return np.random.RandomState((self.seed * 1_000_003 + zlib.crc32(key.encode())) % 2**32)


def draw_case(fam: Family, name: str, spec: dict[str, Any], rng: np.random.RandomState) -> Case:
    """The case's inputs, drawn from `rng` in the order the assignment file lists them."""
    arrays: dict[str, np.ndarray] = {}
    train_batches: list[np.ndarray] = []
    for key, value in spec.items():
        if not isinstance(value, dict):
            continue
        if key == "x" and spec.get("train_calls"):
            train_batches = [draw_array(value, rng) for _ in range(int(spec["train_calls"]))]
        arrays[key] = draw_array(value, rng)
    if spec.get("mode", "train") == "test" and not train_batches:
        raise ValueError(
            "mode = 'test' needs train_calls (the training calls that set the running averages)"
        )
    dout = arrays.pop("dout", None)
    if dout is not None and fam.returns_loss:
        raise ValueError(f"{fam.forward} is a loss: it takes no dout")
    missing = [a for a in fam.arrays if a not in arrays]
    if missing:
        raise ValueError(f"arrays {missing} are not given")
    return Case(
        family=fam,
        name=name,
        arrays=arrays,
        settings=_settings(fam, spec),
        train_batches=train_batches,
        dout=dout,
        expected=np.asarray(spec["expected"], dtype=np.float64) if "expected" in spec else None,
        expected_tolerance=spec.get("expected_tolerance"),
        compare=spec.get("compare"),
    )


def draw_array(spec: dict[str, Any], rng: np.random.RandomState) -> np.ndarray:
    shape = tuple(int(n) for n in spec["shape"])
    dist = spec.get("dist", "randn")
    if dist == "randn":
        values = rng.randn(*shape)
    elif dist == "linspace":
        values = np.linspace(spec["low"], spec["high"], num=int(np.prod(shape))).reshape(shape)
    elif dist == "randint":
        return rng.randint(spec["low"], spec["high"], size=shape).astype(spec.get("dtype", "int64"))
    elif dist in ("ones", "zeros"):
        values = np.ones(shape) if dist == "ones" else np.zeros(shape)
    else:
        raise ValueError(f"unknown dist {dist!r}")
    values = spec.get("scale", 1.0) * values + spec.get("shift", 0.0)
    return values.astype(spec.get("dtype", "float64"))


def _settings(fam: Family, spec: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if "conv_param" in fam.signature:
        settings["conv_param"] = {"stride": spec["stride"], "pad": spec["pad"]}
    if "pool_param" in fam.signature:
        stride = spec["pool_stride"] if "conv_param" in fam.signature else spec["stride"]
        settings["pool_param"] = {
            "pool_height": spec["pool_height"],
            "pool_width": spec["pool_width"],
            "stride": stride,
        }
    if "bn_param" in fam.signature:
        settings["bn_param"] = {
            "mode": "train",
            **{k: spec[k] for k in ("eps", "momentum") if k in spec},
        }
    if "gn_param" in fam.signature:
        settings["gn_param"] = {k: spec[k] for k in ("eps",) if k in spec}
    if "G" in fam.signature:
        settings["G"] = int(spec["G"])
    return settings
