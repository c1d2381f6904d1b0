"""Fixtures for the report tests: sample RunResults built from the result dataclasses.

They cover what renderers must cope with: every check status, hidden checks whose inputs
must not leak, a submission that could not be graded, training histories with gaps,
filters (good and malformed), a notebook link, inline answers and hostile ids. The fixtures
are the builders, so a test can make a fresh run whenever it changes one.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.results import CheckResult, RunResult, SubmissionResult

HIDDEN_CASE_MARK = "hiddencase"
"""A word that appears only in hidden checks' inputs: finding it in a report is a leak."""

NOTEBOOK_QUESTIONS = (
    (
        "Inline Question #1: If you want to reduce the size of the image from W x H x N to "
        "W/4 x H/4 x N, what should be stride, pool height and pool width?"
    ),
    (
        "Inline Question #2: Does max pooling act as a non-linear activation similar to the Sigmoid"
        " and tanh?"
    ),
)
INLINE_ANSWER = (
    "*stride = 4*, pool height $HH = 4 + 2P_H$, pool width $WW = 4 + 2P_W$, where P_H "
    "is the padding; ![tracker](http://example.com/t.png)"
)
"""Markdown with math, as students write it: underscores in `$...$` and in words, and an image."""
GROUPNORM_HINT = "gamma and beta have shape (1, C, 1, 1): the output must keep the shape of x."


def _make_check(
    check_id: str,
    status: str,
    max_score: float,
    *,
    score: float | None = None,
    visibility: str = "public",
    message: str = "",
    hint: str | None = None,
    student_message: str | None = None,
    **details,
) -> CheckResult:
    target = check_id.split(".")[1]
    earned = (max_score if status == "passed" else 0.0) if score is None else score
    return CheckResult(
        id=check_id,
        target=target,
        name=f"{target} ({check_id.split('.')[-1]})",
        status=status,
        score=earned,
        max_score=max_score,
        visibility=visibility,
        message=message,
        hint=hint,
        details=details,
        student_message=student_message,
    )


def _make_submission(
    sub_id: str,
    checks: list[CheckResult],
    *,
    status: str = "graded",
    max_score: float | None = None,
    error: str | None = None,
    duration_s: float = 12.5,
    **details,
) -> SubmissionResult:
    total = sum(c.max_score for c in checks) if max_score is None else max_score
    return SubmissionResult(
        id=sub_id,
        path=f"submissions/{sub_id}",
        sha256="ab" * 32,
        status=status,
        score=sum(c.score for c in checks),
        max_score=total,
        duration_s=duration_s,
        checks=checks,
        error=error,
        details=details,
    )


def _training_history(epochs: int = 15, iters_per_epoch: int = 2, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = epochs * iters_per_epoch
    loss = 2.3 * np.exp(-np.arange(n) / 12) + 0.05 * rng.random(n)
    train = np.linspace(0.13, 0.95, epochs + 1)
    val = 0.08 + 0.14 * np.sqrt(np.linspace(0, 1, epochs + 1))
    return {
        "loss": loss.round(4).tolist(),
        "train_acc": train.round(3).tolist(),
        "val_acc": val.round(3).tolist(),
    }


def _first_layer_filters(num: int = 32, seed: int = 1) -> list:
    return np.random.default_rng(seed).normal(0, 1e-3, (num, 3, 7, 7)).round(6).tolist()


def _full_checks(history: dict, filters: list) -> list[CheckResult]:
    """All checks of the assignment, passed, as a correct submission gets them."""
    return [
        _make_check(
            "forward.conv_forward_naive.public",
            "passed",
            2,
            message="difference 2.2e-08",
            case={"x": [2, 3, 4, 4], "w": [3, 3, 4, 4], "conv_param": {"stride": 2, "pad": 1}},
            cases=[{"case": {"x": [2, 3, 4, 4]}, "status": "passed", "message": ""}],
        ),
        _make_check(
            "forward.conv_forward_naive.hidden",
            "passed",
            2,
            visibility="hidden",
            case={"x": [1, 2, 5, 11], "stride": 3, "pad": 0, "name": HIDDEN_CASE_MARK},
        ),
        _make_check("backward.conv_backward_naive.public", "passed", 3, message="dx error 1.4e-09"),
        _make_check(
            "backward.max_pool_backward_naive.hidden",
            "passed",
            2,
            visibility="hidden",
            case={"x": [1, 1, 6, 4], "pool": 2, "ties": HIDDEN_CASE_MARK},
        ),
        _make_check("forward.spatial_groupnorm_forward.public", "passed", 2),
        _make_check("inputs.conv_backward_naive.no_mutation", "passed", 1),
        _make_check("model.FourLayerConvNet.initial_loss", "passed", 2, message="loss 2.3026"),
        _make_check(
            "training.FourLayerConvNet.overfit",
            "passed",
            3,
            message="train accuracy 0.95",
            history=history,
            first_layer_filters=filters,
        ),
        _make_check("speed.conv_forward_fast.speedup", "passed", 1),
    ]


def _alice() -> SubmissionResult:
    answers = [
        {"question": NOTEBOOK_QUESTIONS[0], "answer": INLINE_ANSWER, "status": "needs grading"},
        {
            "question": NOTEBOOK_QUESTIONS[1],
            "answer": "Yes; but it cannot output < 0 <b>values</b>.",
            "status": "needs grading",
        },
    ]
    return _make_submission(
        "alice",
        _full_checks(_training_history(), _first_layer_filters()),
        duration_s=41.2,
        notebook="notebooks/alice.ipynb",
        inline_answers=answers,
        stdout="Testing conv_forward_naive\ndifference:  2.2e-08\n",
    )


def _bob() -> SubmissionResult:
    checks = [
        _make_check("forward.conv_forward_naive.public", "passed", 2),
        _make_check(
            "forward.conv_forward_naive.hidden",
            "failed",
            2,
            visibility="hidden",
            message=(
                f"0/1 cases passed; case {HIDDEN_CASE_MARK}: out has shape (1, 3, 1, 4), "
                "expected (1, 3, 1, 3)"
            ),
            student_message="0/1 cases passed; out has the wrong shape",
            hint="compute the output width as 1 + (W + 2 * pad - WW) // stride, not (1, 3, 1, 4)",
            case={"x": [1, 2, 5, 11], "stride": 3, "pad": 0, "name": HIDDEN_CASE_MARK},
            expected=f"{HIDDEN_CASE_MARK}: shape (1, 3, 1, 3)",
            got=f"{HIDDEN_CASE_MARK}: shape (1, 3, 1, 4)",
            max_error=0.53,
            tolerance=1e-7,
            where=[0, 1, 0, 3],
        ),
        _make_check(
            "backward.conv_backward_naive.public",
            "failed",
            3,
            score=1.0,
            message="dw is wrong; dx and db are right",
            hint="dw sums over the batch: x_pad * dout",
            case={"x": [4, 3, 5, 5], "w": [2, 3, 3, 3], "conv_param": {"stride": 1, "pad": 1}},
            expected="dw[0, 1, 2, 2] = 0.8123",
            got="dw[0, 1, 2, 2] = 0.2031",
            max_error=0.75,
            tolerance=1e-8,
            where=[0, 1, 2, 2],
        ),
        _make_check(
            "backward.max_pool_backward_naive.hidden",
            "error",
            2,
            visibility="hidden",
            message=(
                "max_pool_backward_naive: IndexError: index 11 is out of bounds"
                f" ({HIDDEN_CASE_MARK})"
            ),
            student_message="0/1 cases passed; max_pool_backward_naive: raised IndexError",
            case={"x": [1, 1, 6, 4], "name": HIDDEN_CASE_MARK},
            traceback=(
                'File "ie590/layers.py", line 512, in max_pool_backward_naive\n'
                "    dx[n, c, i, j] = dout[n, c, i // ph]\nIndexError: index 3 is out of bounds"
            ),
        ),
        _make_check(
            "forward.spatial_groupnorm_forward.public",
            "failed",
            2,
            message="output has shape (1, 1, 1, 2, 6, 4, 5), expected (2, 6, 4, 5)",
            hint=GROUPNORM_HINT,
            cases=[
                {"case": {"x": [2, 6, 4, 5], "G": 2}, "status": "failed", "message": "wrong shape"},
                {"case": {"x": [1, 4, 3, 3], "G": 4}, "status": "passed", "message": ""},
            ],
        ),
        _make_check(
            "inputs.conv_backward_naive.no_mutation",
            "failed",
            1,
            message="dout was modified in place",
        ),
        _make_check("model.FourLayerConvNet.initial_loss", "passed", 2),
        _make_check(
            "training.FourLayerConvNet.overfit",
            "timeout",
            3,
            message="training did not finish within 120 s",
        ),
        _make_check(
            "speed.conv_forward_fast.speedup", "skipped", 1, message="fast layers were substituted"
        ),
    ]
    return _make_submission(
        "bob",
        checks,
        duration_s=133.0,
        substituted=["fast_layers", "im2col"],
        review=["inline answer 2 is empty"],
        protections=["rlimits", "network-namespace"],
    )


def _carol() -> SubmissionResult:
    history = _training_history(seed=3)
    history["loss"][4] = None
    checks = _full_checks(history, [[[1.0, 2.0]]])
    checks[4] = _make_check(
        "forward.spatial_groupnorm_forward.public",
        "failed",
        2,
        message="output has the wrong shape",
        hint=GROUPNORM_HINT,
    )
    checks[7] = _make_check(
        "training.FourLayerConvNet.overfit",
        "failed",
        3,
        message="train accuracy 0.41 < 0.9",
        history=history,
        first_layer_filters=[[[1.0, 2.0]]],
    )
    return _make_submission(
        '../carol <b>&amp; "q"',
        checks,
        duration_s=65.0,
        notebook="javascript:alert(1)",
        stdout="bell\x07 nul\x00 esc\x1b[31m red",
    )


def _dave() -> SubmissionResult:
    return _make_submission(
        "=dave+1",
        [],
        status="error",
        max_score=18.0,
        duration_s=0.4,
        error="could not import ie590.layers: SyntaxError at line 120",
    )


def _sample_run() -> RunResult:
    return RunResult(
        grader_version="0.1.0",
        assignment="ConvolutionalNetworks",
        seed=1234,
        created="2024-11-27T10:00:00+00:00",
        submissions=[_alice(), _bob(), _carol(), _dave()],
        details={"isolation": "bubblewrap"},
    )


def _single_run() -> RunResult:
    run = _sample_run()
    run.submissions = [_bob()]
    return run


def _large_run(n: int = 200, seed: int = 7) -> RunResult:
    """A class of n submissions with random outcomes, for timing the renderers."""
    rng = np.random.default_rng(seed)
    statuses = ["passed", "failed", "error", "timeout", "skipped"]
    subs = []
    for i in range(n):
        checks = _full_checks(_training_history(seed=i), _first_layer_filters(seed=i))
        for j, c in enumerate(checks):
            status = str(rng.choice(statuses, p=[0.7, 0.15, 0.05, 0.05, 0.05]))
            checks[j] = _make_check(
                c.id,
                status,
                c.max_score,
                visibility=c.visibility,
                hint=f"hint {j % 3}",
                message=f"{status} on case {i}",
                **c.details,
            )
        subs.append(
            _make_submission(f"student{i:03d}", checks, duration_s=float(rng.uniform(5, 200)))
        )
    return RunResult(
        grader_version="0.1.0",
        assignment="ConvolutionalNetworks",
        seed=seed,
        created="2024-11-27T10:00:00+00:00",
        submissions=subs,
    )


LONG_ID = (
    "maximiliana.konstantinopoulou-vanderberg_ConvolutionalNetworks_late-submission_"
    "2024-11-27T23-59-59"
)
"""A real-world submission id: no spaces to break at, longer than a phone is wide."""


def _class_run(n: int = 200, seed: int = 11) -> RunResult:
    """A class graded on the real assignment's checks, with the outcomes a class has: all
    correct, one function wrong, partial credit, code that does not import, a missing
    classifiers/cnn.py, a crash, and hand-ins that cannot be graded; some ids are long."""
    from grader.assignment import load_assignment

    specs = load_assignment().checks
    rng = np.random.default_rng(seed)
    problem = {
        "module": "ie590.layers",
        "message": "SyntaxError: '(' was never closed",
        "file": "ie590/layers.py",
        "line": 31,
        "offset": 17,
        "text": "    cache = x(((",
    }
    subs = []
    for i in range(n):
        kind = rng.choice(
            ["correct", "bug", "partial", "import", "no_cnn", "crash", "ungradable"],
            p=[0.45, 0.2, 0.12, 0.06, 0.08, 0.05, 0.04],
        )
        sub_id = LONG_ID if i == 1 else f"student{i:03d}"
        if kind == "ungradable":
            subs.append(
                _make_submission(
                    sub_id,
                    [],
                    status="error",
                    max_score=93.0,
                    error="ambiguous submission: layers.py in several places",
                )
            )
            continue
        wrong = rng.choice([s.family for s in specs if s.kind == "forward"])
        checks = []
        for spec in specs:
            status, score, details = "passed", spec.points, {}
            if kind == "import" and spec.kind in ("forward", "backward", "inputs", "speed"):
                status, score, details = "error", 0.0, {"import_error": problem}
            elif kind == "no_cnn" and spec.kind in ("model", "training"):
                status, score = "skipped", 0.0
            elif kind in ("bug", "partial", "crash") and spec.family == wrong:
                status = {"bug": "failed", "partial": "failed", "crash": "error"}[str(kind)]
                score = round(spec.points / 2, 2) if kind == "partial" else 0.0
            if spec.kind == "notebook":
                status, score = "skipped", 0.0
            check = _make_check(
                spec.id,
                status,
                spec.points,
                score=score,
                visibility=spec.visibility,
                message=f"{status}",
                **details,
            )
            check.name = spec.name
            checks.append(check)
        subs.append(
            _make_submission(
                sub_id,
                checks,
                max_score=sum(c.max_score for c in checks if c.status != "skipped"),
                duration_s=float(rng.uniform(5, 60)),
            )
        )
    return RunResult(
        grader_version="0.1.0",
        assignment="ConvolutionalNetworks",
        seed=seed,
        created="2024-11-27T10:00:00+00:00",
        submissions=subs,
        details={"only": [], "skip": []},
    )


@pytest.fixture(scope="session")
def hidden_mark() -> str:
    return HIDDEN_CASE_MARK


@pytest.fixture(scope="session")
def groupnorm_hint() -> str:
    return GROUPNORM_HINT


@pytest.fixture(scope="session")
def long_id() -> str:
    return LONG_ID


@pytest.fixture(scope="session")
def make_check():
    return _make_check


@pytest.fixture(scope="session")
def make_submission():
    return _make_submission


@pytest.fixture(scope="session")
def bob():
    """Builds the submission with a failed, an erroring, a timed-out and a skipped check."""
    return _bob


@pytest.fixture(scope="session")
def sample_run():
    """Builds the four-student sample run (a fresh one per call)."""
    return _sample_run


@pytest.fixture(scope="session")
def single_run():
    """Builds a run of one submission (bob's)."""
    return _single_run


@pytest.fixture(scope="session")
def large_run():
    """Builds a class of n submissions with random outcomes, for timing the renderers."""
    return _large_run


@pytest.fixture(scope="session")
def class_run():
    """Builds a class graded on the real assignment's checks, with a class's outcomes."""
    return _class_run
