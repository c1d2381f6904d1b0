from builtins import object
import numpy as np

from ..layers import *
from ..fast_layers import *
from ..layer_utils import *


class FourLayerConvNet(object):
    """
    A four-layer convolutional network with the following architecture:

    conv - relu - 2x2 max pool - affine - relu - affine - relu - affine - softmax

    The network operates on minibatches of data that have shape (N, C, H, W)
    consisting of N images, each with height H and width W and with C input
    channels.
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        """
        Initialize a new network.

        Inputs:
        - input_dim: Tuple (C, H, W) giving size of input data
        - num_filters: Number of filters to use in the convolutional layer
        - filter_size: Width/height of filters to use in the convolutional layer
        - hidden_dim: Number of units to use in the fully-connected hidden layers
        - num_classes: Number of scores to produce from the final affine layer.
        - weight_scale: Scalar giving standard deviation for random initialization
          of weights.
        - reg: Scalar giving L2 regularization strength
        - dtype: numpy datatype to use for computation.
        """
        self.params = {}
        self.reg = reg
        self.dtype = dtype

        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        C, H, W = input_dim
        shapes = {
            "W1": (num_filters, C, filter_size, filter_size),
            "W2": (num_filters * H * W // 4, hidden_dim),
            "W3": (hidden_dim, hidden_dim),
            "W4": (hidden_dim, num_classes),
        }
        for i in range(1, 5):
            shape = shapes["W%d" % i]
            self.params["W%d" % i] = weight_scale * np.random.randn(*shape)
            self.params["b%d" % i] = np.zeros(shape[0] if i == 1 else shape[1])

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """
        Evaluate loss and gradient for the four-layer convolutional network.

        Input / output: Same API as TwoLayerNet in fc_net.py.
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        W4, b4 = self.params["W4"], self.params["b4"]

        # pass conv_param to the forward pass for the convolutional layer
        # Padding and stride chosen to preserve the input spatial size
        filter_size = W1.shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}

        # pass pool_param to the forward pass for the max-pooling layer
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        scores = None
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        out1, c1 = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        out2, c2 = affine_relu_forward(out1, W2, b2)
        out3, c3 = affine_relu_forward(out2, W3, b3)
        scores, c4 = affine_forward(out3, W4, b4)

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        if y is None:
            return scores

        loss, grads = 0, {}
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        loss, d4 = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.sum(self.params["W%d" % i] ** 2) for i in range(1, 5))

        d3, grads["W4"], grads["b4"] = affine_backward(d4, c4)
        d2, grads["W3"], grads["b3"] = affine_relu_backward(d3, c3)
        d1, grads["W2"], grads["b2"] = affine_relu_backward(d2, c2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(d1, c1)

        for i in range(1, 5):
            grads["W%d" % i] += self.reg * self.params["W%d" % i]

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        return loss, grads
