"""The networks the assignment asks students to complete: IE590's FourLayerConvNet and the
ThreeLayerConvNet of Stanford's cs231n editions.

Both are a conv - relu - 2x2 max pool block followed by affine layers; they differ only in the
number of hidden affine - relu layers, so one class builds both.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..layer_utils import *
from ..layers import *


class _PooledConvNet:
    """conv - relu - 2x2 max pool - (affine - relu) x HIDDEN_LAYERS - affine - softmax.

    Input is (N, C, H, W). The convolution has stride 1 and pad (filter_size - 1) // 2,
    so it preserves the spatial size; the pool halves it. Parameters are W1, b1 (conv),
    then W2, b2 ... for the affine layers in order; the L2 term covers every W.
    """

    HIDDEN_LAYERS = 0

    def __init__(
        self,
        input_dim: tuple = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: type = np.float32,
    ):
        c, h, w = input_dim
        if filter_size % 2 == 0:
            raise ValueError(
                f"filter_size must be odd so the convolution preserves the "
                f"spatial size, got {filter_size}"
            )
        if h % 2 or w % 2:
            raise ValueError(
                f"input_dim height and width must be even for the 2x2 pool, "
                f"got input_dim={tuple(input_dim)}"
            )
        self.reg = reg
        self.dtype = dtype
        shapes = {"W1": (num_filters, c, filter_size, filter_size), "b1": (num_filters,)}
        dims = [num_filters * (h // 2) * (w // 2), *[hidden_dim] * self.HIDDEN_LAYERS, num_classes]
        for layer, (fan_in, fan_out) in enumerate(zip(dims, dims[1:]), start=2):
            shapes[f"W{layer}"], shapes[f"b{layer}"] = (fan_in, fan_out), (fan_out,)
        self.params = {
            name: (
                weight_scale * np.random.randn(*shape) if name[0] == "W" else np.zeros(shape)
            ).astype(dtype)
            for name, shape in shapes.items()
        }

    def loss(self, X: np.ndarray, y: Optional[np.ndarray] = None):
        """Class scores (N, num_classes) when y is None, else (loss, grads) for every param."""
        p = self.params
        filter_size = p["W1"].shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        last = self.HIDDEN_LAYERS + 2

        out, conv_cache = conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, pool_param)
        hidden_caches = []
        for layer in range(2, last):
            out, cache = affine_relu_forward(out, p[f"W{layer}"], p[f"b{layer}"])
            hidden_caches.append(cache)
        scores, scores_cache = affine_forward(out, p[f"W{last}"], p[f"b{last}"])
        if y is None:
            return scores

        weights = [f"W{layer}" for layer in range(1, last + 1)]
        data_loss, dscores = softmax_loss(scores, y)
        reg_loss = 0.5 * self.reg * sum(float(np.sum(p[name] ** 2)) for name in weights)
        grads = {}
        dout, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dscores, scores_cache)
        for layer in range(last - 1, 1, -1):
            dout, grads[f"W{layer}"], grads[f"b{layer}"] = affine_relu_backward(
                dout, hidden_caches[layer - 2]
            )
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dout, conv_cache)
        for name in weights:
            grads[name] = grads[name] + self.reg * p[name]
        return data_loss + reg_loss, grads


class FourLayerConvNet(_PooledConvNet):
    """conv - relu - 2x2 max pool - affine - relu - affine - relu - affine - softmax (IE590).

    Parameters W1, b1 (conv), W2, b2 and W3, b3 (hidden affine layers), W4, b4 (output).
    """

    HIDDEN_LAYERS = 2


class ThreeLayerConvNet(_PooledConvNet):
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax (cs231n's editions).

    Parameters W1, b1 (conv), W2, b2 (hidden affine layer), W3, b3 (output).
    """

    HIDDEN_LAYERS = 1
