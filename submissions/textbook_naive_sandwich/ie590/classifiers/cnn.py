from builtins import object
import numpy as np

from ie590.layers import *
from ie590.layer_utils import *


class FourLayerConvNet(object):
    """
    A four-layer convolutional network with the following architecture:

    conv - relu - 2x2 max pool - affine - relu - affine - relu - affine - softmax

    The network operates on minibatches of data that have shape (N, C, H, W)
    consisting of N images, each with height H and width W and with C input
    channels.
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7,
                 hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 dtype=np.float32):
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
        F = num_filters
        K = filter_size

        dims = [F * (H // 2) * (W // 2), hidden_dim, hidden_dim, num_classes]
        self.params['W1'] = weight_scale * np.random.randn(F, C, K, K)
        self.params['b1'] = np.zeros(F)
        for i in range(3):
            self.params['W%d' % (i + 2)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params['b%d' % (i + 2)] = np.zeros(dims[i + 1])

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """
        Evaluate loss and gradient for the four-layer convolutional network.

        Input / output: Same API as TwoLayerNet in fc_net.py.
        """
        W1, b1 = self.params['W1'], self.params['b1']
        W2, b2 = self.params['W2'], self.params['b2']
        W3, b3 = self.params['W3'], self.params['b3']
        W4, b4 = self.params['W4'], self.params['b4']

        # pass conv_param to the forward pass for the convolutional layer
        # Padding and stride chosen to preserve the input spatial size
        filter_size = W1.shape[2]
        conv_param = {'stride': 1, 'pad': (filter_size - 1) // 2}

        # pass pool_param to the forward pass for the max-pooling layer
        pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}

        scores = None
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        pooled, pool_cache = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        a2, fc2_cache = affine_forward(pooled, W2, b2)
        h2, relu2_cache = relu_forward(a2)
        a3, fc3_cache = affine_forward(h2, W3, b3)
        h3, relu3_cache = relu_forward(a3)
        scores, fc4_cache = affine_forward(h3, W4, b4)

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        if y is None:
            return scores

        loss, grads = 0, {}
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        data_loss, dscores = softmax_loss(scores, y)
        reg_loss = 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2)
                                     + np.sum(W3 ** 2) + np.sum(W4 ** 2))
        loss = data_loss + reg_loss

        dh3, dW4, db4 = affine_backward(dscores, fc4_cache)
        da3 = relu_backward(dh3, relu3_cache)
        dh2, dW3, db3 = affine_backward(da3, fc3_cache)
        da2 = relu_backward(dh2, relu2_cache)
        dpooled, dW2, db2 = affine_backward(da2, fc2_cache)
        _, dW1, db1 = conv_relu_pool_backward(dpooled, pool_cache)

        grads = {
            'W1': dW1 + self.reg * W1, 'b1': db1,
            'W2': dW2 + self.reg * W2, 'b2': db2,
            'W3': dW3 + self.reg * W3, 'b3': db3,
            'W4': dW4 + self.reg * W4, 'b4': db4,
        }

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        return loss, grads
