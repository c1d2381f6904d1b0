"""Hints for mistakes seen in real submissions, each shown only when a probe confirms it.

Every mistake is a one-line change of a textbook-style layers.py from the demo class; the
hint must appear for it, and not for the correct function or for an unrelated mistake.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.oracle import answer
from grader.cases import Case, CaseBook
from grader.checks import hints
from grader.run_case import Observation

BOOK = CaseBook(load_assignment(), 0, answer)

GN_PER_CHANNEL = (
    "    x_group = x.reshape(N, G, C // G, H, W)\n",
    "    x_group = x.reshape(N, C, 1, H, W)\n",
)
GN_EPS_OUTSIDE = (
    "    x_norm = (x_group - mean) / np.sqrt(var + eps)\n",
    "    x_norm = (x_group - mean) / (np.sqrt(var) + eps)\n",
)
BACKWARD_PAD_ONE = ("    pad = conv_param['pad']\n\n    x_pad", "    pad = 1\n\n    x_pad")
BACKWARD_CROP_ONE = (
    "    dx = dx_pad[:, :, pad:pad+H, pad:pad+W]\n",
    "    dx = dx_pad[:, :, 1:-1, 1:-1]\n",
)
BACKWARD_NO_DB = ("                    db[f] += dout[n, f, i, j]\n", "")
WIDTH_FROM_HEIGHT = ("    W_out = 1 + (W - pw) // s\n", "    W_out = 1 + (W - ph) // s\n")
COLUMNS_NOT_STRIDED = (
    "np.max(x[n, c, i*s:i*s+ph, j*s:j*s+pw])",
    "np.max(x[n, c, i*s:i*s+ph, j:j+pw])",
)
UNSHIFTED = (
    "    shifted_logits = x - np.max(x, axis=1, keepdims=True)\n",
    "    shifted_logits = x\n",
)
NOT_AVERAGED = ("    dx /= N\n    return loss, dx\n", "    return loss, dx\n")


@pytest.fixture(scope="module")
def loops(submissions) -> str:
    """A textbook layers.py: loops over every output index."""
    return (submissions / "textbook_loops" / "ie590" / "layers.py").read_text()


@pytest.fixture(scope="module")
def reshaped(submissions) -> str:
    """A textbook layers.py whose group norm reshapes per group."""
    return (submissions / "textbook_naive_sandwich" / "ie590" / "layers.py").read_text()


def layers(source: str, *mistakes: tuple[str, str]) -> types.ModuleType:
    """The layers of `source` with each mistake made once (at its first occurrence)."""
    for text, replacement in mistakes:
        assert text in source, text
        source = source.replace(text, replacement, 1)
    module = types.ModuleType("student_layers")
    exec(compile(source, "student_layers", "exec"), module.__dict__)
    return module


def forward_hint(module: types.ModuleType, case: Case) -> str | None:
    out = getattr(module, case.family.forward)(*case.args())[0]
    return hints.forward_hint(case, np.asarray(out), Observation(case=case))


def backward_hint(module: types.ModuleType, case: Case, name: str) -> str | None:
    _, cache = getattr(module, case.family.forward)(*case.args())
    grads = getattr(module, case.family.backward)(case.dout, cache)
    index = case.family.grads.index(name)
    got = grads[index] if isinstance(grads, tuple) else grads
    return hints.backward_hint(case, name, got, case.ref_grads[index])


def softmax_hints(module: types.ModuleType, case: Case) -> tuple[str | None, str | None]:
    with np.errstate(all="ignore"):
        loss, dx = module.softmax_loss(*case.args())
    observation = Observation(case=case)
    return (
        hints.forward_hint(case, np.asarray(loss), observation),
        hints.backward_hint(case, "x", dx, case.ref_grads[0]),
    )


def test_group_norm_per_channel(reshaped):
    case = BOOK.get("spatial_groupnorm", "notebook_forward")  # G = 2, C = 6
    assert "normalised per channel" in forward_hint(layers(reshaped, GN_PER_CHANNEL), case)
    assert "per channel" not in (forward_hint(layers(reshaped, GN_EPS_OUTSIDE), case) or "")
    assert forward_hint(layers(reshaped), case) is None


@pytest.mark.parametrize("case_name", ["stride1_pad0", "stride3_pad2"])
@pytest.mark.parametrize(
    "mistake", [BACKWARD_PAD_ONE, BACKWARD_CROP_ONE], ids=["pad = 1", "crop 1"]
)
def test_a_fixed_pad_of_one_in_conv_backward(case_name, mistake, loops):
    case = BOOK.get("conv", case_name)
    try:
        hint = backward_hint(layers(loops, mistake), case, "x")
    except ValueError:  # pad = 1 throughout cannot even run where the forward padded by 2
        assert mistake is BACKWARD_PAD_ONE and case.settings["conv_param"]["pad"] == 2
        return
    assert f"has pad = {case.settings['conv_param']['pad']}" in hint


def test_no_pad_hint_for_a_correct_backward_or_a_missing_bias_gradient(loops):
    case = BOOK.get("conv", "stride1_pad0")
    assert backward_hint(layers(loops), case, "x") is None
    assert "pad = 1" not in (backward_hint(layers(loops, BACKWARD_NO_DB), case, "b") or "")


def test_pooled_width_from_pool_height(loops):
    shown = 0
    for seed in range(8):
        case = CaseBook(load_assignment(), seed, answer).get("max_pool", "drawn")
        try:
            hint = forward_hint(layers(loops, WIDTH_FROM_HEIGHT), case)
        except ValueError:  # np.max of a window entirely past the input: the student's loop crashes
            continue
        assert "pooled width is 1 + (W - pool_height) // stride" in hint, seed
        shown += 1
        assert forward_hint(layers(loops), case) is None
        assert "pool_height" not in (forward_hint(layers(loops, COLUMNS_NOT_STRIDED), case) or "")
    assert shown >= 4


def test_softmax_without_the_max_shift(loops):
    case = BOOK.get("softmax_loss", "large_scores")
    loss_hint, grad_hint = softmax_hints(layers(loops, UNSHIFTED), case)
    assert "loss is what softmax gives without the max shift" in loss_hint
    assert "gradient is what softmax gives without the max shift" in grad_hint
    assert softmax_hints(layers(loops), case) == (None, None)
    assert "max shift" not in (softmax_hints(layers(loops, NOT_AVERAGED), case)[1] or "")


def test_the_grader_shows_the_hints_on_a_submission_with_these_mistakes(tmp_path, grading, loops):
    source = loops
    for text, replacement in (UNSHIFTED, WIDTH_FROM_HEIGHT, BACKWARD_CROP_ONE):
        assert text in source
        source = source.replace(text, replacement, 1)
    (tmp_path / "layers.py").write_text(source)
    only = (
        "*.softmax_loss.*",
        "forward.max_pool_forward_naive.hidden",
        "backward.conv_backward_naive.hidden",
    )
    result = grading.one(tmp_path, grading.options(seed=0, only=only))
    found = {c.id: c.hint or "" for c in result.checks if c.status != "skipped"}
    assert "without the max shift" in found["forward.softmax_loss.hidden"]
    assert "without the max shift" in found["backward.softmax_loss.hidden"]
    assert "pooled width is 1 + (W - pool_height)" in found["forward.max_pool_forward_naive.hidden"]
    assert "equals the one for pad = 1" in found["backward.conv_backward_naive.hidden"]
