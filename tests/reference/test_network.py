"""FourLayerConvNet (IE590), ThreeLayerConvNet (cs231n), the sandwich layers and the Solver
behave as the notebooks expect."""

import re

import numpy as np
import pytest

from reference import optim
from reference.classifiers.cnn import FourLayerConvNet, ThreeLayerConvNet
from reference.data_utils import get_builtin_data
from reference.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from reference.layer_utils import (
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from reference.solver import Solver

TINY = dict(num_filters=3, filter_size=3, input_dim=(3, 16, 16), hidden_dim=7, dtype=np.float64)
NETWORKS = [FourLayerConvNet, ThreeLayerConvNet]
# The affine layers after the conv block, (fan_in, fan_out) as a function of the block's output
# size, hidden_dim and num_classes: the edition's architecture written out.
AFFINE_LAYERS = {
    FourLayerConvNet: lambda pooled, hidden, classes: [
        (pooled, hidden),
        (hidden, hidden),
        (hidden, classes),
    ],
    ThreeLayerConvNet: lambda pooled, hidden, classes: [(pooled, hidden), (hidden, classes)],
}


def numeric_and_analytic_grads(model, X, y):
    """{param: (numeric gradient at h=1e-6, analytic gradient)}, as the notebook computes them."""
    _, grads = model.loss(X, y)
    return {
        name: (
            eval_numerical_gradient(
                lambda _: model.loss(X, y)[0], model.params[name], verbose=False, h=1e-6
            ),
            grads[name],
        )
        for name in sorted(grads)
    }


@pytest.mark.parametrize("network", NETWORKS)
def test_initial_loss_is_log10_and_regularisation_raises_it(network):
    np.random.seed(0)
    model = network()
    X, y = np.random.randn(50, 3, 32, 32), np.random.randint(10, size=50)
    loss, grads = model.loss(X, y)
    assert abs(loss - np.log(10)) < 1e-3
    assert sorted(grads) == sorted(model.params)
    model.reg = 0.5
    assert model.loss(X, y)[0] > loss + 0.1


@pytest.mark.parametrize("network", NETWORKS)
def test_scores_without_labels(network):
    model = network(num_classes=4, **{k: v for k, v in TINY.items() if k != "dtype"})
    scores = model.loss(np.random.randn(5, 3, 16, 16))
    assert scores.shape == (5, 4)


def expected_shapes(
    network, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100, num_classes=10
):
    c, h, w = input_dim
    shapes = {"W1": (num_filters, c, filter_size, filter_size), "b1": (num_filters,)}
    pooled = num_filters * (h // 2) * (w // 2)
    for layer, (fan_in, fan_out) in enumerate(
        AFFINE_LAYERS[network](pooled, hidden_dim, num_classes), start=2
    ):
        shapes[f"W{layer}"], shapes[f"b{layer}"] = (fan_in, fan_out), (fan_out,)
    return shapes


def test_parameter_names_are_the_editions():
    assert sorted(FourLayerConvNet().params) == ["W1", "W2", "W3", "W4", "b1", "b2", "b3", "b4"]
    assert sorted(ThreeLayerConvNet().params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert ThreeLayerConvNet().params["W2"].shape == (32 * 16 * 16, 100)
    assert ThreeLayerConvNet().params["W3"].shape == (100, 10)


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "input_dim": (1, 8, 12),
            "num_filters": 4,
            "filter_size": 5,
            "hidden_dim": 6,
            "num_classes": 3,
        },
    ],
)
def test_parameter_shapes_dtype_and_initialisation(network, kwargs):
    model = network(weight_scale=0.05, **kwargs)
    assert {k: v.shape for k, v in model.params.items()} == expected_shapes(network, **kwargs)
    for name, value in model.params.items():
        assert value.dtype == np.float32
        if name.startswith("b"):
            assert not value.any()
    assert 0.03 < model.params["W2"].std() < 0.07


@pytest.mark.parametrize("network", NETWORKS)
def test_bad_architecture_is_rejected(network):
    with pytest.raises(ValueError, match="filter_size"):
        network(filter_size=4)
    with pytest.raises(ValueError, match="even"):
        network(input_dim=(3, 15, 16))


@pytest.mark.parametrize(
    "network, output, kink", [(FourLayerConvNet, "b4", "b3"), (ThreeLayerConvNet, "b3", None)]
)
def test_notebook_gradient_check_on_tiny_network(network, output, kink, rel_error):
    """The notebook's cell: errors up to ~e-1 are expected at weight_scale 1e-3; IE590's b3
    gives 1.0 because its pre-activations sit within h of the ReLU kink. The output bias
    has no kink after it and agrees tightly."""
    np.random.seed(123)
    X, y = np.random.randn(2, 3, 16, 16), np.random.randint(10, size=2)
    errors = {
        name: rel_error(num, grad)
        for name, (num, grad) in numeric_and_analytic_grads(network(**TINY), X, y).items()
    }
    assert errors[output] < 1e-7
    assert all(errors[name] < 0.5 for name in errors if name != kink)


@pytest.mark.parametrize("network", NETWORKS)
def test_gradient_check_away_from_relu_kinks(network):
    """With larger weights and non-zero biases the gradients agree tightly for every parameter.

    Measured against each gradient's scale: elementwise relative errors of the tiniest W2
    entries reach 1e-4 from round-off alone (they grow when h shrinks)."""
    rng = np.random.RandomState(0)
    np.random.seed(1)
    model = network(weight_scale=0.1, reg=0.1, **TINY)
    for name in (n for n in model.params if n.startswith("b")):
        model.params[name] = 0.5 * rng.randn(*model.params[name].shape)
    X, y = rng.randn(2, 3, 16, 16), rng.randint(10, size=2)
    for name, (num, grad) in numeric_and_analytic_grads(model, X, y).items():
        assert np.abs(num - grad).max() < 1e-6 * np.abs(grad).max(), name


SANDWICH_CELLS = {
    "conv_relu_pool": (
        conv_relu_pool_forward,
        conv_relu_pool_backward,
        (2, 3, 16, 16),
        ({"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}),
        (2, 3, 8, 8),
    ),
    "conv_relu": (
        conv_relu_forward,
        conv_relu_backward,
        (2, 3, 8, 8),
        ({"stride": 1, "pad": 1},),
        (2, 3, 8, 8),
    ),
}


@pytest.mark.parametrize("name", sorted(SANDWICH_CELLS))
def test_sandwich_layers_notebook_gradient_check(name, rel_error):
    forward, backward, x_shape, params, dout_shape = SANDWICH_CELLS[name]
    np.random.seed(123)
    x, w, b = (
        np.random.randn(*x_shape),
        np.random.randn(3, 3, 3, 3),
        np.random.randn(
            3,
        ),
    )
    dout = np.random.randn(*dout_shape)
    _, cache = forward(x, w, b, *params)
    for value, grad in zip((x, w, b), backward(dout, cache)):
        num = eval_numerical_gradient_array(lambda _: forward(x, w, b, *params)[0], value, dout)
        assert rel_error(num, grad) < 1e-7


@pytest.mark.slow
@pytest.mark.parametrize("network", NETWORKS)
def test_solver_overfits_100_builtin_examples(network):
    data = get_builtin_data(num_training=100, num_validation=100, num_test=10)
    np.random.seed(123)
    model = network(weight_scale=1e-2)
    solver = Solver(
        model,
        data,
        num_epochs=15,
        batch_size=50,
        update_rule="adam",
        optim_config={"learning_rate": 1e-3},
        verbose=False,
        seed=0,
    )
    solver.train()
    assert len(solver.train_acc_history) == 16
    assert solver.train_acc_history[-1] >= 0.9
    assert solver.val_acc_history[-1] < 0.8


def tiny_training(seed=0, **kwargs):
    rng = np.random.RandomState(7)
    data = {
        "X_train": rng.randn(20, 3, 8, 8),
        "y_train": rng.randint(3, size=20),
        "X_val": rng.randn(10, 3, 8, 8),
        "y_val": rng.randint(3, size=10),
    }
    np.random.seed(0)
    model = FourLayerConvNet(
        input_dim=(3, 8, 8),
        num_filters=2,
        filter_size=3,
        hidden_dim=5,
        num_classes=3,
        weight_scale=0.1,
    )
    options = dict(
        num_epochs=2, batch_size=10, update_rule="sgd_momentum", print_every=1, seed=seed
    )
    options.update(kwargs)
    solver = Solver(model, data, **options)
    solver.train()
    return solver


def test_solver_log_lines_match_the_notebook(capsys):
    tiny_training()
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\(Iteration 1 / 4\) loss: \d+\.\d{6}", lines[0])
    assert re.fullmatch(r"\(Epoch 0 / 2\) train acc: \d\.\d{6}; val_acc: \d\.\d{6}", lines[1])
    assert sum(line.startswith("(Iteration ") for line in lines) == 4
    assert lines[-1].startswith("(Epoch 2 / 2) train acc: ")


def test_solver_seed_is_reproducible_and_leaves_global_state_alone():
    np.random.seed(5)
    first = tiny_training(seed=3, verbose=False)
    state = np.random.get_state()[1].copy()
    np.random.seed(5)
    second = tiny_training(seed=3, verbose=False)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    assert first.loss_history == second.loss_history
    assert first.loss_history != tiny_training(seed=4, verbose=False).loss_history


def test_solver_rejects_unknown_options():
    with pytest.raises(ValueError, match="Unrecognized arguments"):
        tiny_training(learning_rate=1e-3)
    with pytest.raises(ValueError, match="update_rule"):
        tiny_training(update_rule="nesterov")
    with pytest.raises(ValueError, match="update_rule"):
        tiny_training(update_rule="np")


@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_update_rules_minimise_a_quadratic(rule):
    w, config = np.array([3.0, -2.0]), {"learning_rate": 0.05}
    for _ in range(300):
        w, config = getattr(optim, rule)(w, 2 * w, config)
    assert np.abs(w).max() < 0.1
