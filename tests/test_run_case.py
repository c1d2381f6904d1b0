"""run_case: one case through a submission's functions in the sandbox, and what came back."""

from __future__ import annotations

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.cases import CaseBook
from grader.oracle import COURSE_DIR, answer
from grader.run_case import (
    CaseRunOptions,
    Observation,
    _numeric_steps,
    _program,
    coordinates,
    numeric_evaluations,
    numeric_gradient,
    run_case,
)
from grader.sandbox import Limits, Sandbox

BROKEN_BACKWARD = "\n\ndef conv_backward_naive(dout, cache):\n    raise ValueError('not yet')\n"
BROKEN_FORWARD = "\n\ndef relu_forward(x):\n    raise ZeroDivisionError('oops')\n"


@pytest.fixture(scope="module")
def book() -> CaseBook:
    return CaseBook(load_assignment(), 0, answer)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """The course's layers as a student package, with a broken conv backward and relu forward."""
    package = tmp_path_factory.mktemp("files") / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = (COURSE_DIR / "layers.py").read_text()
    (package / "layers.py").write_text(source)
    (package / "broken.py").write_text(source + BROKEN_BACKWARD + BROKEN_FORWARD)
    with Sandbox(package.parent, isolation="none", limits=Limits(call_timeout_s=20)) as box:
        yield box


def options(module: str = "pkg.layers", max_coords: int = 60) -> CaseRunOptions:
    return CaseRunOptions(module=module, numeric_h=1e-5, numeric_max_coords=max_coords, timeout=20)


def test_a_correct_forward_and_backward_are_observed_then_their_numeric_gradient(sandbox, book):
    case = book.get("conv", "stride2_pad1_nonsquare")
    obs = run_case(sandbox, case, options(max_coords=10))
    assert obs.error is None and obs.failed_stage is None
    assert obs.numeric is None, "numeric evaluations are taken only when asked for"
    np.testing.assert_allclose(obs.forward[0], case.ref_out)
    for got, want in zip(obs.grads, case.ref_grads):
        np.testing.assert_allclose(got, want)
    assert all(np.array_equal(obs.after_forward[n], case.arrays[n]) for n in ("x", "w", "b"))
    assert set(obs.after_backward) == {"x", "w", "b", "dout"}
    obs.numeric, obs.coords = numeric_evaluations(
        sandbox, case, options(max_coords=10), np.random.RandomState(0)
    )
    assert len(obs.coords["x"]) == 10 and len(obs.coords["b"]) == 3  # b has only 3 entries
    for i, name in enumerate(("x", "w", "b")):
        analytic = case.ref_grads[i][tuple(obs.coords[name].T)]
        np.testing.assert_allclose(
            numeric_gradient(obs, name, 1e-5), analytic, rtol=1e-5, atol=1e-8
        )


def test_a_failing_backward_is_blamed_on_the_backward(sandbox, book):
    obs = run_case(sandbox, book.get("conv", "stride1_pad0"), options("pkg.broken"))
    assert obs.failed_stage == "backward" and obs.error.kind == "exception"
    assert "in conv_backward_naive: ValueError: not yet" in obs.error.message
    assert obs.forward is not None, "what the forward returned is kept"


def test_a_failing_forward_is_blamed_on_the_forward(sandbox, book):
    obs = run_case(sandbox, book.get("relu", "random"), options("pkg.broken"))
    assert obs.failed_stage == "forward" and "ZeroDivisionError" in obs.error.message
    assert obs.forward is None


def test_a_test_mode_case_trains_first_then_runs_no_backward(sandbox, book):
    case = book.get("spatial_batchnorm", "notebook_test")
    program = _program(case, options(), stage="backward")
    steps = program.to_json()
    assert (
        sum(s.get("call") == "pkg.layers:spatial_batchnorm_forward" for s in steps)
        == len(case.train_batches) + 2  # the decoy call on other inputs, the training, the case
    )
    assert {"set": {"@": "bn_param", "path": ["mode"]}, "value": "test"} in steps
    assert "bwd" not in steps[-1]["return"]
    assert numeric_evaluations(sandbox, case, options(), np.random.RandomState(0)) == ({}, {})
    obs = run_case(sandbox, case, options())
    np.testing.assert_allclose(obs.forward[0], case.ref_out, atol=1e-12)
    np.testing.assert_allclose(obs.param["running_mean"], case.ref_param["running_mean"])


def test_the_numeric_evaluations_use_the_assignments_step_on_pristine_inputs(book):
    case = book.get("max_pool", "overlapping")
    arrays, coords, returned = {}, {}, {}
    steps = _numeric_steps(
        case, options(max_coords=7), np.random.RandomState(3), arrays, coords, returned
    )
    numeric = [s.to_json()["numeric"] for s in steps]
    assert len(numeric) == 1 and numeric[0]["h"] == 1e-5 and numeric[0]["output"] == [0]
    assert numeric[0]["args"][0] == {"@": "x__original"}
    np.testing.assert_array_equal(arrays["x__original"], case.arrays["x"])
    np.testing.assert_array_equal(arrays["coords_x"], coords["x"])
    forward_only = _program(case, options(), stage="forward")
    assert not any("numeric" in s or s.get("as") == "bwd" for s in forward_only.to_json())


def test_coordinates_are_every_index_or_a_sorted_sample():
    every = coordinates((2, 3), 10, np.random.RandomState(0))
    assert every.tolist() == [[i, j] for i in range(2) for j in range(3)]
    sample = coordinates((4, 5, 6), 12, np.random.RandomState(0))
    flat = np.ravel_multi_index(tuple(sample.T), (4, 5, 6))
    assert len(sample) == 12 and list(flat) == sorted(set(flat))
    np.testing.assert_array_equal(sample, coordinates((4, 5, 6), 12, np.random.RandomState(0)))


def test_numeric_gradient_is_the_central_difference_of_dout_weighted_outputs(book):
    case = book.get("relu", "random")
    evals = np.stack([np.stack([case.dout * 0 + 3.0, case.dout * 0 + 1.0])] * 2)
    obs = Observation(case=case, numeric={"x": evals}, coords={"x": np.zeros((2, 2), np.int64)})
    np.testing.assert_allclose(numeric_gradient(obs, "x", 0.5), [2 * case.dout.sum()] * 2)
