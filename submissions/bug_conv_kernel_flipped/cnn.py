"""FourLayerConvNet: the network the assignment asks students to complete."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ie590.layer_utils import *
from ie590.layers import *


class FourLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - relu - affine - softmax.

    Input is (N, C, H, W). The convolution has stride 1 and pad (filter_size - 1) // 2,
    so it preserves the spatial size; the pool halves it.
    """

    def __init__(self, input_dim: tuple = (3, 32, 32), num_filters: int = 32,
                 filter_size: int = 7, hidden_dim: int = 100, num_classes: int = 10,
                 weight_scale: float = 1e-3, reg: float = 0.0, dtype: type = np.float32):
        c, h, w = input_dim
        if filter_size % 2 == 0:
            raise ValueError(f"filter_size must be odd so the convolution preserves the "
                             f"spatial size, got {filter_size}")
        if h % 2 or w % 2:
            raise ValueError(f"input_dim height and width must be even for the 2x2 pool, "
                             f"got input_dim={tuple(input_dim)}")
        self.reg = reg
        self.dtype = dtype
        shapes = {
            "W1": (num_filters, c, filter_size, filter_size), "b1": (num_filters,),
            "W2": (num_filters * (h // 2) * (w // 2), hidden_dim), "b2": (hidden_dim,),
            "W3": (hidden_dim, hidden_dim), "b3": (hidden_dim,),
            "W4": (hidden_dim, num_classes), "b4": (num_classes,),
        }
        self.params = {
            name: (weight_scale * np.random.randn(*shape) if name[0] == "W"
                   else np.zeros(shape)).astype(dtype)
            for name, shape in shapes.items()
        }

    def loss(self, X: np.ndarray, y: Optional[np.ndarray] = None):
        """Class scores (N, num_classes) when y is None, else (loss, grads) for every param."""
        p = self.params
        filter_size = p["W1"].shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        h1, cache1 = conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, pool_param)
        h2, cache2 = affine_relu_forward(h1, p["W2"], p["b2"])
        h3, cache3 = affine_relu_forward(h2, p["W3"], p["b3"])
        scores, cache4 = affine_forward(h3, p["W4"], p["b4"])
        if y is None:
            return scores

        weights = ("W1", "W2", "W3", "W4")
        data_loss, dscores = softmax_loss(scores, y)
        reg_loss = 0.5 * self.reg * sum(float(np.sum(p[name] ** 2)) for name in weights)
        loss = data_loss + reg_loss
        grads = {}
        dh3, grads["W4"], grads["b4"] = affine_backward(dscores, cache4)
        dh2, grads["W3"], grads["b3"] = affine_relu_backward(dh3, cache3)
        dh1, grads["W2"], grads["b2"] = affine_relu_backward(dh2, cache2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dh1, cache1)
        for name in weights:
            grads[name] = grads[name] + self.reg * p[name]
        return loss, grads
