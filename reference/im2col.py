"""Pure-NumPy im2col / col2im: the fallback when the Cython extension is missing.

The column layout is the one the fast layers multiply with: for every image,
``cols[n]`` has one row per (channel, kernel row, kernel column) and one column
per output position, so ``w.reshape(F, -1) @ cols[n]`` is image ``n``'s output.
Padding is implicit: out-of-image taps read zeros and their gradients are dropped.

This file is also copied into students' packages, so it only uses NumPy 1.2x
APIs and Python 3.8 syntax.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from numpy.lib.stride_tricks import as_strided


def output_size(size: int, field: int, stride: int, pad: int) -> int:
    """Number of window positions along one axis (windows that overrun are dropped)."""
    return (size + 2 * pad - field) // stride + 1


def _padded(x: np.ndarray, pad: int) -> np.ndarray:
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")


def _windows(
    xp: np.ndarray, field: Tuple[int, int], out_hw: Tuple[int, int], stride: int
) -> np.ndarray:
    """Read-only view (N, C, HH, WW, Ho, Wo) of every window of the padded input."""
    n, c = xp.shape[:2]
    sn, sc, sh, sw = xp.strides
    shape = (n, c, field[0], field[1], out_hw[0], out_hw[1])
    strides = (sn, sc, sh, sw, sh * stride, sw * stride)
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def im2col(
    x: np.ndarray, field_height: int, field_width: int, stride: int, pad: int, out: np.ndarray
) -> np.ndarray:
    """Fill ``out`` (N, C*HH*WW, Ho*Wo) with the columns of ``x`` (N, C, H, W)."""
    h, w = x.shape[2:]
    out_hw = (output_size(h, field_height, stride, pad), output_size(w, field_width, stride, pad))
    windows = _windows(_padded(x, pad), (field_height, field_width), out_hw, stride)
    np.copyto(out.reshape(windows.shape), windows)
    return out


def col2im(
    cols: np.ndarray, field_height: int, field_width: int, stride: int, pad: int, out: np.ndarray
) -> np.ndarray:
    """Overwrite ``out`` (N, C, H, W) with the sum of ``cols`` scattered back to the input."""
    n, c, h, w = out.shape
    ho = output_size(h, field_height, stride, pad)
    wo = output_size(w, field_width, stride, pad)
    taps = cols.reshape(n, c, field_height, field_width, ho, wo)
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=out.dtype)
    for kh in range(field_height):
        for kw in range(field_width):
            padded[:, :, kh : kh + stride * ho : stride, kw : kw + stride * wo : stride] += taps[
                :, :, kh, kw
            ]
    out[...] = padded[:, :, pad : pad + h, pad : pad + w]
    return out
