"""Training checks (kind "training"): the student's network trained by the course's Solver.

The network is the assignment file's [network] table (IE590's FourLayerConvNet, cs231n's
ThreeLayerConvNet), built with its defaults and the check's `model` arguments over them.

The Solver and optimiser are the course's, installed next to the student's package under
private names, so a student's own solver.py changes nothing. Training runs in the sandbox
with its own time limit; the child returns the trained parameters and its histories as plain
arrays. The accuracies that decide the grade are measured here in the parent (with the
reference model when the shapes are the standard ones), and a failing run is confirmed by a
second run with another seed, so one unlucky initialisation never decides a grade.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from grader.assignment import CheckSpec, Network
from grader.checks import Aspects, register
from grader.checks.base import GradingContext
from grader.checks.convnet import load_steps, model_unavailable, network_steps, param_problems
from grader.checks.memo import memo
from grader.data import DataSource, parse_source, training_data
from grader.results import CheckResult
from grader.sandbox.steps import Program, call, ref, ret
from grader.options import Options, option
from grader.oracle import COURSE_DIR, Solver, reference_model

SOLVER_MODULE, OPTIM_MODULE = "_grader_solver", "_grader_optim"
EVAL_BATCH = 100
MAX_FILTER_VALUES = 100_000  # trained conv filters (the first parameter) kept for plots


def private_modules() -> dict[str, str]:
    """The course's solver and optim under private names that import each other."""
    solver = (COURSE_DIR / "solver.py").read_text()
    relative = "from . import optim"
    if relative not in solver:
        raise RuntimeError(
            f"reference/solver.py no longer contains {relative!r}; update {__name__}"
        )
    return {
        SOLVER_MODULE: solver.replace(relative, f"import {OPTIM_MODULE} as optim"),
        OPTIM_MODULE: (COURSE_DIR / "optim.py").read_text(),
    }


class Run:
    """One training run: what the child returned and what the parent measured."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.params: Any = None
        self.history: dict[str, list] = {}
        self.train_acc: float | None = None
        self.val_acc: float | None = None
        self.evaluator = ""
        self.problem: str | None = None
        self.status = "failed"
        self.seconds = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "train_acc": self.train_acc,
            "val_acc": self.val_acc,
            "evaluated_by": self.evaluator,
            "seconds": round(self.seconds, 2),
            **({"problem": self.problem} if self.problem else {}),
        }


class Training(Options):
    """How the model is trained and measured; the defaults are the notebook's small run."""

    model: dict[str, Any] = option(
        {}, "the network's constructor arguments, over the [network] table's defaults"
    )
    num_train: int = option(100, "training images")
    num_val: int = option(300, "validation images the grader measures the accuracy on")
    solver_val: int = option(
        100, "of which the first ones feed the Solver's own validation history"
    )
    eval_train: int = option(500, "training images the grader measures the accuracy on (at most)")
    solver_train_samples: int = option(
        100, "training images the Solver's own accuracy history uses"
    )
    num_epochs: int = option(1, "epochs of training")
    batch_size: int = option(100, "images per step")
    learning_rate: float = option(1e-3, "Adam's learning rate")
    time_limit: float = option(180.0, "seconds one training run may take")

    def solver_kwargs(self) -> dict[str, Any]:
        """The course's Solver's arguments (Adam, quiet)."""
        return {
            "num_epochs": self.num_epochs,
            "batch_size": self.batch_size,
            "update_rule": "adam",
            "optim_config": {"learning_rate": self.learning_rate},
            "num_train_samples": self.solver_train_samples,
            "verbose": False,
        }

    def data(self, source: DataSource) -> dict[str, np.ndarray]:
        return training_data(source, self.num_train, self.num_val)

    def key(self, network: Network, source: DataSource, seed: int) -> tuple:
        return (
            "training",
            network,
            source.label,
            self.model,
            self.num_train,
            self.num_val,
            self.solver_val,
            self.solver_kwargs(),
            seed,
        )


class Overfit(Training, aspect="overfit"):
    """The notebook's "clear overfitting" of a few images."""

    min_train_acc: float | dict[str, float] = option(
        0.7,
        "the training accuracy to reach; one value, or one per data source (builtin, npz, cifar10)",
    )
    min_gap: float | dict[str, float] = option(
        0.2, "how much lower validation accuracy must be; one value, or one per data source"
    )


class TrainAccuracy(Training, aspect="train"):
    """Training accuracy after the budget, against an absolute bar or the reference's."""

    min_train_acc: float | dict[str, float] | None = option(
        None, "an absolute bar on training accuracy; one value, or one per data source"
    )
    reference_fraction: float = option(
        0.3, "or: reach chance + this share of the reference's gain over chance (0: not used)"
    )


@register(
    "training",
    options=Aspects((TrainAccuracy, Overfit), default="train"),
    private_modules=private_modules,
)
def training_check(spec: CheckSpec, opts: Training, ctx: GradingContext) -> CheckResult:
    unavailable = model_unavailable(spec, ctx)
    if unavailable:
        return unavailable
    source = parse_source(ctx.data)
    bar = BARS[opts.aspect](opts, source, ctx)
    runs = [_train(opts, source, ctx, ctx.seed)]
    verdict = bar.judge(runs[0])
    if verdict and runs[0].problem is None:
        runs.append(_train(opts, source, ctx, ctx.seed + 1))
        verdict = bar.judge(runs[1]) and verdict
    return _result(spec, ctx.assignment.network, source, bar, runs, verdict)


def _train(opts: Training, source: DataSource, ctx: GradingContext, seed: int) -> Run:
    run = Run(seed)
    data = opts.data(source)
    arrays = {
        "X_train": data["X_train"],
        "y_train": data["y_train"],
        "X_val": data["X_val"][: opts.solver_val],
        "y_val": data["y_val"][: opts.solver_val],
    }
    histories = {key: ref("solver", f"{key}_history") for key in ("loss", "train_acc", "val_acc")}
    steps = network_steps(ctx, opts.model, seed) + [
        call(
            f"{SOLVER_MODULE}:Solver",
            ref("model"),
            {k: ref(k) for k in arrays},
            kwargs={**opts.solver_kwargs(), "seed": seed % 2**32},
            as_="solver",
        ),
        call(ref("solver", "train")),
        ret(params=ref("model", "params"), **histories),
    ]
    timeout = max(1.0, min(opts.time_limit, ctx.deadline - time.monotonic()))
    started = time.monotonic()
    reply = ctx.sandbox.run(Program(steps, arrays), timeout=timeout)
    run.seconds = time.monotonic() - started
    if not reply.ok and reply.error.kind == "timeout":
        run.problem = (
            f"training did not finish within its budget of {timeout:g} s: the network is too slow"
            " to train, which is slowness, not a wrong answer (the model checks judge that). The"
            " course's layer_utils.py trains on the fast layers; naive layers there make it slow."
        )
        run.status = "timeout"
        return run
    if not reply.ok:
        run.problem = f"training with the course's Solver failed: {reply.error.message}"
        run.status = "error"
        return run
    run.params = reply.values["params"]
    run.history = {key: _numbers(reply.values.get(key)) for key in ("loss", "train_acc", "val_acc")}
    _evaluate(opts, ctx, run, data)
    return run


def _evaluate(opts: Training, ctx: GradingContext, run: Run, data: dict[str, np.ndarray]) -> None:
    """Accuracies of the returned parameters, measured here, never taken from the child's report."""
    network = ctx.assignment.network
    expected = reference_model(network, opts.model).params
    problems = param_problems(run.params, expected)
    X_train, y_train = data["X_train"][: opts.eval_train], data["y_train"][: opts.eval_train]
    if not problems:
        model = reference_model(network, opts.model, run.params)
        run.evaluator = "the reference model with the trained parameters"
        run.train_acc = _accuracy(model.loss, X_train, y_train)
        run.val_acc = _accuracy(model.loss, data["X_val"], data["y_val"])
        return
    if not isinstance(run.params, dict) or any(
        type(v) is not np.ndarray for v in run.params.values()
    ):
        run.problem = "; ".join(problems)
        return
    scores = _student_scores(opts, ctx, run, {"train": X_train, "val": data["X_val"]})
    if isinstance(scores, str):
        run.problem = scores
        return
    run.evaluator = "the submission's model (its parameter shapes are not the standard ones)"
    run.train_acc = _accuracy(lambda X: scores["train"], X_train, y_train, batch=len(y_train))
    run.val_acc = _accuracy(
        lambda X: scores["val"], data["X_val"], data["y_val"], batch=len(data["y_val"])
    )


def _student_scores(
    opts: Training, ctx: GradingContext, run: Run, inputs: dict[str, np.ndarray]
) -> dict | str:
    arrays = {f"X_{k}": v for k, v in inputs.items()}
    steps = network_steps(ctx, opts.model, run.seed) + load_steps(run.params, arrays)
    for name in inputs:
        steps.append(call(ref("model", "loss"), ref(f"X_{name}"), as_=f"scores_{name}"))
    steps.append(ret(**{n: ref(f"scores_{n}") for n in inputs}))
    reply = ctx.sandbox.run(Program(steps, arrays), timeout=ctx.call_timeout)
    if not reply.ok:
        return f"the trained model could not be evaluated: {reply.error.message}"
    for name, X in inputs.items():
        scores = reply.values.get(name)
        if type(scores) is not np.ndarray or scores.ndim != 2 or len(scores) != len(X):
            return f"the trained model's loss(X) returned invalid scores for {len(X)} images"
    return reply.values


def _accuracy(scores_of, X: np.ndarray, y: np.ndarray, batch: int = EVAL_BATCH) -> float:
    predictions = [
        np.argmax(np.nan_to_num(np.asarray(scores_of(X[i : i + batch]), dtype=np.float64)), axis=1)
        for i in range(0, len(y), batch)
    ]
    return float(np.mean(np.concatenate(predictions) == y))


def _numbers(values: Any) -> list:
    """A child-reported history as JSON-safe floats (None where it is not a finite number)."""
    if not isinstance(values, list):
        return []
    out = []
    for v in values[:100000]:
        if isinstance(v, np.ndarray) and v.size == 1 and v.dtype.kind in "iuf":
            v = float(v.reshape(()))
        number = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        out.append(number if number is not None and math.isfinite(number) else None)
    return out


def _reference_run(opts: Training, network: Network, source: DataSource, seed: int) -> Run:
    """The reference model under the same seed, data and budget, trained here once per run."""

    def compute() -> Run:
        run = Run(seed)
        model = reference_model(network, opts.model)
        rng = np.random.RandomState(seed % 2**32)
        scale = float(network.config(opts.model)["weight_scale"])
        model.params = {
            n: (
                (scale * rng.randn(*p.shape) if n in network.weights else np.zeros(p.shape)).astype(
                    p.dtype
                )
            )
            for n, p in model.params.items()
        }
        data = opts.data(source)
        small = {
            "X_train": data["X_train"],
            "y_train": data["y_train"],
            "X_val": data["X_val"][: opts.solver_val],
            "y_val": data["y_val"][: opts.solver_val],
        }
        started = time.monotonic()
        Solver(model, small, **opts.solver_kwargs(), seed=seed % 2**32).train()
        run.seconds = time.monotonic() - started
        run.params = model.params
        _evaluate_reference(opts, run, model, data)
        return run

    return memo(opts.key(network, source, seed) + ("reference",), compute)


def _evaluate_reference(opts: Training, run: Run, model, data: dict[str, np.ndarray]) -> None:
    run.evaluator = "the reference model"
    run.train_acc = _accuracy(
        model.loss, data["X_train"][: opts.eval_train], data["y_train"][: opts.eval_train]
    )
    run.val_acc = _accuracy(model.loss, data["X_val"], data["y_val"])


# ---------------------------------------------------------------- the bars
def by_source(value: Any, source: DataSource, default: Any) -> Any:
    """A bar given once, or per data source as {builtin = ..., npz = ..., cifar10 = ...}."""
    return value.get(source.kind, default) if isinstance(value, dict) else value


class OverfitBar:
    """The notebook's "clear overfitting": high training accuracy, validation clearly lower."""

    def __init__(self, opts: Overfit, source: DataSource, ctx: GradingContext) -> None:
        self.min_train = by_source(opts.min_train_acc, source, Overfit.min_train_acc)
        self.min_gap = by_source(opts.min_gap, source, Overfit.min_gap)

    def describe(self) -> str:
        return (
            f"training accuracy >= {self.min_train:.0%} and validation at least {self.min_gap:.0%}"
            " lower"
        )

    def judge(self, run: Run) -> str | None:
        if run.problem:
            return run.problem
        gap = run.train_acc - run.val_acc
        if run.train_acc >= self.min_train and gap >= self.min_gap:
            return None
        return (
            f"training accuracy {run.train_acc:.1%} and validation accuracy {run.val_acc:.1%} (gap"
            f" {gap:.1%}) do not show overfitting: expected {self.describe()}"
        )


class TrainBar:
    """Training accuracy after the budget: the notebook's absolute bar for the data source, or a
    share of what the reference reaches over chance with the same seed, data and budget (either
    suffices)."""

    def __init__(self, opts: TrainAccuracy, source: DataSource, ctx: GradingContext) -> None:
        self.absolute = by_source(opts.min_train_acc, source, None)
        self.fraction = opts.reference_fraction
        network = ctx.assignment.network
        self.reference = (
            _reference_run(opts, network, source, ctx.seed) if self.fraction > 0 else None
        )
        chance = 1.0 / float(network.config(opts.model)["num_classes"])
        self.relative = (
            chance + self.fraction * (self.reference.train_acc - chance) if self.reference else None
        )
        if self.absolute is None and self.relative is None:
            raise ValueError(
                "a training check needs min_train_acc for this data source or"
                " reference_fraction > 0"
            )

    def describe(self) -> str:
        bars = []
        if self.absolute is not None:
            bars.append(f"training accuracy > {self.absolute:.0%}")
        if self.relative is not None:
            bars.append(
                f"training accuracy >= {self.relative:.1%} ({self.fraction:g} of the reference's "
                f"{self.reference.train_acc:.1%} over chance)"
            )
        return " or ".join(bars)

    def judge(self, run: Run) -> str | None:
        if run.problem:
            return run.problem
        if (self.absolute is not None and run.train_acc > self.absolute) or (
            self.relative is not None and run.train_acc >= self.relative
        ):
            return None
        return (
            f"training accuracy {run.train_acc:.1%} (validation {run.val_acc:.1%}); expected"
            f" {self.describe()}"
        )


BARS = {"overfit": OverfitBar, "train": TrainBar}


def _result(
    spec: CheckSpec, network: Network, source: DataSource, bar, runs: list[Run], verdict: str | None
) -> CheckResult:
    shown = runs[-1] if verdict is None else runs[0]
    details: dict[str, Any] = {
        "data": source.label,
        "bar": bar.describe(),
        "runs": [r.summary() for r in runs],
        "history": shown.history,
    }
    filters = shown.params.get(network.params[0]) if isinstance(shown.params, dict) else None
    if type(filters) is np.ndarray and filters.ndim == 4 and filters.size <= MAX_FILTER_VALUES:
        details["first_layer_filters"] = np.round(
            np.nan_to_num(filters.astype(np.float64)), 6
        ).tolist()
    reference = getattr(bar, "reference", None)
    if reference is not None:
        details["reference"] = reference.summary()
    if verdict is None:
        retried = " (on a second run; the first did not reach the bar)" if len(runs) > 1 else ""
        message = (
            f"training accuracy {shown.train_acc:.1%}, validation {shown.val_acc:.1%}{retried}"
        )
        return CheckResult(
            spec.id,
            network.class_name,
            spec.name,
            "passed",
            spec.points,
            spec.points,
            spec.visibility,
            message,
            None,
            details,
        )
    status = runs[0].status if runs[0].problem else "failed"
    if len(runs) > 1:
        second = runs[1]
        verdict += (
            f"; a second run with another seed agreed ({second.train_acc:.1%} training accuracy)"
            if second.problem is None
            else f"; a second run with another seed also failed: {second.problem}"
        )
    hint = (
        None
        if runs[0].problem
        else (
            "Check your loss and gradients (the model checks above) and the parameters' initial"
            " scale."
        )
    )
    return CheckResult(
        spec.id,
        network.class_name,
        spec.name,
        status,
        0.0,
        spec.points,
        spec.visibility,
        verdict,
        hint,
        details,
    )
