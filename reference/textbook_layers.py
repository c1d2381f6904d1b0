"""The speed checks' baseline: the naive layers as students write them.

The assignment asks for naive layers and says not to worry about their speed; the textbook answer
loops over every output index and lets NumPy work on one window at a time. Speed checks compare a
submission with these loops, not with the course's vectorised naive layers, so that every
textbook style passes with a wide margin and only pathological slowness (work repeated inside
the loops) fails. Shipped privately into the sandbox as the grader's baseline module.
"""

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, pad = conv_param["stride"], conv_param["pad"]
    H_out = 1 + (H + 2 * pad - HH) // s
    W_out = 1 + (W + 2 * pad - WW) // s
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * s : i * s + HH, j * s : j * s + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    H, W = x.shape[2:]
    F, _, HH, WW = w.shape
    N, _, H_out, W_out = dout.shape
    s, pad = conv_param["stride"], conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad, dw, db = np.zeros(x_pad.shape), np.zeros(w.shape), np.zeros(b.shape)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    g = dout[n, f, i, j]
                    db[f] += g
                    dw[f] += x_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] * g
                    dx_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] += w[f] * g
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, db


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    for n in range(N):
        for c in range(C):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    out[n, c, i, j] = np.max(x[n, c, i * s : i * s + ph, j * s : j * s + pw])
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape)
    N, C, H_out, W_out = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    k = np.argmax(x[n, c, i * s : i * s + ph, j * s : j * s + pw])
                    dx[n, c, i * s + k // pw, j * s + k % pw] += dout[n, c, i, j]
    return dx
