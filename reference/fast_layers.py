"""Fast convolution and pooling layers with the naive layers' API.

Convolution is im2col + matrix products, a tile of images at a time, so the
column matrix is never materialised for the whole batch; the backward pass
recomputes the columns instead of caching them. Each tile is one product, which
BLAS spreads over its threads; the layers start no threads of their own (a
second pool competing with BLAS's busy-waiting threads for the cores was no
faster). im2col/col2im come from the compiled ``im2col_cython`` extension when
it is built (``CYTHON_AVAILABLE``), else from the pure-NumPy ``im2col`` module.
Pooling uses a reshape when the pools tile the input, im2col otherwise.

Caches are ``(x, w, b, conv_param)`` and ``(x, pool_param)``, the naive
layers' own, so either backward accepts either forward's cache. Validation and
its messages mirror the naive layers. The grader copies this file into
students' packages, so it uses relative imports, NumPy 1.2x APIs and Python 3.8
syntax only.
"""

from __future__ import annotations

from types import ModuleType
from typing import Optional, Tuple

import numpy as np

from . import im2col as _numpy_kernels

try:
    from . import im2col_cython as _cython_kernels

    CYTHON_AVAILABLE = True
except ImportError:  # not built, or built for another interpreter
    _cython_kernels = None
    CYTHON_AVAILABLE = False

__all__ = [
    "CYTHON_AVAILABLE",
    "backend",
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
    "avg_pool_forward_fast",
    "avg_pool_backward_fast",
]

# Bytes of column matrix per tile, measured on the benchmark's shapes
# (benchmarks/bench_layers.py). Forward: few, large products, which BLAS
# threads well, but a buffer the allocator reuses: the notebook's whole-batch
# 5.7 MB one came fresh from the kernel at every call (378 page faults a call),
# two 2.9 MB tiles did not. Backward: two products and a col2im per tile, small
# enough to stay in a core's L2 cache and for OpenBLAS to run each product on
# the calling thread (4-5 notebook images): 2.95 vs 3.65 ms with one BLAS
# thread, the same with two, and no slower when another library's threads or a
# slow hand-over between cores hold up BLAS's second thread (0.54-0.74x
# PyTorch's forward + backward, against 0.89-1.74x with 512 KiB tiles, in the
# same minutes).
_FORWARD_TILE_BYTES = 1 << 22
_BACKWARD_TILE_BYTES = 1 << 18
# Rows of the column and output matrices get a cache line of slack: rows a
# multiple of 4 KiB apart (N*H'*W' doubles, e.g. the notebook's 100*16*16)
# fall in the same L1 sets, and the forward's writes to its 25-28 rows evict
# one another. Measured against the unpadded layout in one process, 2 BLAS
# threads: 2-5% off the notebook forward, 4-6% off the training shape's.
_ROW_SLACK_BYTES = 64


def backend() -> str:
    """Which im2col implementation the conv layers use: 'cython' or 'numpy'."""
    return "cython" if CYTHON_AVAILABLE else "numpy"


def _kernels(dtype: np.dtype) -> ModuleType:
    """The compiled kernels handle float32/float64; other dtypes take the NumPy path."""
    if CYTHON_AVAILABLE and dtype in (np.float32, np.float64):
        return _cython_kernels
    return _numpy_kernels


# ---------------------------------------------------------------- validation
Geometry = Tuple[int, int, int, int, int]  # pools: (out_h, out_w, stride, pool_height, pool_width)


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The inputs' float type (float32 stays float32); anything else computes in float64."""
    dtype = np.result_type(*arrays)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def _require_ndim(name: str, array: np.ndarray, ndim: int, layout: str) -> None:
    if np.ndim(array) != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array {layout}, got shape {np.shape(array)}")


def _require_shape(name: str, array: np.ndarray, shape: tuple) -> None:
    if np.shape(array) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {np.shape(array)}")


def _int_param(params: dict, params_name: str, key: str, minimum: int) -> int:
    if not isinstance(params, dict):
        raise ValueError(f"{params_name} must be a dict, got {type(params).__name__}")
    if key not in params:
        raise ValueError(f"{params_name} is missing the key '{key}' (has {sorted(params)})")
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{params_name}['{key}'] must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _output_size(
    params_name: str,
    axis: str,
    size: int,
    pad: Optional[int],
    window: str,
    window_size: int,
    stride: int,
) -> int:
    """Window positions along one axis; the windows must tile the padded input (pools: pad None)."""
    span = size + 2 * (pad or 0) - window_size
    if pad is None:
        padded, sizes, extent = axis, f"{axis}={size}", f"{axis}={size}"
    else:
        padded, sizes = f"{axis} + 2*pad", f"{axis}={size}, pad={pad}"
        extent = f"{padded} = {span + window_size}; {sizes}"
    if span < 0:
        raise ValueError(
            f"{params_name}: {window}={window_size} is larger than the input ({extent})"
        )
    if span % stride:
        raise ValueError(
            f"{params_name}: ({padded} - {window}) = {span} is not divisible by "
            f"stride {stride} ({sizes}, {window}={window_size})"
        )
    return 1 + span // stride


def _conv_geometry(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> Tuple[int, int, int, int]:
    """Validated (stride, pad, out_h, out_w) of a convolution."""
    _require_ndim("x", x, 4, "(N, C, H, W)")
    _require_ndim("w", w, 4, "(F, C, HH, WW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"w has {w.shape[1]} input channels but x has C={x.shape[1]} "
            f"(w.shape={w.shape}, x.shape={x.shape})"
        )
    _require_shape("b", b, (w.shape[0],))
    stride = _int_param(conv_param, "conv_param", "stride", 1)
    pad = _int_param(conv_param, "conv_param", "pad", 0)
    out_h = _output_size("conv_param", "H", x.shape[2], pad, "HH", w.shape[2], stride)
    out_w = _output_size("conv_param", "W", x.shape[3], pad, "WW", w.shape[3], stride)
    return stride, pad, out_h, out_w


def _pool_geometry(x: np.ndarray, pool_param: dict) -> Geometry:
    """Validated (out_h, out_w, stride, pool_height, pool_width); pools are not padded."""
    _require_ndim("x", x, 4, "(N, C, H, W)")
    ph = _int_param(pool_param, "pool_param", "pool_height", 1)
    pw = _int_param(pool_param, "pool_param", "pool_width", 1)
    stride = _int_param(pool_param, "pool_param", "stride", 1)
    out_h = _output_size("pool_param", "H", x.shape[2], None, "pool_height", ph, stride)
    out_w = _output_size("pool_param", "W", x.shape[3], None, "pool_width", pw, stride)
    return out_h, out_w, stride, ph, pw


# -------------------------------------------------------------- convolution
def _tiles(n: int, rows: int, p: int, itemsize: int, budget: int) -> list:
    """The batch in near-equal consecutive slices whose columns (rows, count, P) fit ``budget``
    bytes."""
    count = max(1, -(-n * rows * p * itemsize // budget))  # ceil
    bounds = [n * i // count for i in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:]) if stop > start]


def _largest(tiles: list) -> int:
    return max((tile.stop - tile.start for tile in tiles), default=0)


def _matrix(rows: int, width: int, dtype: np.dtype) -> np.ndarray:
    """An empty (rows, width) matrix whose rows lie a cache line further apart than width."""
    slack = -(-_ROW_SLACK_BYTES // np.dtype(dtype).itemsize)
    return np.empty((rows, width + slack), dtype=dtype)[:, :width]


def _columns(x: np.ndarray, tiles: list, geometry: tuple, rows: int):
    """Yield (tile, cols): each tile's columns as a (rows, count*P) matrix, in one reused buffer.

    Rows past C*HH*WW hold ones (the bias row). im2col writes image by image
    through a (count, rows, P) view of the matrix.
    """
    field_height, field_width, stride, pad, p = geometry
    k = x.shape[1] * field_height * field_width
    buffer = _matrix(rows, _largest(tiles) * p, x.dtype)
    im2col = _kernels(x.dtype).im2col
    for tile in tiles:
        count = tile.stop - tile.start
        cols = buffer[:, : count * p]
        cols[k:] = 1
        im2col(
            x[tile],
            field_height,
            field_width,
            stride,
            pad,
            cols.reshape(rows, count, p).transpose(1, 0, 2)[:, :k],
        )
        yield tile, cols


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> Tuple[np.ndarray, tuple]:
    """Same contract as ``conv_forward_naive``: out (N, F, H', W') and a cache.

    Each tile's product writes straight into an (F, N, H', W') buffer and ``out``
    is its transposed view (as the course's im2col layer returns), so the
    output is never copied; ``np.ascontiguousarray(out)`` gives NCHW memory.
    The buffer's F rows are padded (``_ROW_SLACK_BYTES``).
    The bias rides along in the product: the columns get a row of ones and the
    weights a column holding b.
    """
    stride, pad, out_h, out_w = _conv_geometry(x, w, b, conv_param)
    dtype = _float_dtype(x, w, b)
    n, f, k, p = x.shape[0], w.shape[0], w[0].size, out_h * out_w
    x_c = np.ascontiguousarray(x, dtype=dtype)
    w_aug = np.concatenate([np.reshape(w, (f, k)), np.reshape(b, (f, 1))], axis=1).astype(dtype)
    geometry = (w.shape[2], w.shape[3], stride, pad, p)
    tiles = _tiles(n, k + 1, p, x_c.itemsize, _FORWARD_TILE_BYTES)
    out = _matrix(f, n * p, dtype).reshape(f, n, p)
    for tile, cols in _columns(x_c, tiles, geometry, k + 1):
        np.matmul(w_aug, cols, out=out[:, tile].reshape(f, -1))
    return out.transpose(1, 0, 2).reshape(n, f, out_h, out_w), (x, w, b, conv_param)


def conv_backward_fast(dout: np.ndarray, cache: tuple) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same contract as ``conv_backward_naive``: (dx, dw, db); columns are recomputed."""
    x, w, b, conv_param = cache
    stride, pad, out_h, out_w = _conv_geometry(x, w, b, conv_param)
    _require_shape("dout", dout, (x.shape[0], w.shape[0], out_h, out_w))
    dtype = _float_dtype(x, w, dout)
    n, f, k, p = x.shape[0], w.shape[0], w[0].size, out_h * out_w
    x_c = np.ascontiguousarray(x, dtype=dtype)
    w_t = np.reshape(w, (f, k)).T.astype(dtype)
    d_fnp = np.asarray(dout, dtype=dtype).reshape(n, f, p).transpose(1, 0, 2)
    geometry = (w.shape[2], w.shape[3], stride, pad, p)
    tiles = _tiles(n, k, p, x_c.itemsize, _BACKWARD_TILE_BYTES)
    dcols = np.empty(k * _largest(tiles) * p, dtype=dtype)
    col2im = _kernels(dtype).col2im
    dx = np.empty(x_c.shape, dtype=dtype)
    dw = np.zeros((f, k), dtype=dtype)
    for tile, cols in _columns(x_c, tiles, geometry, k):
        count = tile.stop - tile.start
        d_tile = d_fnp[:, tile].reshape(f, count * p)  # a copy unless dout is (F, N, P) memory
        dw += d_tile @ cols.T
        d_cols = dcols[: k * count * p].reshape(k, count * p)
        np.matmul(w_t, d_tile, out=d_cols)
        col2im(
            d_cols.reshape(k, count, p).transpose(1, 0, 2),
            geometry[0],
            geometry[1],
            stride,
            pad,
            dx[tile],
        )
    db = dout.sum(axis=(0, 2, 3))
    return (
        dx.astype(_float_dtype(x, dout), copy=False),
        dw.reshape(w.shape).astype(_float_dtype(w, dout), copy=False),
        db,
    )


# ------------------------------------------------------------------ pooling
def _pools_tile(geometry: Geometry) -> bool:
    """Square pools moved by their own size tile a validated input: the reshape method."""
    return geometry[3] == geometry[4] == geometry[2]


def _taps(x: np.ndarray, geometry: Geometry) -> list:
    """Views (N, C, H', W') of each pool entry, in row-major order, of tiling pools.

    One elementwise pass per entry over strided views of x.reshape(N, C, H', ph, W', pw)
    beats NumPy reductions over the two inner axes.
    """
    out_h, out_w, _, ph, pw = geometry
    tiles = x.reshape(x.shape[0], x.shape[1], out_h, ph, out_w, pw)
    return [tiles[:, :, :, i, :, j] for i in range(ph) for j in range(pw)]


def _tap_reduce(taps: list, combine: np.ufunc) -> np.ndarray:
    out = taps[0].copy()
    for tap in taps[1:]:
        combine(out, tap, out=out)
    return out


def _pool_cols(x: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Windows of every channel as columns (N*C, ph*pw, H'*W'): the im2col method."""
    out_h, out_w, stride, ph, pw = geometry
    planes = np.ascontiguousarray(x).reshape(-1, 1, x.shape[2], x.shape[3])
    cols = np.empty((planes.shape[0], ph * pw, out_h * out_w), dtype=x.dtype)
    _kernels(x.dtype).im2col(planes, ph, pw, stride, 0, cols)
    return cols


def _fold_cols(dcols: np.ndarray, x_shape: tuple, geometry: Geometry) -> np.ndarray:
    """Sum window gradients (N*C, ph*pw, H'*W') back onto the input (col2im)."""
    _, _, stride, ph, pw = geometry
    dx = np.empty((dcols.shape[0], 1) + tuple(x_shape[2:]), dtype=dcols.dtype)
    _kernels(dcols.dtype).col2im(np.ascontiguousarray(dcols), ph, pw, stride, 0, dx)
    return dx.reshape(x_shape)


def _pool_forward(x: np.ndarray, pool_param: dict, kind: str) -> Tuple[np.ndarray, tuple]:
    geometry = _pool_geometry(x, pool_param)
    values = np.asarray(x, dtype=_float_dtype(x))
    if not _pools_tile(geometry):
        cols = _pool_cols(values, geometry)
        out = cols.max(axis=1) if kind == "max" else cols.mean(axis=1)
        return out.reshape(x.shape[:2] + geometry[:2]), (x, pool_param)
    out = _tap_reduce(_taps(values, geometry), np.maximum if kind == "max" else np.add)
    if kind == "avg":
        out /= geometry[3] * geometry[4]
    return out, (x, pool_param)


def max_pool_forward_fast(x: np.ndarray, pool_param: dict) -> Tuple[np.ndarray, tuple]:
    """Same contract as ``max_pool_forward_naive``."""
    return _pool_forward(x, pool_param, "max")


def avg_pool_forward_fast(x: np.ndarray, pool_param: dict) -> Tuple[np.ndarray, tuple]:
    """Same contract as ``avg_pool_forward_naive``."""
    return _pool_forward(x, pool_param, "avg")


def _pool_backward_setup(dout: np.ndarray, cache: tuple) -> Tuple[np.ndarray, Geometry, np.ndarray]:
    x, pool_param = cache
    geometry = _pool_geometry(x, pool_param)
    _require_shape("dout", dout, x.shape[:2] + geometry[:2])
    dtype = _float_dtype(x, dout)
    return np.asarray(x, dtype=dtype), geometry, np.asarray(dout, dtype=dtype)


def max_pool_backward_fast(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Each window's gradient goes to its first maximal entry (row-major), as the naive layer."""
    x, geometry, dout = _pool_backward_setup(dout, cache)
    if _pools_tile(geometry):
        taps = _taps(x, geometry)
        out = _tap_reduce(taps, np.maximum)
        dx = np.empty(x.shape, dtype=dout.dtype)
        unrouted = dout.copy()  # each window's gradient until its first maximum takes it
        for tap, dx_tap in zip(taps, _taps(dx, geometry)):
            np.multiply(unrouted, tap == out, out=dx_tap)
            unrouted -= dx_tap
        return dx
    n_planes, area = x.shape[0] * x.shape[1], geometry[0] * geometry[1]
    first = _pool_cols(x, geometry).argmax(axis=1)
    dcols = np.zeros((n_planes, geometry[3] * geometry[4], area), dtype=dout.dtype)
    np.put_along_axis(dcols, first[:, None, :], dout.reshape(n_planes, 1, area), axis=1)
    return _fold_cols(dcols, x.shape, geometry)


def avg_pool_backward_fast(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Each window's gradient spread evenly over its pool_height * pool_width entries."""
    x, geometry, dout = _pool_backward_setup(dout, cache)
    out_h, out_w, _, ph, pw = geometry
    share = dout / (ph * pw)
    if _pools_tile(geometry):
        spread = share[:, :, :, None, :, None]
        return np.broadcast_to(spread, x.shape[:2] + (out_h, ph, out_w, pw)).reshape(x.shape)
    n_planes = x.shape[0] * x.shape[1]
    dcols = np.broadcast_to(share.reshape(n_planes, 1, -1), (n_planes, ph * pw, out_h * out_w))
    return _fold_cols(dcols, x.shape, geometry)
