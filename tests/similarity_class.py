'''A class for the similarity tests: one solution copied twice in disguise, several independent.

Every student fills the same starter skeleton (the course's docstrings and markers) with
their own conv and max-pool layers. alice writes the textbook loops; bob hands in alice's
code with every name changed, lines reflowed and comments reworded; carol vectorises with
sliding windows and einsum; dave loops over output positions with tensordot; erin builds
im2col columns and multiplies matrices; frank hands the starter back untouched. The bodies
are correct layers (`tests/test_similarity.py` checks them against the reference), so the
class is realistic.
'''

from __future__ import annotations

import textwrap
from pathlib import Path

FUNCTIONS = {
    "conv_forward_naive": ("x, w, b, conv_param", "out = None", "cache = (x, w, b, conv_param)\n"
                           "    return out, cache"),
    "conv_backward_naive": ("dout, cache", "dx, dw, db = None, None, None", "return dx, dw, db"),
    "max_pool_forward_naive": ("x, pool_param", "out = None", "cache = (x, pool_param)\n"
                               "    return out, cache"),
    "max_pool_backward_naive": ("dout, cache", "dx = None", "return dx"),
}

STARTER_FUNCTION = '''

def {name}({args}):
    """
    A naive implementation of {name}.

    Inputs and outputs are described in the notebook; read it before you start, and keep
    the shapes exactly as they are given there.
    """
    {init}
    ###########################################################################
    # TODO: Implement {name}.{pad}#
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

{body}
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    {end}
'''

HEADER = "from builtins import range\nimport numpy as np\n"

ALICE = {
    "conv_forward_naive": """
        N, C, H, W = x.shape
        F, _, HH, WW = w.shape
        stride, pad = conv_param['stride'], conv_param['pad']
        H_out = 1 + (H + 2 * pad - HH) // stride
        W_out = 1 + (W + 2 * pad - WW) // stride
        x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
        out = np.zeros((N, F, H_out, W_out))
        for n in range(N):  # every image
            for f in range(F):  # every filter
                for i in range(H_out):
                    for j in range(W_out):
                        h0, w0 = i * stride, j * stride
                        window = x_padded[n, :, h0:h0 + HH, w0:w0 + WW]
                        out[n, f, i, j] = np.sum(window * w[f]) + b[f]
        """,
    "conv_backward_naive": """
        x, w, b, conv_param = cache
        N, C, H, W = x.shape
        F, _, HH, WW = w.shape
        stride, pad = conv_param['stride'], conv_param['pad']
        _, _, H_out, W_out = dout.shape
        x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
        dx_padded = np.zeros_like(x_padded)
        dw = np.zeros_like(w)
        db = np.sum(dout, axis=(0, 2, 3))
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        h0, w0 = i * stride, j * stride
                        window = x_padded[n, :, h0:h0 + HH, w0:w0 + WW]
                        dw[f] += window * dout[n, f, i, j]
                        dx_padded[n, :, h0:h0 + HH, w0:w0 + WW] += w[f] * dout[n, f, i, j]
        # crop the padding away again
        dx = dx_padded[:, :, pad:pad + H, pad:pad + W]
        """,
    "max_pool_forward_naive": """
        N, C, H, W = x.shape
        ph, pw = pool_param['pool_height'], pool_param['pool_width']
        stride = pool_param['stride']
        H_out = 1 + (H - ph) // stride
        W_out = 1 + (W - pw) // stride
        out = np.zeros((N, C, H_out, W_out))
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        h0, w0 = i * stride, j * stride
                        out[n, c, i, j] = np.max(x[n, c, h0:h0 + ph, w0:w0 + pw])
        """,
    "max_pool_backward_naive": """
        x, pool_param = cache
        N, C, H, W = x.shape
        ph, pw = pool_param['pool_height'], pool_param['pool_width']
        stride = pool_param['stride']
        _, _, H_out, W_out = dout.shape
        dx = np.zeros_like(x)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        h0, w0 = i * stride, j * stride
                        window = x[n, c, h0:h0 + ph, w0:w0 + pw]
                        a, k = np.unravel_index(np.argmax(window), window.shape)
                        dx[n, c, h0 + a, w0 + k] += dout[n, c, i, j]
        """,
}

# alice's code with every name changed, lines reflowed and comments rewritten.
BOB = {
    "conv_forward_naive": """
        # sizes of the input and of the filters
        num, chans, height, width = x.shape
        nfilt, _, kh, kw = w.shape
        s = conv_param["stride"]
        p = conv_param["pad"]
        out_rows = 1 + (height + 2*p - kh) // s
        out_cols = 1 + (width + 2*p - kw) // s
        xp = np.pad(x,
                    ((0, 0), (0, 0), (p, p), (p, p)),
                    mode="constant")
        out = np.zeros((num, nfilt, out_rows, out_cols))
        for img in range(num):
            for k in range(nfilt):
                for r in range(out_rows):
                    for q in range(out_cols):
                        top, left = r*s, q*s
                        patch = xp[img, :, top:top+kh, left:left+kw]
                        out[img, k, r, q] = np.sum(patch * w[k]) \\
                            + b[k]
        """,
    "conv_backward_naive": """
        x, w, b, conv_param = cache
        num, chans, height, width = x.shape
        nfilt, _, kh, kw = w.shape
        s = conv_param["stride"]
        p = conv_param["pad"]
        _, _, out_rows, out_cols = dout.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="constant")
        dxp = np.zeros_like(xp)
        dw = np.zeros_like(w)
        db = np.sum(dout, axis=(0, 2, 3))
        for img in range(num):
            for k in range(nfilt):
                for r in range(out_rows):
                    for q in range(out_cols):
                        top, left = r*s, q*s
                        patch = xp[img, :, top:top+kh, left:left+kw]
                        dw[k] += patch * dout[img, k, r, q]
                        dxp[img, :, top:top+kh, left:left+kw] += (
                            w[k] * dout[img, k, r, q])
        dx = dxp[:, :, p:p+height, p:p+width]  # remove the zero border
        """,
    "max_pool_forward_naive": """
        num, chans, height, width = x.shape
        hp, wp = pool_param["pool_height"], pool_param["pool_width"]
        s = pool_param["stride"]
        out_rows = 1 + (height - hp) // s
        out_cols = 1 + (width - wp) // s
        out = np.zeros((num, chans, out_rows, out_cols))
        for img in range(num):
            for ch in range(chans):
                for r in range(out_rows):
                    for q in range(out_cols):
                        top, left = r*s, q*s
                        out[img, ch, r, q] = np.max(
                            x[img, ch, top:top+hp, left:left+wp])
        """,
    "max_pool_backward_naive": """
        x, pool_param = cache
        num, chans, height, width = x.shape
        hp, wp = pool_param["pool_height"], pool_param["pool_width"]
        s = pool_param["stride"]
        _, _, out_rows, out_cols = dout.shape
        dx = np.zeros_like(x)
        for img in range(num):
            for ch in range(chans):
                for r in range(out_rows):
                    for q in range(out_cols):
                        top, left = r*s, q*s
                        region = x[img, ch, top:top+hp, left:left+wp]
                        u, v = np.unravel_index(np.argmax(region),
                                                region.shape)
                        # the max takes the whole gradient
                        dx[img, ch, top+u, left+v] += dout[img, ch, r, q]
        """,
}

CAROL = {
    "conv_forward_naive": """
        stride, pad = conv_param['stride'], conv_param['pad']
        F, C, HH, WW = w.shape
        xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
        patches = np.lib.stride_tricks.sliding_window_view(xp, (HH, WW), axis=(2, 3))
        patches = patches[:, :, ::stride, ::stride]
        out = np.einsum('nchwkl,fckl->nfhw', patches, w) + b[None, :, None, None]
        """,
    "conv_backward_naive": """
        x, w, b, conv_param = cache
        stride, pad = conv_param['stride'], conv_param['pad']
        F, C, HH, WW = w.shape
        xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
        patches = np.lib.stride_tricks.sliding_window_view(xp, (HH, WW), axis=(2, 3))
        patches = patches[:, :, ::stride, ::stride]
        db = dout.sum(axis=(0, 2, 3))
        dw = np.einsum('nchwkl,nfhw->fckl', patches, dout)
        dxp = np.zeros_like(xp)
        Ho, Wo = dout.shape[2:]
        for k in range(HH):
            for l in range(WW):
                contribution = np.einsum('nfhw,fc->nchw', dout, w[:, :, k, l])
                dxp[:, :, k:k + stride * Ho:stride, l:l + stride * Wo:stride] += contribution
        dx = dxp[:, :, pad:xp.shape[2] - pad, pad:xp.shape[3] - pad]
        """,
    "max_pool_forward_naive": """
        ph, pw, s = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
        windows = np.lib.stride_tricks.sliding_window_view(x, (ph, pw), axis=(2, 3))
        out = windows[:, :, ::s, ::s].max(axis=(4, 5))
        """,
    "max_pool_backward_naive": """
        x, pool_param = cache
        ph, pw, s = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
        windows = np.lib.stride_tricks.sliding_window_view(x, (ph, pw), axis=(2, 3))
        N, C, Ho, Wo = dout.shape
        flat = windows[:, :, ::s, ::s].reshape(N, C, Ho, Wo, ph * pw)
        di, dj = np.unravel_index(flat.argmax(axis=-1), (ph, pw))
        n, c, i, j = np.indices((N, C, Ho, Wo))
        dx = np.zeros_like(x)
        np.add.at(dx, (n, c, i * s + di, j * s + dj), dout)
        """,
}

DAVE = {
    "conv_forward_naive": """
        pad = conv_param.get('pad', 0)
        stride = conv_param.get('stride', 1)
        num_filters, _, fh, fw = w.shape
        padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out_h = (padded.shape[2] - fh) // stride + 1
        out_w = (padded.shape[3] - fw) // stride + 1
        out = np.empty((x.shape[0], num_filters, out_h, out_w))
        for r in range(out_h):
            for s in range(out_w):
                patch = padded[:, :, r * stride:r * stride + fh, s * stride:s * stride + fw]
                out[:, :, r, s] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
        out += b.reshape(1, -1, 1, 1)
        """,
    "conv_backward_naive": """
        x, w, _, conv_param = cache
        pad = conv_param.get('pad', 0)
        stride = conv_param.get('stride', 1)
        fh, fw = w.shape[2:]
        padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        grad = np.zeros(padded.shape)
        dw = np.zeros(w.shape)
        for r in range(dout.shape[2]):
            for s in range(dout.shape[3]):
                rows = slice(r * stride, r * stride + fh)
                cols = slice(s * stride, s * stride + fw)
                g = dout[:, :, r, s]
                dw += np.tensordot(g, padded[:, :, rows, cols], axes=([0], [0]))
                grad[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))
        dx = grad[:, :, pad:grad.shape[2] - pad, pad:grad.shape[3] - pad]
        db = dout.sum(axis=0).sum(axis=-1).sum(axis=-1)
        """,
    "max_pool_forward_naive": """
        size_h = pool_param['pool_height']
        size_w = pool_param['pool_width']
        step = pool_param['stride']
        out_h = (x.shape[2] - size_h) // step + 1
        out_w = (x.shape[3] - size_w) // step + 1
        out = np.empty(x.shape[:2] + (out_h, out_w))
        for r in range(out_h):
            for s in range(out_w):
                block = x[:, :, r * step:r * step + size_h, s * step:s * step + size_w]
                out[:, :, r, s] = block.max(axis=(2, 3))
        """,
    "max_pool_backward_naive": """
        x, pool_param = cache
        size_h = pool_param['pool_height']
        size_w = pool_param['pool_width']
        step = pool_param['stride']
        dx = np.zeros(x.shape)
        batch, channels = x.shape[:2]
        for r in range(dout.shape[2]):
            for s in range(dout.shape[3]):
                block = x[:, :, r * step:r * step + size_h, s * step:s * step + size_w]
                best = block.reshape(batch, channels, -1).argmax(axis=2)
                dr, ds = np.divmod(best, size_w)
                bi, ci = np.meshgrid(np.arange(batch), np.arange(channels), indexing='ij')
                dx[bi, ci, r * step + dr, s * step + ds] += dout[:, :, r, s]
        """,
}

ERIN = {
    "conv_forward_naive": """
        N, C, H, W = x.shape
        F, _, HH, WW = w.shape
        S, P = conv_param['stride'], conv_param['pad']
        Ho, Wo = (H + 2 * P - HH) // S + 1, (W + 2 * P - WW) // S + 1
        xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
        cols = np.stack([xp[:, :, a * S:a * S + HH, c * S:c * S + WW].reshape(N, -1)
                         for a in range(Ho) for c in range(Wo)], axis=-1)
        res = np.matmul(w.reshape(F, -1), cols)
        out = res.reshape(N, F, Ho, Wo) + b.reshape(F, 1, 1)
        """,
    "conv_backward_naive": """
        x, w, b, conv_param = cache
        N, C, H, W = x.shape
        F, _, HH, WW = w.shape
        S, P = conv_param['stride'], conv_param['pad']
        Ho, Wo = dout.shape[2], dout.shape[3]
        xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
        cols = np.stack([xp[:, :, a * S:a * S + HH, c * S:c * S + WW].reshape(N, -1)
                         for a in range(Ho) for c in range(Wo)], axis=-1)
        d2 = dout.reshape(N, F, Ho * Wo)
        dw = np.einsum('nfp,nkp->fk', d2, cols).reshape(w.shape)
        db = d2.sum(axis=(0, 2))
        dcols = np.einsum('fk,nfp->nkp', w.reshape(F, -1), d2)
        dxp = np.zeros_like(xp)
        for p in range(Ho * Wo):
            a, c = divmod(p, Wo)
            dxp[:, :, a * S:a * S + HH, c * S:c * S + WW] += dcols[:, :, p].reshape(N, C, HH, WW)
        dx = dxp[:, :, P:P + H, P:P + W]
        """,
    "max_pool_forward_naive": """
        N, C, H, W = x.shape
        PH, PW, S = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
        Ho, Wo = (H - PH) // S + 1, (W - PW) // S + 1
        cols = np.stack([x[:, :, a * S:a * S + PH, c * S:c * S + PW].reshape(N, C, -1)
                         for a in range(Ho) for c in range(Wo)], axis=2)
        out = cols.max(axis=-1).reshape(N, C, Ho, Wo)
        """,
    "max_pool_backward_naive": """
        x, pool_param = cache
        N, C, H, W = x.shape
        PH, PW, S = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
        Ho, Wo = dout.shape[2], dout.shape[3]
        dx = np.zeros_like(x)
        for p in range(Ho * Wo):
            a, c = divmod(p, Wo)
            view = x[:, :, a * S:a * S + PH, c * S:c * S + PW].reshape(N * C, -1)
            hit = np.zeros_like(view)
            hit[np.arange(N * C), view.argmax(axis=1)] = 1
            grad = hit * dout[:, :, a, c].reshape(N * C, 1)
            dx[:, :, a * S:a * S + PH, c * S:c * S + PW] += grad.reshape(N, C, PH, PW)
        """,
}

SOLUTIONS = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dave": DAVE, "erin": ERIN}


def layers_source(bodies: dict[str, str] | None) -> str:
    """The starter skeleton, filled with `bodies` (None: the untouched starter)."""
    parts = [HEADER]
    for name, (args, init, end) in FUNCTIONS.items():
        todo = f"# TODO: Implement {name}."
        code = textwrap.dedent(bodies[name]).strip("\n") if bodies else "pass"
        body = textwrap.indent(code, "    ")
        parts.append(STARTER_FUNCTION.format(name=name, args=args, init=init, end=end, body=body,
                                             pad=" " * max(1, 74 - len(todo))))
    return "".join(parts)


def write_class(folder: Path, starter: Path) -> None:
    """The class under `folder` (one package folder per student) and the starter file."""
    starter.write_text(layers_source(None))
    for student, bodies in {**SOLUTIONS, "frank": None}.items():
        package = folder / student / "ie590"
        package.mkdir(parents=True)
        (package / "layers.py").write_text(layers_source(bodies))
