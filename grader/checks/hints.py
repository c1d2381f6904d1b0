"""A catalogue of common mistakes, each shown only when the student's own output confirms it.

Every probe recomputes what a specific mistake would produce on the same case (a flipped
kernel, an unbiased variance, a gradient sent to the whole window, ...) and offers the hint
only when the submission's output equals that. A hint that is not confirmed is never shown.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from grader.cases import Case
from grader.compare import matches
from grader.course_layers import layer, reference_forward
from grader.run_case import Observation

HINTS = {
    "kernel_flipped": (
        "Your output equals a convolution with the kernel flipped: index the window and the filter"
        " the same way (this layer computes a cross-correlation, w[f, c, i, j] * x_pad[n, c, s*h +"
        " i, s*w + j])."
    ),
    "bias_missing": (
        "Your output equals the convolution without the bias: add b[f] to every output of filter f."
    ),
    "bias_per_batch": (
        "The bias seems to be indexed by the example instead of the filter: add b[f], not b[n]."
    ),
    "stride_ignored": (
        "Your output equals the result with stride 1: step the window by conv_param['stride']."
    ),
    "padding_ignored": (
        "Your output equals the result without padding: pad x with conv_param['pad'] zeros on each"
        " side of H and W (np.pad)."
    ),
    "output_size": (
        "The output size is off by one: H' = 1 + (H + 2 * pad - HH) // stride (and the same for"
        " W')."
    ),
    "padding_not_cropped": (
        "dx has the padded shape: compute the gradient on the padded input, then crop the padding"
        " off before returning it."
    ),
    "constant_factor": (
        "Your gradient is the right one times a constant factor of about {factor:.4g}."
    ),
    "pool_whole_window": (
        "The gradient goes to every entry of the window: in max pooling only the maximal entry of"
        " each window receives the upstream gradient."
    ),
    "avg_wrong_area": (
        "Your average uses the wrong divisor: divide by pool_height * pool_width, the area of one"
        " window (your values are off by a factor of about {factor:.4g})."
    ),
    "unbiased_variance": (
        "You normalise with the unbiased variance (ddof=1): batch norm uses the biased variance,"
        " x.var(axis=...) with its default ddof=0."
    ),
    "eps_outside_sqrt": "eps is added outside the square root: divide by np.sqrt(var + eps).",
    "eps_ignored": (
        "An explicit eps in the parameter dict was ignored: read it with param.get('eps', 1e-5)."
    ),
    "test_uses_batch_stats": (
        "In test mode you normalise with the batch's own statistics: use bn_param['running_mean']"
        " and bn_param['running_var']."
    ),
    "running_not_stored": (
        "The running averages are not stored back: after each training call set"
        " bn_param['running_mean'] and bn_param['running_var']."
    ),
    "groupnorm_7d": (
        "Your output has shape {shape}: broadcasting against a reshaped array added dimensions."
        " Reshape the result back to (N, C, H, W)."
    ),
    "dgamma_shape": (
        "d{name} has shape {got}, but it must have the shape of {name}, {expected}: keep the"
        " dimensions (keepdims=True or reshape)."
    ),
    "values_right_shape_wrong": (
        "The values are right but the array has shape {got} instead of {expected}: reshape it."
    ),
    "groupnorm_per_channel": (
        "Your output is normalised per channel ({where}): group norm takes the statistics of each "
        "group of C // G channels over those channels and H and W together, e.g. "
        "x.reshape(N, G, C // G, H, W).mean(axis=(2, 3, 4))."
    ),
    "conv_pad_fixed": (
        "Your {what} equals the one for pad = 1, but this case has pad = {pad}: take the padding "
        "from conv_param['pad'] in the backward too, and crop exactly that much off dx."
    ),
    "pooled_width_from_height": (
        "Your pooled width is 1 + (W - pool_height) // stride: the width uses pool_width, "
        "W' = 1 + (W - pool_width) // stride."
    ),
    "pooled_height_from_width": (
        "Your pooled height is 1 + (H - pool_width) // stride: the height uses pool_height, "
        "H' = 1 + (H - pool_height) // stride."
    ),
    "pooled_sizes_swapped": (
        "Your output size swaps pool_height and pool_width: H' = 1 + (H - pool_height) // stride "
        "and W' = 1 + (W - pool_width) // stride."
    ),
    "softmax_unshifted": (
        "Your {what} is what softmax gives without the max shift, where exp overflows on large "
        "scores: subtract each row's maximum first (x - np.max(x, axis=1, keepdims=True)), which "
        "leaves the softmax unchanged and keeps exp finite."
    ),
}


def forward_hint(case: Case, out: Any, obs: Observation) -> str | None:
    for probe in (*FORWARD_PROBES.get(case.family.name, ()), _reshaped):
        hint = _safely(probe, case, out, obs)
        if hint:
            return hint
    return None


def backward_hint(case: Case, name: str, got: Any, expected: np.ndarray) -> str | None:
    for probe in (*BACKWARD_PROBES.get(case.family.name, ()), _grad_shape, _constant_factor):
        hint = _safely(probe, case, got, expected, name)
        if hint:
            return hint
    return None


def _safely(probe: Callable[..., str | None], *args: Any) -> str | None:
    """A probe that cannot run on this case (a variant does not tile, say) simply offers nothing."""
    try:
        return probe(*args)
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, FloatingPointError):
        return None


def _variant_out(case: Case, **changes: Any) -> np.ndarray:
    variant = copy.copy(case)
    variant.arrays = {**case.arrays, **{k: v for k, v in changes.items() if k in case.arrays}}
    variant.settings = copy.deepcopy(case.settings)
    for key, value in changes.items():
        for param in variant.settings.values():
            if isinstance(param, dict) and key in param:
                param[key] = value
    result, _ = reference_forward(variant)
    return result[0]


def _conv_probes(case: Case, out: Any, obs: Observation) -> str | None:
    w, b = case.arrays["w"], case.arrays["b"]
    if matches(out, _variant_out(case, w=w[:, :, ::-1, ::-1].copy())):
        return HINTS["kernel_flipped"]
    without_bias = _variant_out(case, b=np.zeros_like(b))
    if matches(out, without_bias):
        return HINTS["bias_missing"]
    n = without_bias.shape[0]
    if n <= b.shape[0] and matches(out, without_bias + b[:n, None, None, None]):
        return HINTS["bias_per_batch"]
    if case.settings["conv_param"]["stride"] != 1 and matches(out, _variant_out(case, stride=1)):
        return HINTS["stride_ignored"]
    if case.settings["conv_param"]["pad"] != 0 and matches(out, _variant_out(case, pad=0)):
        return HINTS["padding_ignored"]
    return _output_size(case, out)


def _output_size(case: Case, out: Any) -> str | None:
    expected = case.ref_out.shape
    if type(out) is np.ndarray and out.ndim == 4 and out.shape[:2] == expected[:2]:
        if any(abs(g - e) == 1 for g, e in zip(out.shape[2:], expected[2:])):
            return HINTS["output_size"]
    return None


def _avg_area(case: Case, out: Any, obs: Observation) -> str | None:
    factor = _factor(out, case.ref_out)
    return HINTS["avg_wrong_area"].format(factor=factor) if factor else _output_size(case, out)


def _batchnorm_probes(case: Case, out: Any, obs: Observation) -> str | None:
    if case.train_batches:
        return _test_mode_probes(case, out, obs)
    x, gamma, beta = (case.arrays[k].astype(np.float64) for k in ("x", "gamma", "beta"))
    axes, shape = (0, 2, 3), (1, -1, 1, 1)
    eps = case.settings["bn_param"].get("eps", 1e-5)
    mean = x.mean(axis=axes, keepdims=True)
    scale, shift = gamma.reshape(shape), beta.reshape(shape)
    unbiased = (x - mean) / np.sqrt(x.var(axis=axes, ddof=1, keepdims=True) + eps) * scale + shift
    outside = (x - mean) / (np.sqrt(x.var(axis=axes, keepdims=True)) + eps) * scale + shift
    if matches(out, unbiased):
        return HINTS["unbiased_variance"]
    if matches(out, outside):
        return HINTS["eps_outside_sqrt"]
    if "eps" in case.settings["bn_param"] and matches(out, _variant_out(case, eps=1e-5)):
        return HINTS["eps_ignored"]
    return None


def _test_mode_probes(case: Case, out: Any, obs: Observation) -> str | None:
    x = case.arrays["x"].astype(np.float64)
    batch = dict(case.settings["bn_param"], mode="train")
    own_stats = layer("spatial_batchnorm_forward")(
        x, case.arrays["gamma"], case.arrays["beta"], batch
    )[0]
    if matches(out, own_stats):
        return HINTS["test_uses_batch_stats"]
    param = obs.param if isinstance(obs.param, dict) else {}
    stored = param.get("running_mean")
    if type(stored) is not np.ndarray or not np.any(stored):
        return HINTS["running_not_stored"]
    return None


def _groupnorm_probes(case: Case, out: Any, obs: Observation) -> str | None:
    if type(out) is np.ndarray and out.ndim > 4 and out.size == case.ref_out.size:
        return HINTS["groupnorm_7d"].format(shape=out.shape)
    if "eps" in case.settings["gn_param"] and matches(out, _variant_out(case, eps=1e-5)):
        return HINTS["eps_ignored"]
    return _groupnorm_per_channel(case, out)


PER_CHANNEL_AXES = {
    (2, 3): "statistics over H and W of each channel of each image",
    (0, 2, 3): "statistics over N, H and W of each channel, as in batch norm",
}


def _groupnorm_per_channel(case: Case, out: Any) -> str | None:
    x, gamma, beta = (case.arrays[k].astype(np.float64) for k in ("x", "gamma", "beta"))
    if case.settings["G"] == x.shape[1]:  # one channel per group: per channel is right
        return None
    eps = case.settings["gn_param"].get("eps", 1e-5)
    for axes, where in PER_CHANNEL_AXES.items():
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
        x_hat = (x - mean) / np.sqrt(var + eps)
        if matches(out, gamma * x_hat + beta):
            return HINTS["groupnorm_per_channel"].format(where=where)
    return None


def _pool_sizes_crossed(case: Case, out: Any, obs: Observation) -> str | None:
    """The output a loop gives whose H' or W' comes from the other pool dimension."""
    p = case.settings["pool_param"]
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    x = case.arrays["x"].astype(np.float64)
    h, w = x.shape[2:]
    variants = {
        "pooled_width_from_height": (1 + (h - ph) // s, 1 + (w - ph) // s),
        "pooled_height_from_width": (1 + (h - pw) // s, 1 + (w - pw) // s),
        "pooled_sizes_swapped": (1 + (h - pw) // s, 1 + (w - ph) // s),
    }
    reduce = np.max if case.family.name == "max_pool" else np.mean
    for key, size in variants.items():
        inside = 0 < size[0] and (size[0] - 1) * s < h and 0 < size[1] and (size[1] - 1) * s < w
        if inside and size != case.ref_out.shape[2:]:
            if matches(out, _pooled(x, reduce, size, (ph, pw), s)):
                return HINTS[key]
    return None


def _pooled(
    x: np.ndarray,
    reduce: Callable[..., np.ndarray],
    size: tuple[int, int],
    window: tuple[int, int],
    s: int,
) -> np.ndarray:
    """Pooling into `size` outputs; windows past the input are cut off, as slicing does."""
    (ph, pw), out = window, np.empty(x.shape[:2] + size)
    for i, j in np.ndindex(*size):
        out[:, :, i, j] = reduce(x[:, :, i * s : i * s + ph, j * s : j * s + pw], axis=(2, 3))
    return out


def _softmax_unshifted(case: Case, got: Any, what: str) -> str | None:
    """What the two common unshifted forms give where exp overflows: exp(x) / sum (NaN) or
    x - log(sum(exp(x))) (an infinite loss, a gradient of -1/N at the labels and 0 elsewhere)."""
    x, y = case.arrays["x"].astype(np.float64), case.arrays["y"]
    n, rows = x.shape[0], np.arange(x.shape[0])
    with np.errstate(all="ignore"):
        exp = np.exp(x)
        if np.all(np.isfinite(exp)):  # nothing overflows: the shift changes nothing here
            return None
        for probs in (
            exp / np.sum(exp, axis=1, keepdims=True),
            np.exp(x - np.log(np.sum(exp, axis=1, keepdims=True))),
        ):
            if what == "loss":
                variant = np.asarray(-np.mean(np.log(probs[rows, y])))
            else:
                variant = probs.copy()
                variant[rows, y] -= 1
                variant /= n
            if _agrees(got, variant):
                return HINTS["softmax_unshifted"].format(what=what)
    return None


def _agrees(got: Any, variant: np.ndarray) -> bool:
    """Equal where finite, and non-finite in the same places."""
    if type(got) is not np.ndarray or got.shape != variant.shape or got.dtype.kind != "f":
        return False
    finite = np.isfinite(variant)
    return bool(
        np.array_equal(np.isfinite(got), finite)
        and (not finite.any() or matches(got[finite], variant[finite]))
    )


def _reshaped(case: Case, out: Any, obs: Observation) -> str | None:
    expected = case.ref_out
    if type(out) is np.ndarray and out.shape != expected.shape and out.size == expected.size:
        if matches(out.reshape(expected.shape), expected, 1e-5):
            return HINTS["values_right_shape_wrong"].format(got=out.shape, expected=expected.shape)
    return None


def _padding_not_cropped(case: Case, got: Any, expected: np.ndarray, name: str) -> str | None:
    pad = case.settings["conv_param"]["pad"]
    if (
        name == "x"
        and pad
        and type(got) is np.ndarray
        and got.shape[2:] == tuple(d + 2 * pad for d in expected.shape[2:])
    ):
        return HINTS["padding_not_cropped"]
    return None


def _conv_pad_one_throughout(case: Case, got: Any, expected: np.ndarray, name: str) -> str | None:
    """The gradients a backward gives that pads (and crops) by 1 whatever conv_param says."""
    conv_param = case.settings["conv_param"]
    if conv_param["pad"] == 1:
        return None
    x, w, b = (case.arrays[k].astype(np.float64) for k in ("x", "w", "b"))
    cache = (x, w, b, {**conv_param, "pad": 1})
    grads = layer("conv_backward_naive")(case.dout.astype(np.float64), cache)
    if matches(got, grads[case.family.grads.index(name)]):
        return HINTS["conv_pad_fixed"].format(what=f"d{name}", pad=conv_param["pad"])
    return None


def _conv_crop_by_one(case: Case, got: Any, expected: np.ndarray, name: str) -> str | None:
    """dx of the right padding, but cropped by 1 on each side (dx_pad[:, :, 1:-1, 1:-1])."""
    pad = case.settings["conv_param"]["pad"]
    if name != "x" or pad == 1:
        return None
    x, w, b = (case.arrays[k].astype(np.float64) for k in ("x", "w", "b"))
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cache = (x_pad, w, b, {**case.settings["conv_param"], "pad": 0})
    dx_pad = layer("conv_backward_naive")(case.dout.astype(np.float64), cache)[0]
    if matches(got, dx_pad[:, :, 1:-1, 1:-1]):
        return HINTS["conv_pad_fixed"].format(what="dx", pad=pad)
    return None


def _pool_whole_window(case: Case, got: Any, expected: np.ndarray, name: str) -> str | None:
    p = case.settings["pool_param"]
    x = case.arrays["x"].astype(np.float64)
    _, cache = layer("avg_pool_forward_naive")(x, p)
    spread = (
        layer("avg_pool_backward_naive")(case.dout.astype(np.float64), cache)
        * p["pool_height"]
        * p["pool_width"]
    )
    return HINTS["pool_whole_window"] if matches(got, spread) else None


def _avg_backward_area(case: Case, got: Any, expected: np.ndarray, name: str) -> str | None:
    factor = _factor(got, expected)
    return HINTS["avg_wrong_area"].format(factor=factor) if factor else None


def _grad_shape(case: Case, got: Any, expected: np.ndarray, name: str) -> str | None:
    if type(got) is np.ndarray and got.shape != expected.shape and got.size == expected.size:
        if name in ("gamma", "beta"):
            return HINTS["dgamma_shape"].format(name=name, got=got.shape, expected=expected.shape)
        if matches(got.reshape(expected.shape), expected, 1e-5):
            return HINTS["values_right_shape_wrong"].format(got=got.shape, expected=expected.shape)
    return None


def _constant_factor(case: Case, got: Any, expected: np.ndarray, name: str) -> str | None:
    factor = _factor(got, expected)
    return HINTS["constant_factor"].format(factor=factor) if factor else None


def _factor(got: Any, expected: np.ndarray) -> float | None:
    """The constant c with got == c * expected, when there is one and it is not 1."""
    if type(got) is not np.ndarray or got.shape != expected.shape or not np.any(expected):
        return None
    expected = expected.astype(np.float64)
    c = float(np.vdot(got, expected) / np.vdot(expected, expected))
    if abs(c - 1) > 1e-3 and abs(c) > 1e-6 and matches(got, c * expected, 1e-6):
        return c
    return None


FORWARD_PROBES: dict[str, tuple[Callable[..., str | None], ...]] = {
    "conv": (_conv_probes,),
    "avg_pool": (_pool_sizes_crossed, _avg_area),
    "max_pool": (_pool_sizes_crossed, lambda case, out, obs: _output_size(case, out)),
    "spatial_batchnorm": (_batchnorm_probes,),
    "spatial_groupnorm": (_groupnorm_probes,),
    "softmax_loss": (lambda case, out, obs: _softmax_unshifted(case, out, "loss"),),
}

BACKWARD_PROBES: dict[str, tuple[Callable[..., str | None], ...]] = {
    "conv": (_padding_not_cropped, _conv_pad_one_throughout, _conv_crop_by_one),
    "max_pool": (_pool_whole_window,),
    "avg_pool": (_avg_backward_area,),
    "softmax_loss": (lambda case, got, expected, name: _softmax_unshifted(case, got, "gradient"),),
}
