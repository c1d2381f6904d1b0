"""Every common confusion of two parameters fails a hidden case, whatever the run's seed.

Each confusion is applied to a copy of the reference's layers (the pooled width computed from
pool_height, H and W swapped, the stride used as the pool size, ...). The copy also drops the
reference's input validation, so it computes what a student's loop with that mistake computes
instead of refusing the input. On a sample of seeds, some hidden case of the assignment must
then get a wrong shape, wrong values or an exception, while the unmutated copy passes them all.
"""

from __future__ import annotations

import copy
import inspect
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.oracle import answer
from grader.cases import Case, CaseBook
from grader.compare import compare_arrays
from reference import layers as ref_layers

# Confused layers may average empty windows; that is part of their failure, not a warning.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

ASSIGNMENT = load_assignment()
SEEDS = [0, 987654321, *np.random.RandomState(17).randint(0, 2**31 - 1, 23).tolist()]

# What a student's code does where the reference refuses a geometry: floor division, no checks.
LENIENT = """
def _output_size(params_name, axis, size, pad, window, window_size, stride):
    return 1 + (size + 2 * (pad or 0) - window_size) // stride

def _require_ndim(*args):
    pass

def _require_shape(*args):
    pass
"""

# confusion -> (families it concerns, [(function, text, replacement), ...])
CONFUSIONS: dict[str, tuple[tuple[str, ...], list[tuple[str, str, str]]]] = {
    "pooled width from pool_height": (
        ("max_pool", "avg_pool"),
        [
            ("_pool_geometry", '"pool_width", pw, stride)', '"pool_width", ph, stride)'),
        ],
    ),
    "pool_height and pool_width swapped in the window": (
        ("max_pool", "avg_pool"),
        [
            (
                "_pool_geometry",
                "return out_h, out_w, stride, ph, pw",
                "return out_h, out_w, stride, pw, ph",
            ),
        ],
    ),
    "H and W swapped (pooling)": (
        ("max_pool", "avg_pool"),
        [
            (
                "_pool_geometry",
                'x.shape[2], None, "pool_height"',
                'x.shape[3], None, "pool_height"',
            ),
            ("_pool_geometry", 'x.shape[3], None, "pool_width"', 'x.shape[2], None, "pool_width"'),
        ],
    ),
    "windows stepped by the pool size instead of the stride": (
        ("max_pool", "avg_pool"),
        [
            (
                "_pool_geometry",
                'stride = _int_param(pool_param, "pool_param", "stride", 1)',
                "stride = ph",
            ),
        ],
    ),
    "the stride used as the pool size": (
        ("max_pool", "avg_pool"),
        [
            (
                "_pool_geometry",
                'ph = _int_param(pool_param, "pool_param", "pool_height", 1)',
                'ph = pool_param["stride"]',
            ),
            (
                "_pool_geometry",
                'pw = _int_param(pool_param, "pool_param", "pool_width", 1)',
                'pw = pool_param["stride"]',
            ),
        ],
    ),
    "N and C swapped (pooling)": (
        ("max_pool", "avg_pool"),
        [
            (
                "_pool_forward",
                "np.empty(x.shape[:2] + (out_h, out_w)",
                "np.empty((x.shape[1], x.shape[0]) + (out_h, out_w)",
            ),
        ],
    ),
    "H and W swapped (convolution)": (
        ("conv",),
        [
            ("conv_forward_naive", "n, c, h, width = x.shape", "n, c, width, h = x.shape"),
        ],
    ),
    "HH and WW swapped": (
        ("conv",),
        [
            ("conv_forward_naive", "f, wc, hh, ww = w.shape", "f, wc, ww, hh = w.shape"),
        ],
    ),
    "N and C swapped (convolution)": (
        ("conv",),
        [
            ("conv_forward_naive", "n, c, h, width = x.shape", "c, n, h, width = x.shape"),
        ],
    ),
    "F and C swapped": (
        ("conv",),
        [
            ("conv_forward_naive", "f, wc, hh, ww = w.shape", "wc, f, hh, ww = w.shape"),
        ],
    ),
    "G used as the group size": (
        ("spatial_groupnorm",),
        [
            (
                "spatial_groupnorm_forward",
                "x.reshape(n, G, c // G, h, w)",
                "x.reshape(n, c // G, G, h, w)",
            ),
            (
                "spatial_groupnorm_backward",
                "grouped = (n, G, c // G, h, w)",
                "grouped = (n, c // G, G, h, w)",
            ),
        ],
    ),
    "N and C swapped (group norm)": (
        ("spatial_groupnorm",),
        [
            ("spatial_groupnorm_forward", "n, c, h, w = x.shape", "c, n, h, w = x.shape"),
        ],
    ),
    "H and W swapped (batch norm)": (
        ("spatial_batchnorm",),
        [
            ("spatial_batchnorm_forward", "out.reshape(n, h, w, c)", "out.reshape(n, w, h, c)"),
        ],
    ),
    "N and C swapped (batch norm)": (
        ("spatial_batchnorm",),
        [
            ("spatial_batchnorm_forward", "n, c, h, w = x.shape", "c, n, h, w = x.shape"),
        ],
    ),
}


def layers_with(changes: list[tuple[str, str, str]]) -> SimpleNamespace:
    """The reference's layers, lenient, with each function in `changes` rewritten."""
    namespace: dict[str, Any] = {}
    exec(compile(inspect.getsource(ref_layers) + LENIENT, "mutated_layers", "exec"), namespace)
    for function, text, replacement in changes:
        source = inspect.getsource(getattr(ref_layers, function))
        assert text in source, f"{function} no longer contains {text!r}"
        exec(compile(source.replace(text, replacement), f"mutated {function}", "exec"), namespace)
    return SimpleNamespace(**namespace)


def hidden_cases(book: CaseBook, family: str) -> list[Case]:
    names = {
        name
        for spec in ASSIGNMENT.checks
        if spec.family == family
        and spec.visibility == "hidden"
        and spec.kind in ("forward", "backward")
        for name in spec.cases
    }
    return [book.get(family, name) for name in sorted(names)]


def run_case(layers: SimpleNamespace, case: Case) -> tuple[Any, tuple]:
    """The forward's output (after the case's training calls) and, in train mode, the gradients."""
    fam = case.family
    values = {k: v.astype(np.float64) for k, v in case.arrays.items()}
    values.update(copy.deepcopy(case.settings))
    forward = getattr(layers, fam.forward)
    for batch in case.train_batches:
        forward(*[batch.astype(np.float64) if p == "x" else values[p] for p in fam.signature])
    if case.train_batches:
        values["bn_param"]["mode"] = "test"
    out, cache = forward(*[values[p] for p in fam.signature])
    if case.mode != "train":
        return out, ()
    grads = getattr(layers, fam.backward)(case.dout.astype(np.float64), cache)
    return out, grads if isinstance(grads, tuple) else (grads,)


def wrong_on(layers: SimpleNamespace, case: Case) -> str | None:
    """How `layers` fails `case` (a wrong shape or values, or an exception), or None."""
    try:
        out, grads = run_case(layers, case)
    except Exception as exc:  # a confusion that crashes fails the case too
        return f"raised {type(exc).__name__}"
    compared = [("out", out, case.ref_out), *zip(case.family.grads, grads, case.ref_grads)]
    for name, got, expected in compared:
        mismatch = compare_arrays(got, expected, name, 1e-6)
        if mismatch:
            return mismatch.message
    return None


@pytest.fixture(scope="module")
def casebooks() -> dict[int, CaseBook]:
    return {seed: CaseBook(ASSIGNMENT, seed, answer) for seed in SEEDS}


def test_the_lenient_reference_passes_every_hidden_case(casebooks):
    layers = layers_with([])
    families = {f for families, _ in CONFUSIONS.values() for f in families}
    for seed, book in casebooks.items():
        for family in sorted(families):
            for case in hidden_cases(book, family):
                assert wrong_on(layers, case) is None, (seed, case.key)


@pytest.mark.parametrize("confusion", sorted(CONFUSIONS))
def test_each_confusion_fails_a_hidden_case_on_every_seed(casebooks, confusion):
    families, changes = CONFUSIONS[confusion]
    layers = layers_with(changes)
    for family in families:
        for seed, book in casebooks.items():
            failures = {case.name: wrong_on(layers, case) for case in hidden_cases(book, family)}
            assert any(failures.values()), f"{confusion}: {family} passes at seed {seed}"


def test_the_pooled_width_from_pool_height_gets_a_wrong_shape_on_every_seed(casebooks):
    """The real submission's bug: the fixed non-square case misses it, the drawn one never does."""
    layers = layers_with(CONFUSIONS["pooled width from pool_height"][1])
    pool_param = {"pool_height": 2, "pool_width": 3, "stride": 2}
    fixed, _ = layers.max_pool_forward_naive(np.zeros((2, 3, 4, 7)), pool_param)
    right, _ = ref_layers.max_pool_forward_naive(np.zeros((2, 3, 4, 7)), pool_param)
    assert fixed.shape == right.shape
    for seed, book in casebooks.items():
        case = book.get("max_pool", "drawn")
        out, _ = layers.max_pool_forward_naive(case.arrays["x"], case.settings["pool_param"])
        assert out.shape != case.ref_out.shape, seed


def test_the_grader_fails_a_loop_that_computes_the_pooled_width_from_pool_height(
    tmp_path, grading, submissions
):
    source = (submissions / "textbook_loops" / "ie590" / "layers.py").read_text()
    correct = "    W_out = 1 + (W - pw) // s\n    out = np.zeros((N, C, H_out, W_out))\n"
    assert source.count(correct) == 2  # max and average pooling
    mistake = correct.replace("(W - pw)", "(W - ph)")
    (tmp_path / "layers.py").write_text(source.replace(correct, mistake, 1))
    result = grading.one(
        tmp_path, grading.options(seed=0, only=("forward.max_pool_forward_naive.*",))
    )
    assert grading.failing(result) == {"forward.max_pool_forward_naive.hidden": "failed"}
    check = next(c for c in result.checks if c.id == "forward.max_pool_forward_naive.hidden")
    spec = next(s for s in ASSIGNMENT.checks if s.id == check.id)
    drawn = check.details["cases"][spec.cases.index("drawn")]
    assert drawn["status"] == "failed" and "shape" in drawn["message"]
