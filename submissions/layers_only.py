"""Naive layers of the ConvolutionalNetworks assignment: the grading oracle.

The loops are the ones a student is asked to write (one iteration per output
position, numpy inside), so the reference is easy to audit line by line.
Every forward returns ``(out, cache)`` and every backward takes
``(dout, cache)``; caches are plain tuples. Inputs are never modified.
"""
from __future__ import annotations

from typing import Callable, Iterator, Optional

import numpy as np

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "softmax_loss", "svm_loss", "batchnorm_forward", "batchnorm_backward",
    "conv_forward_naive", "conv_backward_naive",
    "max_pool_forward_naive", "max_pool_backward_naive",
    "avg_pool_forward_naive", "avg_pool_backward_naive",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward",
]


# ---------------------------------------------------------------- validation
def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The dtype outputs should have: the inputs' float type (float32 stays float32)."""
    dtype = np.result_type(*arrays)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def _require_ndim(name: str, array: np.ndarray, ndim: int, layout: str) -> None:
    if np.ndim(array) != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array {layout}, got shape {np.shape(array)}")


def _require_shape(name: str, array: np.ndarray, shape: tuple) -> None:
    if np.shape(array) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {np.shape(array)}")


def _int_param(params: dict, params_name: str, key: str, minimum: int) -> int:
    """Read an integer hyper-parameter, naming the dict and key when it is missing or bad."""
    if not isinstance(params, dict):
        raise ValueError(f"{params_name} must be a dict, got {type(params).__name__}")
    if key not in params:
        raise ValueError(f"{params_name} is missing the key '{key}' (has {sorted(params)})")
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{params_name}['{key}'] must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _output_size(params_name: str, axis: str, size: int, pad: Optional[int],
                 window: str, window_size: int, stride: int) -> int:
    """Number of window positions along one axis; the windows must tile the padded input.

    `pad` is None for pools, which are never padded.
    """
    span = size + 2 * (pad or 0) - window_size
    if pad is None:
        padded, sizes, extent = axis, f"{axis}={size}", f"{axis}={size}"
    else:
        padded, sizes = f"{axis} + 2*pad", f"{axis}={size}, pad={pad}"
        extent = f"{padded} = {span + window_size}; {sizes}"
    if span < 0:
        raise ValueError(f"{params_name}: {window}={window_size} is larger than the input "
                         f"({extent})")
    if span % stride:
        raise ValueError(f"{params_name}: ({padded} - {window}) = {span} is not divisible by "
                         f"stride {stride} ({sizes}, {window}={window_size})")
    return 1 + span // stride


def _windows(out_h: int, out_w: int, stride: int,
             height: int, width: int) -> Iterator[tuple[int, int, slice, slice]]:
    """Yield every output position (i, j) with the input rows/cols its window covers."""
    for i in range(out_h):
        for j in range(out_w):
            yield (i, j, slice(i * stride, i * stride + height),
                   slice(j * stride, j * stride + width))


# ------------------------------------------------------------- dense layers
def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """out = x.reshape(N, D) @ w + b, for x of shape (N, d_1, ..., d_k)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    return dout * (cache > 0)


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of the scores x (N, C) for labels y, and its gradient."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return float(loss), dx / n


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean multiclass hinge loss (margin 1) of the scores x (N, C), and its gradient."""
    n = x.shape[0]
    correct = x[np.arange(n), y][:, None]
    margins = np.maximum(0, x - correct + 1)
    margins[np.arange(n), y] = 0
    positive = (margins > 0).astype(x.dtype)
    dx = positive.copy()
    dx[np.arange(n), y] -= positive.sum(axis=1)
    return float(margins.sum() / n), dx / n


# ------------------------------------------------------------ normalisation
def _normalize(x: np.ndarray, axes: tuple, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise x over `axes`; return (x_hat, mean, var) with the statistics kept as dims."""
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps), mean, var


def _normalize_backward(dx_hat: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray,
                        axes: tuple) -> np.ndarray:
    """Gradient through x_hat = (x - mean(x)) / std(x) when the statistics depend on x."""
    return inv_std * (dx_hat - dx_hat.mean(axis=axes, keepdims=True)
                      - x_hat * (dx_hat * x_hat).mean(axis=axes, keepdims=True))


def _eps(params: dict, params_name: str) -> float:
    if not isinstance(params, dict):
        raise ValueError(f"{params_name} must be a dict, got {type(params).__name__}")
    return params.get("eps", 1e-5)


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      bn_param: dict) -> tuple[np.ndarray, tuple]:
    """Batch norm of x (N, D); keeps running statistics in bn_param for test mode.

    bn_param: 'mode' ('train'/'test', required), 'eps' (1e-5), 'momentum' (0.9),
    'running_mean'/'running_var' (zeros until the first training call, as in the course).
    """
    _require_ndim("x", x, 2, "(N, D)")
    d = x.shape[1]
    _require_shape("gamma", gamma, (d,))
    _require_shape("beta", beta, (d,))
    eps = _eps(bn_param, "bn_param")
    mode = bn_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}")
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(d, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(d, dtype=x.dtype))
    if mode == "train":
        x_hat, mean, var = _normalize(x, (0,), eps)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean[0]
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var[0]
        inv_std = 1 / np.sqrt(var + eps)
    else:
        inv_std = 1 / np.sqrt(running_var + eps)
        x_hat = (x - running_mean) * inv_std
    out = gamma * x_hat + beta
    return out, (x_hat, gamma, inv_std, mode)


def batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x_hat, gamma, inv_std, mode = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    if mode == "test":
        return dx_hat * inv_std, dgamma, dbeta
    return _normalize_backward(dx_hat, x_hat, inv_std, (0,)), dgamma, dbeta


def spatial_batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                              bn_param: dict) -> tuple[np.ndarray, tuple]:
    """Batch norm per channel of x (N, C, H, W), statistics over N, H and W."""
    _require_ndim("x", x, 4, "(N, C, H, W)")
    n, c, h, w = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout: np.ndarray,
                               cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, c, h, w = dout.shape
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, c)
    dx, dgamma, dbeta = batchnorm_backward(rows, cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


_GROUP_AXES = (2, 3, 4)  # (C // G, H, W) of x reshaped to (N, G, C // G, H, W)


def spatial_groupnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int,
                              gn_param: dict) -> tuple[np.ndarray, tuple]:
    """Group norm of x (N, C, H, W): each sample's C channels split into G groups.

    gamma and beta have shape (1, C, 1, 1); gn_param may hold 'eps' (1e-5).
    """
    _require_ndim("x", x, 4, "(N, C, H, W)")
    n, c, h, w = x.shape
    if isinstance(G, bool) or not isinstance(G, (int, np.integer)) or G < 1 or c % G:
        raise ValueError(f"G must be a positive integer dividing the channel count: "
                         f"C={c} is not divisible by G={G!r}")
    _require_shape("gamma", gamma, (1, c, 1, 1))
    _require_shape("beta", beta, (1, c, 1, 1))
    eps = _eps(gn_param, "gn_param")
    x_hat, _, var = _normalize(x.reshape(n, G, c // G, h, w), _GROUP_AXES, eps)
    x_hat = x_hat.reshape(n, c, h, w)
    out = gamma * x_hat + beta
    return out, (x_hat, gamma, 1 / np.sqrt(var + eps), G)


def spatial_groupnorm_backward(dout: np.ndarray,
                               cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x_hat, gamma, inv_std, G = cache
    n, c, h, w = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)
    grouped = (n, G, c // G, h, w)
    dx = _normalize_backward((dout * gamma).reshape(grouped), x_hat.reshape(grouped),
                             inv_std, _GROUP_AXES)
    return dx.reshape(n, c, h, w), dgamma, dbeta


# -------------------------------------------------------------- convolution
def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                       conv_param: dict) -> tuple[np.ndarray, tuple]:
    """Cross-correlate x (N, C, H, W) with F filters w (F, C, HH, WW), add b (F,).

    conv_param: 'stride' and 'pad' (zero padding on every side). The output has
    shape (N, F, H', W') with H' = 1 + (H + 2*pad - HH) / stride.
    """
    _require_ndim("x", x, 4, "(N, C, H, W)")
    _require_ndim("w", w, 4, "(F, C, HH, WW)")
    n, c, h, width = x.shape
    f, wc, hh, ww = w.shape
    if wc != c:
        raise ValueError(f"w has {wc} input channels but x has C={c} "
                         f"(w.shape={w.shape}, x.shape={x.shape})")
    _require_shape("b", b, (f,))
    stride = _int_param(conv_param, "conv_param", "stride", 1)
    pad = _int_param(conv_param, "conv_param", "pad", 0)
    out_h = _output_size("conv_param", "H", h, pad, "HH", hh, stride)
    out_w = _output_size("conv_param", "W", width, pad, "WW", ww, stride)

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((n, f, out_h, out_w), dtype=_float_dtype(x, w, b))
    for i, j, rows, cols in _windows(out_h, out_w, stride, hh, ww):
        window = x_pad[:, :, rows, cols]
        out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx, dw, db) of the convolution, given dout (N, F, H', W')."""
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, hh, ww = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros(x_pad.shape, dtype=_float_dtype(x, dout))
    dw = np.zeros(w.shape, dtype=_float_dtype(w, dout))
    for i, j, rows, cols in _windows(dout.shape[2], dout.shape[3], stride, hh, ww):
        d = dout[:, :, i, j]                                   # (N, F)
        dw += np.tensordot(d, x_pad[:, :, rows, cols], axes=([0], [0]))
        dx_pad[:, :, rows, cols] += np.tensordot(d, w, axes=([1], [0]))
    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


# ------------------------------------------------------------------ pooling
def _pool_geometry(x: np.ndarray, pool_param: dict) -> tuple[int, int, int, int, int]:
    """Validated (out_h, out_w, stride, pool_height, pool_width); pools are not padded."""
    _require_ndim("x", x, 4, "(N, C, H, W)")
    ph = _int_param(pool_param, "pool_param", "pool_height", 1)
    pw = _int_param(pool_param, "pool_param", "pool_width", 1)
    stride = _int_param(pool_param, "pool_param", "stride", 1)
    out_h = _output_size("pool_param", "H", x.shape[2], None, "pool_height", ph, stride)
    out_w = _output_size("pool_param", "W", x.shape[3], None, "pool_width", pw, stride)
    return out_h, out_w, stride, ph, pw


def _pool_forward(x: np.ndarray, pool_param: dict,
                  reduce: Callable[..., np.ndarray]) -> tuple[np.ndarray, tuple]:
    out_h, out_w, stride, ph, pw = _pool_geometry(x, pool_param)
    out = np.empty(x.shape[:2] + (out_h, out_w), dtype=_float_dtype(x))
    for i, j, rows, cols in _windows(out_h, out_w, stride, ph, pw):
        out[:, :, i, j] = reduce(x[:, :, rows, cols], axis=(2, 3))
    return out, (x, pool_param)


def max_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, tuple]:
    """Max over each pool_height x pool_width window of x (N, C, H, W), moved by 'stride'."""
    return _pool_forward(x, pool_param, np.max)


def avg_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, tuple]:
    """Mean over each pool_height x pool_width window of x (N, C, H, W), moved by 'stride'."""
    return _pool_forward(x, pool_param, np.mean)


def max_pool_backward_naive(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Route each window's gradient to one maximal entry (the first, in row-major order)."""
    x, pool_param = cache
    out_h, out_w, stride, ph, pw = _pool_geometry(x, pool_param)
    dx = np.zeros(x.shape, dtype=_float_dtype(x, dout))
    for i, j, rows, cols in _windows(out_h, out_w, stride, ph, pw):
        window = x[:, :, rows, cols].reshape(x.shape[0], x.shape[1], ph * pw)
        first_max = window.argmax(axis=2)[:, :, None] == np.arange(ph * pw)
        dx[:, :, rows, cols] += (first_max * dout[:, :, i, j, None]).reshape(
            x.shape[0], x.shape[1], ph, pw)
    return dx


def avg_pool_backward_naive(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Spread each window's gradient evenly over its pool_height * pool_width entries."""
    x, pool_param = cache
    out_h, out_w, stride, ph, pw = _pool_geometry(x, pool_param)
    dx = np.zeros(x.shape, dtype=_float_dtype(x, dout))
    for i, j, rows, cols in _windows(out_h, out_w, stride, ph, pw):
        dx[:, :, rows, cols] += dout[:, :, i, j, None, None] / (ph * pw)
    return dx
