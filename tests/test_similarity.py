"""Similarity across submissions: disguised copies rank first, course code never counts."""

from __future__ import annotations

import json
import shutil
import textwrap
import types
import zipfile
from pathlib import Path

import html5lib
import nbformat
import numpy as np
import pytest

from grader.cli import main
from grader.report.similarity import render_similarity
from grader.similarity import NOTEBOOK, compare_folder
from grader.oracle import COURSE_DIR
from reference import layers as reference


# ---------------------------------------------------------------- the class
# A class for the similarity tests: one solution copied twice in disguise, several independent.
#
# Every student fills the same starter skeleton (the course's docstrings and markers) with
# their own conv and max-pool layers. alice writes the textbook loops; bob hands in alice's
# code with every name changed, lines reflowed and comments reworded; carol vectorises with
# sliding windows and einsum; dave loops over output positions with tensordot; erin builds
# im2col columns and multiplies matrices; frank hands the starter back untouched. The bodies
# are correct layers (checked against the reference below), so the
# class is realistic.
FUNCTIONS = {
    "conv_forward_naive": (
        "x, w, b, conv_param",
        "out = None",
        "cache = (x, w, b, conv_param)\n    return out, cache",
    ),
    "conv_backward_naive": ("dout, cache", "dx, dw, db = None, None, None", "return dx, dw, db"),
    "max_pool_forward_naive": (
        "x, pool_param",
        "out = None",
        "cache = (x, pool_param)\n    return out, cache",
    ),
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
        parts.append(
            STARTER_FUNCTION.format(
                name=name,
                args=args,
                init=init,
                end=end,
                body=body,
                pad=" " * max(1, 74 - len(todo)),
            )
        )
    return "".join(parts)


def write_class(folder: Path, starter: Path) -> None:
    """The class under `folder` (one package folder per student) and the starter file."""
    starter.write_text(layers_source(None))
    for student, bodies in {**SOLUTIONS, "frank": None}.items():
        package = folder / student / "ie590"
        package.mkdir(parents=True)
        (package / "layers.py").write_text(layers_source(bodies))


@pytest.fixture
def course(tmp_path):
    """The class, with alice handed in as a single file and bob as a zip of his folder."""
    folder, starter = tmp_path / "class", tmp_path / "starter_layers.py"
    write_class(folder, starter)
    shutil.move(folder / "alice" / "ie590" / "layers.py", folder / "alice.py")
    shutil.rmtree(folder / "alice")
    with zipfile.ZipFile(folder / "bob.zip", "w") as zf:
        zf.write(folder / "bob" / "ie590" / "layers.py", "bob/ie590/layers.py")
    shutil.rmtree(folder / "bob")
    return folder, starter


@pytest.mark.parametrize("student", sorted(SOLUTIONS))
def test_the_class_solutions_are_correct_layers(student):
    """Trusted test code, run in-process: the class is made of working, different solutions."""
    module = types.ModuleType(student)
    exec(layers_source(SOLUTIONS[student]), module.__dict__)
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    conv, pool = {"stride": 2, "pad": 1}, {"pool_height": 2, "pool_width": 3, "stride": 1}
    out, cache = module.conv_forward_naive(x, w, b, conv)
    expected, ref_cache = reference.conv_forward_naive(x, w, b, conv)
    dout = rng.standard_normal(expected.shape)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    wanted = reference.conv_backward_naive(dout, ref_cache)
    for got, want in zip(module.conv_backward_naive(dout, cache), wanted):
        np.testing.assert_allclose(got, want, atol=1e-12)
    out, cache = module.max_pool_forward_naive(x, pool)
    expected, ref_cache = reference.max_pool_forward_naive(x, pool)
    np.testing.assert_allclose(out, expected)
    dout = rng.standard_normal(expected.shape)
    np.testing.assert_allclose(
        module.max_pool_backward_naive(dout, cache),
        reference.max_pool_backward_naive(dout, ref_cache),
    )


def test_renamed_and_reflowed_copies_are_the_top_pair(course):
    folder, starter = course
    (folder / "ghost").mkdir()
    (folder / "broken.zip").write_bytes(b"not a zip")
    (folder / "carol" / "Notebook.ipynb").write_text("{not json")
    report = compare_folder(folder, [starter])
    pairs = report.pairs["layers.py"]
    top, rest = pairs[0], pairs[1:]
    assert (top.a, top.b) == ("alice", "bob")
    assert min(top.similarity_a, top.similarity_b) > 0.9
    assert rest and all(p.similarity < top.similarity / 2 for p in rest), [
        (p.a, p.b, round(p.similarity, 2)) for p in rest
    ]
    assert report.starter_only["layers.py"] == ["frank"], "the untouched starter matches nobody"
    assert all("frank" not in (p.a, p.b) for p in pairs)
    assert report.notes == []
    assert report.skipped["ghost"] == "the submission is empty"
    assert "cannot read the submission" in report.skipped["broken"]
    assert "not valid notebook JSON" in report.skipped["carol"]
    assert "carol" in report.texts["layers.py"], "carol's other files are still compared"


def test_without_the_starter_the_skeleton_counts_and_the_report_says_so(course):
    folder, _ = course
    report = compare_folder(folder)
    pairs = report.pairs["layers.py"]
    assert (pairs[0].a, pairs[0].b) == ("alice", "bob")
    assert any("frank" in (p.a, p.b) for p in pairs), "the skeleton alone matches everyone"
    assert any("No starter code" in note for note in report.notes)


def test_matching_regions_are_linked_across_the_pair(course):
    folder, starter = course
    report = compare_folder(folder, [starter])
    top = report.pairs["layers.py"][0]
    text_a, text_b = report.texts["layers.py"]["alice"], report.texts["layers.py"]["bob"]
    links_a, links_b = {r.link for r in top.regions_a}, {r.link for r in top.regions_b}
    assert links_a == links_b and len(links_a) >= 4

    def link_of(text, regions, snippet):
        at = text.index(snippet)
        return next(r.link for r in regions if r.start <= at < r.end)

    # the same statement, renamed, sits in regions with the same number on both sides
    assert link_of(text_a, top.regions_a, "dw[f] += window * dout[n, f, i, j]") == link_of(
        text_b, top.regions_b, "dw[k] += patch * dout[img, k, r, q]"
    )
    assert link_of(text_a, top.regions_a, "np.max(x[n, c, h0:h0 + ph, w0:w0 + pw])") == link_of(
        text_b, top.regions_b, "x[img, ch, top:top+hp, left:left+wp])"
    )
    for region in top.regions_a:
        line = text_a.count("\n", 0, region.start) + 1
        assert region.first_line == line and text_a[region.start - 1] == "\n"


def test_the_course_modules_every_student_has_are_left_out_by_default(tmp_path):
    for student, bodies in (("ann", ALICE), ("ben", CAROL)):
        package = tmp_path / "class" / student / "ie590"
        package.mkdir(parents=True)
        (package / "layers.py").write_text(layers_source(bodies))
        shutil.copyfile(COURSE_DIR / "layer_utils.py", package / "layer_utils.py")
    assert compare_folder(tmp_path / "class").pairs["layer_utils.py"] == []
    compared = compare_folder(tmp_path / "class", course_modules=False).pairs["layer_utils.py"]
    assert [(p.a, p.b) for p in compared] == [("ann", "ben")] and compared[0].similarity > 0.95
    out = tmp_path / "reports"
    command = ["similarity", str(tmp_path / "class"), "--compare-provided", "--out", str(out)]
    assert main(command) == 0
    data = json.loads((out / "similarity" / "similarity.json").read_text())
    assert [(p["a"], p["b"]) for p in data["pairs"]["layer_utils.py"]] == [("ann", "ben")]


def notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Convolutional Networks")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    return nb


STARTER_CELLS = [
    "import numpy as np\nfrom ie590.layers import *\n%matplotlib inline",
    "np.random.seed(231)\nx = np.random.randn(2, 3, 4, 4)\nw = np.random.randn(3, 3, 4, 4)\n"
    "b = np.random.randn(3,)\nconv_param = {'stride': 2, 'pad': 1}\n"
    "out, _ = conv_forward_naive(x, w, b, conv_param)\nprint('difference: ', rel_error(out, out))",
    "x_shape = (2, 3, 4, 4)\nw_shape = (3, 3, 4, 4)\n"
    "x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)\n"
    "w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)\n"
    "b = np.linspace(-0.1, 0.2, num=3)\nfor name, value in sorted(conv_param.items()):\n"
    "    print(name, value)",
]


def test_notebook_code_cells_are_compared_without_the_starter_cells(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    nbformat.write(notebook(STARTER_CELLS), tmp_path / "starter.ipynb")
    for student, bodies in (("ann", ALICE), ("ben", BOB), ("cid", CAROL), ("dot", None)):
        own = (
            [
                "def conv_forward(x, w, b, conv_param):\n"
                + "\n".join(
                    "    " + line for line in bodies["conv_forward_naive"].strip().splitlines()
                )
                + "\n    return out"
            ]
            if bodies
            else []
        )
        nbformat.write(notebook(STARTER_CELLS + own), folder / f"{student}.ipynb")
    report = compare_folder(folder, [tmp_path / "starter.ipynb"])
    pairs = report.pairs[NOTEBOOK]
    assert (pairs[0].a, pairs[0].b) == ("ann", "ben") and pairs[0].similarity > 0.8
    assert all(p.similarity < pairs[0].similarity / 2 for p in pairs[1:])
    assert report.starter_only[NOTEBOOK] == ["dot"]
    assert "# cell 4\n" in report.texts[NOTEBOOK]["ann"]
    unfiltered = compare_folder(folder).pairs[NOTEBOOK]
    assert len(unfiltered) == 6, "without the starter notebook, every pair shares its cells"
    assert any("No starter notebook" in note for note in compare_folder(folder).notes)


def test_the_report_pages_are_self_contained_and_link_both_sides(course, tmp_path):
    folder, starter = course
    index = render_similarity(compare_folder(folder, [starter]), tmp_path / "out")
    pages = sorted(index.parent.glob("*.html"))
    assert index in pages and len(pages) > 2
    for page in pages:
        tree = html5lib.parse(page.read_text(), namespaceHTMLElements=False)
        sources = [e.get(attr) for e in tree.iter() for attr in ("src", "href") if e.get(attr)]
        assert not [s for s in sources if "//" in s], f"{page.name} makes an external request"
    page = (index.parent / "layers-01.html").read_text()
    pair = html5lib.parse(page, namespaceHTMLElements=False)
    anchors = {a.get("id"): a for a in pair.iter("a") if a.get("id")}
    for side, other in (("a", "b"), ("b", "a")):
        regions = [a for anchor_id, a in anchors.items() if anchor_id.startswith(f"{side}-")]
        assert regions and all(a.get("href", "#")[1:] in anchors for a in regions)
        assert all(a.get("href").startswith(f"#{other}-") for a in regions)
    data = json.loads((index.parent / "similarity.json").read_text())
    assert data["pairs"]["layers.py"][0]["a"] == "alice"
    assert data["compared"]["layers.py"][0] == "alice"


def test_grader_similarity_command(course, tmp_path, capsys):
    folder, starter = course
    out = tmp_path / "reports"
    command = ["similarity", str(folder), "--starter", str(starter), "--out", str(out)]
    assert main([*command, "--top", "3"]) == 0
    data = json.loads((out / "similarity" / "similarity.json").read_text())
    assert len(data["pairs"]["layers.py"]) == 3 and data["pairs"]["layers.py"][0]["b"] == "bob"
    assert "index.html" in capsys.readouterr().out
    assert main(["similarity", str(folder), "--starter", str(tmp_path / "missing.py")]) == 2
    assert "missing.py does not exist" in capsys.readouterr().err
    assert main(["similarity", str(folder), "--noise", "30", "--guarantee", "20"]) == 2
    assert "guarantee" in capsys.readouterr().err


def test_grader_run_writes_the_similarity_report_beside_the_grades(tmp_path):
    folder, starter = tmp_path / "class", tmp_path / "starter.py"
    write_class(folder, starter)
    for student in ("carol", "dave", "erin", "frank"):
        shutil.rmtree(folder / student)
    out = tmp_path / "reports"
    assert (
        main(
            [
                "run",
                str(folder),
                "--only",
                "forward.conv_forward_naive.public",
                "--format",
                "json",
                "--similarity",
                "--starter",
                str(starter),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads((out / "results.json").read_text())["submissions"][0]["id"] == "alice"
    data = json.loads((out / "similarity" / "similarity.json").read_text())
    assert [(p["a"], p["b"]) for p in data["pairs"]["layers.py"]] == [("alice", "bob")]
    assert main(["run", str(folder), "--starter", str(starter), "--out", str(out)]) == 2
