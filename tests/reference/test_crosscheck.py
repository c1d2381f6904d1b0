"""An independent cross-check of the reference layers over random geometries.

Shares no code with the package: forwards are re-derived here with
sliding_window_view / einsum / explicit group loops, and every backward is
checked through the adjoint identity <dout, J v> = <J^T dout, v>, where J v
is a centred finite difference of *this file's* forward along a random v.
"""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from reference import layers

SEEDS = range(10)


# ------------------------------------------------ independent formulations
def windows(x, height, width, stride):
    """(N, C, H', W', height, width) view of every window of x (N, C, H, W)."""
    return sliding_window_view(x, (height, width), axis=(2, 3))[:, :, ::stride, ::stride]


def conv(x, w, b, stride, pad):
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    win = windows(padded, w.shape[2], w.shape[3], stride)
    return np.einsum("nchwij,fcij->nfhw", win, w) + b[None, :, None, None]


def max_pool(x, height, width, stride):
    return windows(x, height, width, stride).max(axis=(4, 5))


def avg_pool(x, height, width, stride):
    return windows(x, height, width, stride).mean(axis=(4, 5))


def spatial_batchnorm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=(0, 2, 3))[None, :, None, None]
    var = ((x - mean) ** 2).mean(axis=(0, 2, 3))[None, :, None, None]
    return gamma[None, :, None, None] * (x - mean) / np.sqrt(var + eps) + beta[None, :, None, None]


def groupnorm(x, gamma, beta, groups, eps=1e-5):
    out = np.empty_like(x)
    size = x.shape[1] // groups
    for g in range(groups):
        part = x[:, g * size : (g + 1) * size]
        mean = part.mean(axis=(1, 2, 3))[:, None, None, None]
        std = np.sqrt(((part - mean) ** 2).mean(axis=(1, 2, 3)) + eps)[:, None, None, None]
        out[:, g * size : (g + 1) * size] = (part - mean) / std
    return gamma * out + beta


# -------------------------------------------------------------- utilities
def random_geometry(rng):
    """N, C, stride, pad, window (rows, cols) and input (H, W) whose windows tile exactly."""
    n, c = rng.randint(1, 4), rng.randint(1, 4)
    stride, pad = rng.randint(1, 4), rng.randint(0, 3)
    window = rng.randint(1, 5, size=2)
    out = rng.randint(1, 5, size=2)
    size = np.maximum((out - 1) * stride + window - 2 * pad, 1)
    size += (-(size + 2 * pad - window)) % stride  # round up to the next tiling size
    return n, c, stride, pad, tuple(window), tuple(size)


def adjoint_gap(forward, inputs, grads, dout, rng, h=1e-6):
    """Largest relative gap between <grad, v> and the finite-difference <dout, J v>."""
    gaps = []
    for i, (value, grad) in enumerate(zip(inputs, grads)):
        for _ in range(3):
            v = rng.randn(*value.shape)
            plus = [a + h * v if j == i else a for j, a in enumerate(inputs)]
            minus = [a - h * v if j == i else a for j, a in enumerate(inputs)]
            directional = np.sum(dout * (forward(*plus) - forward(*minus))) / (2 * h)
            analytic = np.sum(grad * v)
            gaps.append(abs(directional - analytic) / max(1e-8, abs(directional) + abs(analytic)))
    return max(gaps)


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("seed", SEEDS)
def test_conv_matches_einsum_and_adjoint(seed):
    rng = np.random.RandomState(seed)
    n, c, stride, pad, (hh, ww), (h, w) = random_geometry(rng)
    f = rng.randint(1, 4)
    x, weights, b = rng.randn(n, c, h, w), rng.randn(f, c, hh, ww), rng.randn(f)
    out, cache = layers.conv_forward_naive(x, weights, b, {"stride": stride, "pad": pad})
    expected = conv(x, weights, b, stride, pad)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)

    dout = rng.randn(*out.shape)
    grads = layers.conv_backward_naive(dout, cache)

    def forward(*args):
        return conv(*args, stride, pad)

    assert adjoint_gap(forward, [x, weights, b], grads, dout, rng) < 1e-6


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pools_match_sliding_windows_and_adjoint(seed, kind):
    rng = np.random.RandomState(100 + seed)
    n, c, stride, _, (ph, pw), (h, w) = random_geometry(rng)  # pools are not padded
    h, w = h + (-(h - ph)) % stride, w + (-(w - pw)) % stride
    h, w = max(h, ph), max(w, pw)
    x = rng.randn(n, c, h, w)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    forward_ref, backward_ref = (
        (layers.max_pool_forward_naive, layers.max_pool_backward_naive)
        if kind == "max"
        else (layers.avg_pool_forward_naive, layers.avg_pool_backward_naive)
    )
    formula = max_pool if kind == "max" else avg_pool

    out, cache = forward_ref(x, pool_param)
    np.testing.assert_allclose(out, formula(x, ph, pw, stride), rtol=1e-12, atol=1e-14)
    dout = rng.randn(*out.shape)
    dx = backward_ref(dout, cache)
    assert adjoint_gap(lambda a: formula(a, ph, pw, stride), [x], [dx], dout, rng) < 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_spatial_batchnorm_matches_formula_and_adjoint(seed):
    rng = np.random.RandomState(200 + seed)
    n, c, _, _, _, (h, w) = random_geometry(rng)
    h += max(0, 3 - n * h * w)  # 2 values normalise to +-1: a flat, ill-conditioned map
    x = 3 * rng.randn(n, c, h, w) + 5
    gamma, beta = rng.randn(c), rng.randn(c)
    out, cache = layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out, spatial_batchnorm(x, gamma, beta), rtol=1e-9, atol=1e-11)
    dout = rng.randn(*out.shape)
    grads = layers.spatial_batchnorm_backward(dout, cache)
    assert adjoint_gap(spatial_batchnorm, [x, gamma, beta], grads, dout, rng, h=1e-5) < 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_groupnorm_matches_group_loop_and_adjoint(seed):
    rng = np.random.RandomState(300 + seed)
    n, _, _, _, _, (h, w) = random_geometry(rng)
    groups = rng.randint(1, 4)
    c = groups * rng.randint(1, 4)
    h += max(0, 3 - c // groups * h * w)  # 2 values normalise to +-1: flat, ill-conditioned
    x = 3 * rng.randn(n, c, h, w) + 5
    gamma, beta = rng.randn(1, c, 1, 1), rng.randn(1, c, 1, 1)
    out, cache = layers.spatial_groupnorm_forward(x, gamma, beta, groups, {})
    np.testing.assert_allclose(out, groupnorm(x, gamma, beta, groups), rtol=1e-9, atol=1e-11)
    dout = rng.randn(*out.shape)
    grads = layers.spatial_groupnorm_backward(dout, cache)
    assert [g.shape for g in grads] == [x.shape, gamma.shape, beta.shape]

    def forward(*args):
        return groupnorm(*args, groups)

    assert adjoint_gap(forward, [x, gamma, beta], grads, dout, rng, h=1e-5) < 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_max_pool_gradient_lands_on_maxima_and_conserves_mass(seed):
    """With heavy ties (small integers), each window's gradient goes to one maximal entry."""
    rng = np.random.RandomState(400 + seed)
    x = rng.randint(0, 3, size=(2, 2, 6, 6)).astype(float)
    pool_param = {"pool_height": 3, "pool_width": 2, "stride": 1}  # overlapping windows
    out, cache = layers.max_pool_forward_naive(x, pool_param)
    dout = rng.rand(*out.shape) + 0.5
    dx = layers.max_pool_backward_naive(dout, cache)
    np.testing.assert_allclose(dx.sum(), dout.sum())
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            single = np.zeros_like(dout)
            single[:, :, i, j] = dout[:, :, i, j]
            window_grad = layers.max_pool_backward_naive(single, cache)[:, :, i : i + 3, j : j + 2]
            is_max = x[:, :, i : i + 3, j : j + 2] == out[:, :, i, j][..., None, None]
            assert np.all((window_grad == 0) | is_max)
            assert np.all((window_grad != 0).sum(axis=(2, 3)) == 1)
