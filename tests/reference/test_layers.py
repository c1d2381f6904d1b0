"""The reference layers reproduce every number the seed notebook prints for a correct
solution, reject hyper-parameters that do not fit, keep float32, and break max-pool
ties towards a single maximal entry."""

import numpy as np
import pytest

from reference.gradient_check import eval_numerical_gradient_array
from reference.layers import (
    avg_pool_backward_naive,
    avg_pool_forward_naive,
    batchnorm_backward,
    batchnorm_forward,
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

POOL_2X2 = {"pool_height": 2, "pool_width": 2, "stride": 2}


def numeric_grads(forward, inputs, dout):
    """Numeric gradient of sum(forward() * dout) w.r.t. each input (perturbed in place)."""
    return [eval_numerical_gradient_array(lambda _: forward(), a, dout) for a in inputs]


# ----------------------------------------------------------- notebook cells
def test_conv_forward_matches_notebook(rel_error):
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    correct_out = np.array(
        [
            [
                [[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                [[0.50813986, 0.54309974], [0.64082444, 0.67101435]],
            ],
            [
                [[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                [[2.36270298, 2.36904306], [2.38090835, 2.38247847]],
            ],
        ]
    )
    assert rel_error(out, correct_out) < 1e-7


def test_conv_backward_notebook_gradient_check(rel_error):
    np.random.seed(123)
    x = np.random.randn(4, 3, 5, 5)
    w = np.random.randn(2, 3, 3, 3)
    b = np.random.randn(
        2,
    )
    dout = np.random.randn(4, 2, 5, 5)
    conv_param = {"stride": 1, "pad": 1}
    nums = numeric_grads(lambda: conv_forward_naive(x, w, b, conv_param)[0], [x, w, b], dout)
    _, cache = conv_forward_naive(x, w, b, conv_param)
    for grad, num in zip(conv_backward_naive(dout, cache), nums):
        assert rel_error(grad, num) < 1e-8


POOL_LINSPACE = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)


def test_max_pool_forward_matches_notebook(rel_error):
    out, _ = max_pool_forward_naive(POOL_LINSPACE, POOL_2X2)
    correct_out = np.array(
        [
            [
                [[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]],
            ],
            [
                [[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                [[0.32631579, 0.34105263], [0.38526316, 0.4]],
            ],
        ]
    )
    assert rel_error(out, correct_out) < 1e-7


def test_avg_pool_forward_matches_notebook(rel_error):
    out, _ = avg_pool_forward_naive(POOL_LINSPACE, POOL_2X2)
    correct_out = np.array(
        [
            [
                [[-0.28157895, -0.26684211], [-0.22263158, -0.20789474]],
                [[-0.16368421, -0.14894737], [-0.10473684, -0.09]],
                [[-0.04578947, -0.03105263], [0.01315789, 0.02789474]],
            ],
            [
                [[0.07210526, 0.08684211], [0.13105263, 0.14578947]],
                [[0.19, 0.20473684], [0.24894737, 0.26368421]],
                [[0.30789474, 0.32263158], [0.36684211, 0.38157895]],
            ],
        ]
    )
    assert rel_error(out, correct_out) < 1e-6


@pytest.mark.parametrize(
    "forward, backward",
    [
        (max_pool_forward_naive, max_pool_backward_naive),
        (avg_pool_forward_naive, avg_pool_backward_naive),
    ],
)
def test_pool_backward_notebook_gradient_check(forward, backward, rel_error):
    np.random.seed(123)
    x = np.random.randn(3, 2, 8, 8)
    dout = np.random.randn(3, 2, 4, 4)
    [dx_num] = numeric_grads(lambda: forward(x, POOL_2X2)[0], [x], dout)
    _, cache = forward(x, POOL_2X2)
    assert rel_error(backward(dout, cache), dx_num) < 1e-10


def test_spatial_batchnorm_train_statistics_match_notebook():
    np.random.seed(123)
    x = 4 * np.random.randn(2, 3, 4, 5) + 10
    out, _ = spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(
        out.std(axis=(0, 2, 3)), [0.99999975, 0.99999973, 0.99999979], atol=1e-8
    )
    out, _ = spatial_batchnorm_forward(
        x, np.asarray([3, 4, 5]), np.asarray([6, 7, 8]), {"mode": "train"}
    )
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), [6, 7, 8], atol=1e-12)
    np.testing.assert_allclose(
        out.std(axis=(0, 2, 3)), [2.99999925, 3.99999891, 4.99999897], atol=1e-8
    )


def test_spatial_batchnorm_test_mode_after_50_training_calls_matches_notebook():
    np.random.seed(123)
    n, c, h, w = 10, 4, 11, 12
    bn_param = {"mode": "train"}
    for _ in range(50):
        spatial_batchnorm_forward(
            2.3 * np.random.randn(n, c, h, w) + 13, np.ones(c), np.zeros(c), bn_param
        )
    bn_param["mode"] = "test"
    a_norm, _ = spatial_batchnorm_forward(
        2.3 * np.random.randn(n, c, h, w) + 13, np.ones(c), np.zeros(c), bn_param
    )
    np.testing.assert_allclose(
        a_norm.mean(axis=(0, 2, 3)), [0.04794133, 0.04914931, -0.00719426, 0.03869199], atol=1e-8
    )
    np.testing.assert_allclose(
        a_norm.std(axis=(0, 2, 3)), [1.03832542, 1.01565838, 0.99439152, 1.02422673], atol=1e-8
    )


def test_spatial_batchnorm_backward_notebook_gradient_check(rel_error):
    np.random.seed(123)
    x = 5 * np.random.randn(2, 3, 4, 5) + 12
    gamma, beta = np.random.randn(3), np.random.randn(3)
    dout = np.random.randn(2, 3, 4, 5)
    bn_param = {"mode": "train"}
    nums = numeric_grads(
        lambda: spatial_batchnorm_forward(x, gamma, beta, bn_param)[0], [x, gamma, beta], dout
    )
    _, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    assert rel_error(dx, nums[0]) < 1e-6
    assert rel_error(dgamma, nums[1]) < 1e-10
    assert rel_error(dbeta, nums[2]) < 1e-10


def test_groupnorm_forward_normalises_each_group():
    np.random.seed(123)
    n, c, h, w, groups = 2, 6, 4, 5, 2
    x = 4 * np.random.randn(n, c, h, w) + 10
    out, _ = spatial_groupnorm_forward(
        x, np.ones((1, c, 1, 1)), np.zeros((1, c, 1, 1)), groups, {"mode": "train"}
    )
    assert out.shape == (n, c, h, w)
    out_g = out.reshape(n * groups, -1)
    np.testing.assert_allclose(out_g.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(
        out_g.std(axis=1), [0.99999978, 0.99999974, 0.99999952, 0.99999963], atol=1e-8
    )


def test_groupnorm_backward_notebook_gradient_check(rel_error):
    np.random.seed(123)
    n, c, h, w, groups = 2, 6, 4, 5, 2
    x = 5 * np.random.randn(n, c, h, w) + 12
    gamma, beta = np.random.randn(1, c, 1, 1), np.random.randn(1, c, 1, 1)
    dout = np.random.randn(n, c, h, w)
    nums = numeric_grads(
        lambda: spatial_groupnorm_forward(x, gamma, beta, groups, {})[0], [x, gamma, beta], dout
    )
    _, cache = spatial_groupnorm_forward(x, gamma, beta, groups, {})
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    assert dgamma.shape == dbeta.shape == (1, c, 1, 1)
    assert rel_error(dx, nums[0]) < 1e-6
    assert rel_error(dgamma, nums[1]) < 1e-8
    assert rel_error(dbeta, nums[2]) < 1e-8


# ------------------------------------------------------ batch-norm options
def test_batchnorm_honours_explicit_eps_and_momentum():
    x = np.random.RandomState(0).randn(50, 4) * 3 + 2
    bn_param = {"mode": "train", "eps": 0.5, "momentum": 0.25}
    out, _ = batchnorm_forward(x, np.ones(4), np.zeros(4), bn_param)
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 0.5))
    np.testing.assert_allclose(bn_param["running_mean"], 0.75 * x.mean(0))
    np.testing.assert_allclose(bn_param["running_var"], 0.75 * x.var(0))


def test_batchnorm_test_mode_backward_treats_statistics_as_constants(rel_error):
    rng = np.random.RandomState(1)
    x, dout, gamma = rng.randn(6, 3), rng.randn(6, 3), rng.randn(3)
    bn_param = {"mode": "test", "running_mean": rng.randn(3), "running_var": rng.rand(3) + 1}
    [dx_num] = numeric_grads(
        lambda: batchnorm_forward(x, gamma, np.zeros(3), bn_param)[0], [x], dout
    )
    _, cache = batchnorm_forward(x, gamma, np.zeros(3), bn_param)
    assert rel_error(batchnorm_backward(dout, cache)[0], dx_num) < 1e-8


# ------------------------------------------------------------- bad inputs
X5 = np.zeros((1, 1, 5, 5))
B1 = np.zeros(1)
BAD_CALLS = {
    "conv stride does not tile": (
        lambda: conv_forward_naive(X5, np.zeros((1, 1, 3, 3)), B1, {"stride": 3, "pad": 1}),
        ["conv_param", "stride 3", "H=5", "pad=1", "HH=3"],
    ),
    "conv channel mismatch": (
        lambda: conv_forward_naive(X5, np.zeros((1, 2, 3, 3)), B1, {"stride": 1, "pad": 1}),
        ["channels", "C=1", "2"],
    ),
    "conv missing pad": (
        lambda: conv_forward_naive(X5, np.zeros((1, 1, 3, 3)), B1, {"stride": 1}),
        ["conv_param", "pad"],
    ),
    "conv kernel larger than input": (
        lambda: conv_forward_naive(X5, np.zeros((1, 1, 9, 3)), B1, {"stride": 1, "pad": 1}),
        ["HH=9", "H=5"],
    ),
    "pool stride does not tile": (
        lambda: max_pool_forward_naive(X5, POOL_2X2),
        ["pool_param", "stride 2", "H=5", "pool_height=2"],
    ),
    "pool missing key": (
        lambda: avg_pool_forward_naive(X5, {"pool_height": 1, "stride": 1}),
        ["pool_param", "pool_width"],
    ),
    "groupnorm C not divisible by G": (
        lambda: spatial_groupnorm_forward(
            np.zeros((1, 6, 2, 2)), np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1)), 4, {}
        ),
        ["C=6", "G=4"],
    ),
    "groupnorm gamma shape": (
        lambda: spatial_groupnorm_forward(
            np.zeros((1, 6, 2, 2)), np.ones(6), np.zeros((1, 6, 1, 1)), 3, {}
        ),
        ["gamma", "(1, 6, 1, 1)", "(6,)"],
    ),
    "spatial batchnorm gamma shape": (
        lambda: spatial_batchnorm_forward(
            np.zeros((2, 3, 2, 2)), np.ones(4), np.zeros(3), {"mode": "train"}
        ),
        ["gamma", "(3,)", "(4,)"],
    ),
    "batchnorm mode": (
        lambda: batchnorm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), {}),
        ["mode"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_hyper_parameters_raise_value_error_naming_them(case):
    call, fragments = BAD_CALLS[case]
    with pytest.raises(ValueError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value)


# ---------------------------------------------------------------- float32
def _float32_layers(rng):
    x = rng.randn(2, 4, 6, 6).astype(np.float32)
    w, b = rng.randn(3, 4, 3, 3).astype(np.float32), rng.randn(3).astype(np.float32)
    g1, b1 = np.ones(4, np.float32), np.zeros(4, np.float32)
    g4, b4 = np.ones((1, 4, 1, 1), np.float32), np.zeros((1, 4, 1, 1), np.float32)
    return {
        "conv": (lambda: conv_forward_naive(x, w, b, {"stride": 1, "pad": 1}), conv_backward_naive),
        "max pool": (lambda: max_pool_forward_naive(x, POOL_2X2), max_pool_backward_naive),
        "avg pool": (lambda: avg_pool_forward_naive(x, POOL_2X2), avg_pool_backward_naive),
        "spatial batchnorm": (
            lambda: spatial_batchnorm_forward(x, g1, b1, {"mode": "train"}),
            spatial_batchnorm_backward,
        ),
        "groupnorm": (
            lambda: spatial_groupnorm_forward(x, g4, b4, 2, {}),
            spatial_groupnorm_backward,
        ),
    }


@pytest.mark.parametrize("name", ["conv", "max pool", "avg pool", "spatial batchnorm", "groupnorm"])
def test_float32_inputs_give_float32_outputs_and_gradients(name):
    forward, backward = _float32_layers(np.random.RandomState(0))[name]
    out, cache = forward()
    assert out.dtype == np.float32
    grads = backward(np.ones_like(out), cache)
    for grad in grads if isinstance(grads, tuple) else [grads]:
        assert grad.dtype == np.float32


# -------------------------------------------------------- ties, side effects
def test_max_pool_backward_routes_a_tied_window_to_its_first_maximum():
    x = np.array([[[[1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 2.0, 2.0]]]])
    dout = np.array([[[[3.0, 5.0]]]])
    _, cache = max_pool_forward_naive(x, POOL_2X2)
    dx = max_pool_backward_naive(dout, cache)
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_layers_do_not_modify_their_inputs():
    rng = np.random.RandomState(2)
    x, w, b = rng.randn(2, 3, 5, 5), rng.randn(4, 3, 3, 3), rng.randn(4)
    originals = [a.copy() for a in (x, w, b)]
    out, cache = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    dout = rng.randn(*out.shape)
    dout_copy = dout.copy()
    conv_backward_naive(dout, cache)
    _, cache = max_pool_forward_naive(x[:, :, :4, :4], POOL_2X2)
    max_pool_backward_naive(dout[:, :3, :2, :2], cache)
    for array, original in zip((x, w, b, dout), originals + [dout_copy]):
        np.testing.assert_array_equal(array, original)
