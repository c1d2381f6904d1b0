"""Hint probes: each mistake's hint is offered only when the submission's output is that mistake."""

from __future__ import annotations

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.cases import CaseBook
from grader.checks import hints
from grader.oracle import LAYER_FUNCTIONS, answer
from grader.run_case import Observation


@pytest.fixture(scope="module")
def book() -> CaseBook:
    return CaseBook(load_assignment(), 0, answer)


def forward_hint(case, out, param=None):
    return hints.forward_hint(case, out, Observation(case=case, param=param))


def conv(case, **changes):
    arrays = {**case.arrays, **changes}
    return LAYER_FUNCTIONS["conv_forward_naive"](
        arrays["x"], arrays["w"], arrays["b"], case.settings["conv_param"]
    )[0]


def test_conv_mistakes_are_recognised(book):
    case = book.get("conv", "stride2_pad1_nonsquare")
    w, b = case.arrays["w"], case.arrays["b"]
    assert (
        forward_hint(case, conv(case, w=w[:, :, ::-1, ::-1].copy()))
        == hints.HINTS["kernel_flipped"]
    )
    assert forward_hint(case, conv(case, b=np.zeros_like(b))) == hints.HINTS["bias_missing"]
    cropped = case.ref_out[:, :, :-1]
    assert forward_hint(case, cropped) == hints.HINTS["output_size"]


def test_a_hint_that_the_output_does_not_confirm_is_never_shown(book):
    case = book.get("conv", "stride2_pad1_nonsquare")
    assert (
        forward_hint(case, case.ref_out + np.random.RandomState(0).randn(*case.ref_out.shape))
        is None
    )
    assert forward_hint(case, "not an array") is None


def test_a_reshaped_right_answer_says_so(book):
    case = book.get("max_pool", "nonsquare")
    hint = forward_hint(case, case.ref_out.reshape(-1))
    assert hint == hints.HINTS["values_right_shape_wrong"].format(
        got=(case.ref_out.size,), expected=case.ref_out.shape
    )


def test_average_pooling_over_the_wrong_area(book):
    case = book.get("avg_pool", "overlapping")
    assert "factor of about 2.25" in forward_hint(case, case.ref_out * 2.25)
    dx = case.ref_grads[0]
    assert "factor of about 0.5" in hints.backward_hint(case, "x", dx * 0.5, dx)


def test_batch_norm_with_the_unbiased_variance(book):
    case = book.get("spatial_batchnorm", "notebook_train")
    x, gamma, beta = (case.arrays[k] for k in ("x", "gamma", "beta"))
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), ddof=1, keepdims=True)
    eps = case.settings["bn_param"].get("eps", 1e-5)
    out = (x - mean) / np.sqrt(var + eps) * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)
    assert forward_hint(case, out) == hints.HINTS["unbiased_variance"]


def test_test_mode_with_batch_statistics_or_without_stored_averages(book):
    case = book.get("spatial_batchnorm", "notebook_test")
    batch = dict(case.settings["bn_param"], mode="train")
    own = LAYER_FUNCTIONS["spatial_batchnorm_forward"](
        case.arrays["x"], case.arrays["gamma"], case.arrays["beta"], batch
    )[0]
    assert forward_hint(case, own) == hints.HINTS["test_uses_batch_stats"]
    assert forward_hint(case, case.ref_out + 1, param={}) == hints.HINTS["running_not_stored"]


def test_backward_mistakes_are_recognised(book):
    case = book.get("max_pool", "overlapping")
    dx = case.ref_grads[0]
    assert "a constant factor of about 3" in hints.backward_hint(case, "x", 3 * dx, dx)
    norm = book.get("spatial_groupnorm", "notebook_backward")
    dgamma = norm.ref_grads[1]
    hint = hints.backward_hint(norm, "gamma", dgamma.reshape(-1), dgamma)
    assert hint == hints.HINTS["dgamma_shape"].format(
        name="gamma", got=(dgamma.size,), expected=dgamma.shape
    )


def test_a_probe_that_cannot_run_on_a_case_offers_nothing():
    def fails(*args):
        raise IndexError("the variant does not tile")

    assert hints._safely(fails, None) is None
