"""The reference's fast conv/pool layers agree with its naive layers, on both im2col backends."""

import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from reference import fast_layers, layers


@pytest.fixture(params=["cython", "numpy"])
def backend(request, monkeypatch):
    """Run a test once on the compiled im2col and once on the NumPy fallback."""
    if request.param == "cython" and not fast_layers.CYTHON_AVAILABLE:
        pytest.skip("Cython extension not built (pip install -e . builds it)")
    monkeypatch.setattr(fast_layers, "CYTHON_AVAILABLE", request.param == "cython")
    assert fast_layers.backend() == request.param
    return request.param


@pytest.fixture(params=["one tile", "tile per image"])
def products(request, monkeypatch):
    """Both extremes of tiling: the whole batch in one product, and one product per image."""
    budget = 1 << 40 if request.param == "one tile" else 1
    monkeypatch.setattr(fast_layers, "_FORWARD_TILE_BYTES", budget)
    monkeypatch.setattr(fast_layers, "_BACKWARD_TILE_BYTES", budget)
    return request.param


def conv_cases(count: int, seed: int):
    """Random valid conv shapes: stride 1-3, pad 0-2, non-square inputs and kernels, N = 1."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        hh, ww = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        # sizes with (H + 2*pad - HH) divisible by stride, as the naive layer requires
        h = max(1, hh - 2 * pad + stride * int(rng.integers(0, 5)))
        h += (-(h + 2 * pad - hh)) % stride
        w = max(1, ww - 2 * pad + stride * int(rng.integers(0, 5)))
        w += (-(w + 2 * pad - ww)) % stride
        n = 1 if i % 3 == 0 else int(rng.integers(2, 5))
        c, f = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        yield (n, c, h, w), (f, c, hh, ww), {"stride": stride, "pad": pad}


def pool_cases():
    """Tiling, overlapping, non-square and whole-input pools; N = 1 included."""
    yield (2, 3, 8, 8), {"pool_height": 2, "pool_width": 2, "stride": 2}
    yield (1, 2, 9, 9), {"pool_height": 3, "pool_width": 3, "stride": 3}
    yield (2, 2, 7, 9), {"pool_height": 3, "pool_width": 3, "stride": 2}
    yield (3, 1, 6, 7), {"pool_height": 2, "pool_width": 3, "stride": 1}
    yield (1, 3, 5, 8), {"pool_height": 5, "pool_width": 2, "stride": 3}
    yield (2, 2, 4, 6), {"pool_height": 4, "pool_width": 6, "stride": 1}
    yield (2, 2, 6, 6), {"pool_height": 2, "pool_width": 2, "stride": 4}


POOLS = ["max", "avg"]


def pool_fns(kind: str):
    return (
        getattr(layers, f"{kind}_pool_forward_naive"),
        getattr(layers, f"{kind}_pool_backward_naive"),
        getattr(fast_layers, f"{kind}_pool_forward_fast"),
        getattr(fast_layers, f"{kind}_pool_backward_fast"),
    )


@pytest.fixture
def assert_conv_matches(rel_error):
    """Asserts that the fast conv matches the naive one: outputs, gradients, shapes, dtypes."""

    def check(x, w, b, conv_param, dout_seed=0, tol=1e-9):
        out, cache = layers.conv_forward_naive(x, w, b, conv_param)
        fast_out, fast_cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
        assert fast_out.shape == out.shape and fast_out.dtype == out.dtype
        assert rel_error(out, fast_out) < tol
        dout = np.random.default_rng(dout_seed).standard_normal(out.shape)
        for name, want, got in zip(
            ("dx", "dw", "db"),
            layers.conv_backward_naive(dout, cache),
            fast_layers.conv_backward_fast(dout, fast_cache),
        ):
            assert got.shape == want.shape and got.dtype == want.dtype, name
            assert rel_error(want, got) < tol, name

    return check


def test_conv_matches_naive_on_notebook_shapes(backend, assert_conv_matches):
    rng = np.random.default_rng(123)
    x, w, b = (
        rng.standard_normal((100, 3, 31, 31)),
        rng.standard_normal((25, 3, 3, 3)),
        rng.standard_normal(25),
    )
    assert_conv_matches(x, w, b, {"stride": 2, "pad": 1})


@pytest.mark.parametrize("case", list(conv_cases(24, seed=5)), ids=str)
def test_conv_matches_naive_on_random_shapes(backend, products, case, assert_conv_matches):
    x_shape, w_shape, conv_param = case
    rng = np.random.default_rng(sum(x_shape + w_shape))
    assert_conv_matches(
        rng.standard_normal(x_shape),
        rng.standard_normal(w_shape),
        rng.standard_normal(w_shape[0]),
        conv_param,
    )


def test_conv_uneven_tiles_and_a_non_contiguous_x(backend, monkeypatch, assert_conv_matches):
    """Tiles of two or three images (7 = 2 + 2 + 3) and a Fortran-ordered x still give the naive
    answer."""
    rng = np.random.default_rng(7)
    x = np.asfortranarray(rng.standard_normal((7, 2, 6, 5)))
    w, b = rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    rows, positions = 2 * 3 * 2 + 1, 6 * 6  # C*HH*WW + the bias row; H' * W'
    budget = 3 * rows * positions * x.itemsize  # three images' columns
    assert [
        t.stop - t.start for t in fast_layers._tiles(7, rows, positions, x.itemsize, budget)
    ] == [2, 2, 3]
    monkeypatch.setattr(fast_layers, "_FORWARD_TILE_BYTES", budget)
    monkeypatch.setattr(fast_layers, "_BACKWARD_TILE_BYTES", budget)
    assert_conv_matches(x, w, b, {"stride": 1, "pad": 1})


def test_conv_forward_output_is_a_view_of_an_f_major_buffer():
    """Like the course's im2col layer; values, shape and dtype are the naive layer's (tests above).

    Each filter's outputs for the whole batch are contiguous; filters lie at least a batch apart.
    """
    rng = np.random.default_rng(8)
    x, w, b = (
        rng.standard_normal((4, 2, 5, 5)),
        rng.standard_normal((3, 2, 3, 3)),
        rng.standard_normal(3),
    )
    out, _ = fast_layers.conv_forward_fast(x, w, b, {"stride": 2, "pad": 1})
    n, _, out_h, out_w = out.shape
    item = out.itemsize
    assert out.shape == (4, 3, 3, 3) and not out.flags.c_contiguous
    assert out.strides[0] == out_h * out_w * item and out.strides[2:] == (out_w * item, item)
    assert out.strides[1] >= n * out_h * out_w * item


def test_conv_float32_stays_float32(backend, products, rel_error):
    rng = np.random.default_rng(9)
    x, w, b = (
        rng.standard_normal(s).astype(np.float32) for s in ((3, 3, 9, 8), (4, 3, 3, 2), (4,))
    )
    conv_param = {"stride": 1, "pad": 2}
    out, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    grads = fast_layers.conv_backward_fast(dout, cache)
    assert [a.dtype for a in (out,) + grads] == [np.float32] * 4
    want_out, want_cache = layers.conv_forward_naive(
        *(a.astype(np.float64) for a in (x, w, b)), conv_param
    )
    assert rel_error(want_out, out) < 1e-4
    for want, got in zip(layers.conv_backward_naive(dout.astype(np.float64), want_cache), grads):
        assert rel_error(want, got) < 1e-4


def test_conv_caches_are_interchangeable_with_naive(rel_error):
    rng = np.random.default_rng(10)
    x, w, b = (
        rng.standard_normal((2, 3, 6, 6)),
        rng.standard_normal((2, 3, 3, 3)),
        rng.standard_normal(2),
    )
    conv_param = {"stride": 1, "pad": 1}
    out, naive_cache = layers.conv_forward_naive(x, w, b, conv_param)
    _, fast_cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    for want, got in zip(
        layers.conv_backward_naive(dout, fast_cache),
        fast_layers.conv_backward_fast(dout, naive_cache),
    ):
        assert rel_error(want, got) < 1e-9


def test_inputs_are_not_modified(backend):
    rng = np.random.default_rng(11)
    x, w, b = (
        rng.standard_normal((2, 2, 6, 6)),
        rng.standard_normal((3, 2, 3, 3)),
        rng.standard_normal(3),
    )
    dout = rng.standard_normal((2, 3, 6, 6))
    originals = [a.copy() for a in (x, w, b, dout)]
    fast_layers.conv_backward_fast(
        dout, fast_layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})[1]
    )
    for kind in POOLS:
        _, _, forward, backward = pool_fns(kind)
        for stride in (1, 2):  # overlapping, tiling
            out, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": stride})
            pool_dout = np.ones_like(out)
            backward(pool_dout, cache)
            assert np.all(pool_dout == 1)
    for before, after in zip(originals, (x, w, b, dout)):
        assert np.array_equal(before, after)


@pytest.mark.parametrize("kind", POOLS)
def test_pool_matches_naive_on_notebook_shapes(backend, kind, rel_error):
    naive_fwd, naive_bwd, fast_fwd, fast_bwd = pool_fns(kind)
    rng = np.random.default_rng(123)
    x, dout = rng.standard_normal((100, 3, 32, 32)), rng.standard_normal((100, 3, 16, 16))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = naive_fwd(x, pool_param)
    fast_out, fast_cache = fast_fwd(x, pool_param)
    assert rel_error(out, fast_out) < 1e-12
    assert rel_error(naive_bwd(dout, cache), fast_bwd(dout, fast_cache)) < 1e-12


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("case", list(pool_cases()), ids=str)
def test_pool_matches_naive_on_general_shapes(backend, kind, case, rel_error):
    naive_fwd, naive_bwd, fast_fwd, fast_bwd = pool_fns(kind)
    x_shape, pool_param = case
    rng = np.random.default_rng(sum(x_shape))
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        x = rng.standard_normal(x_shape).astype(dtype)
        out, cache = naive_fwd(x, pool_param)
        fast_out, fast_cache = fast_fwd(x, pool_param)
        assert fast_out.shape == out.shape and fast_out.dtype == out.dtype == dtype
        assert rel_error(out, fast_out) < tol
        dout = rng.standard_normal(out.shape).astype(dtype)
        dx, fast_dx = naive_bwd(dout, cache), fast_bwd(dout, fast_cache)
        assert fast_dx.shape == x.shape and fast_dx.dtype == dx.dtype
        assert rel_error(dx, fast_dx) < tol


@pytest.mark.parametrize(
    "pool_param",
    [
        {"pool_height": 2, "pool_width": 2, "stride": 2},
        {"pool_height": 3, "pool_width": 2, "stride": 1},
    ],
)
def test_max_pool_ties_route_each_window_gradient_to_one_maximum(backend, pool_param):
    rng = np.random.default_rng(12)
    x = rng.integers(0, 2, size=(2, 3, 8, 6)).astype(np.float64)  # many tied maxima
    out, cache = fast_layers.max_pool_forward_fast(x, pool_param)
    dout = rng.uniform(1, 2, size=out.shape)
    dx = fast_layers.max_pool_backward_fast(dout, cache)
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    routed = np.zeros_like(dx)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = (
                slice(None),
                slice(None),
                slice(i * stride, i * stride + ph),
                slice(j * stride, j * stride + pw),
            )
            maxima = x[window] == out[:, :, i : i + 1, j : j + 1]
            winners = np.argmax(maxima.reshape(maxima.shape[:2] + (-1,)), axis=2)
            one_hot = (np.arange(ph * pw) == winners[..., None]).reshape(maxima.shape)
            assert np.all(maxima[one_hot])
            routed[window] += one_hot * dout[:, :, i : i + 1, j : j + 1]
    np.testing.assert_allclose(dx, routed, rtol=1e-12)
    np.testing.assert_allclose(dx, layers.max_pool_backward_naive(dout, cache), rtol=1e-12)


BAD_CONV = [
    ((2, 3, 6, 6), (2, 3, 3, 3), (2,), {"stride": 2, "pad": 0}),
    ((2, 3, 5, 6), (2, 3, 3, 3), (2,), {"stride": 2, "pad": 1}),
    ((2, 3, 2, 2), (2, 3, 5, 5), (2,), {"stride": 1, "pad": 0}),
    ((2, 3, 5, 5), (2, 4, 3, 3), (2,), {"stride": 1, "pad": 1}),
    ((2, 3, 5, 5), (2, 3, 3, 3), (3,), {"stride": 1, "pad": 1}),
    ((2, 3, 5, 5), (2, 3, 3, 3), (2,), {"stride": 0, "pad": 1}),
    ((2, 3, 5, 5), (2, 3, 3, 3), (2,), {"stride": 1}),
    ((3, 5, 5), (2, 3, 3, 3), (2,), {"stride": 1, "pad": 1}),
]
BAD_POOL = [
    ((2, 3, 5, 5), {"pool_height": 2, "pool_width": 2, "stride": 2}),
    ((2, 3, 4, 4), {"pool_height": 5, "pool_width": 2, "stride": 1}),
    ((2, 3, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 1.5}),
    ((2, 3, 4, 4), {"pool_height": 2, "stride": 2}),
    ((2, 3, 4, 4), [2, 2, 2]),
]


def naive_error(fn, *args) -> str:
    with pytest.raises(ValueError) as naive:
        fn(*args)
    return str(naive.value)


@pytest.mark.parametrize("case", BAD_CONV, ids=str)
def test_conv_rejects_what_naive_rejects_with_the_same_message(case):
    x_shape, w_shape, b_shape, conv_param = case
    x, w, b = np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape)
    message = naive_error(layers.conv_forward_naive, x, w, b, conv_param)
    with pytest.raises(ValueError) as fast:
        fast_layers.conv_forward_fast(x, w, b, conv_param)
    assert str(fast.value) == message


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("case", BAD_POOL, ids=str)
def test_pool_rejects_what_naive_rejects_with_the_same_message(kind, case):
    naive_fwd, _, fast_fwd, _ = pool_fns(kind)
    x = np.zeros(case[0])
    message = naive_error(naive_fwd, x, case[1])
    with pytest.raises(ValueError) as fast:
        fast_fwd(x, case[1])
    assert str(fast.value) == message


def test_backward_rejects_a_dout_of_the_wrong_shape():
    x, w, b = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4)
    _, cache = fast_layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 5, 5\)"):
        fast_layers.conv_backward_fast(np.zeros((2, 4, 3, 3)), cache)
    _, cache = fast_layers.max_pool_forward_fast(
        np.zeros((2, 3, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 2}
    )
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 2, 2\)"):
        fast_layers.max_pool_backward_fast(np.zeros((2, 3, 4, 4)), cache)


def test_forked_child_computes_after_the_parent_did():
    """The grader's sandboxes fork from a process that may have run the layers (and BLAS)."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    rng = np.random.default_rng(13)
    x, w, b = (
        rng.standard_normal((4, 2, 5, 5)),
        rng.standard_normal((3, 2, 3, 3)),
        rng.standard_normal(3),
    )
    want, _ = fast_layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    pid = os.fork()
    if pid == 0:  # child: exit code says whether the answer came back and matched
        got, _ = fast_layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
        os._exit(0 if np.array_equal(want, got) else 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung in conv_forward_fast")


IMPORT_CHECK = textwrap.dedent("""
    import numpy as np
    from {package} import fast_layers
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    w, b = np.ones((2, 3, 3, 3)), np.zeros(2)
    out, cache = fast_layers.conv_forward_fast(x, w, b, {{"stride": 1, "pad": 1}})
    fast_layers.conv_backward_fast(np.ones_like(out), cache)
    print(fast_layers.backend(), fast_layers.CYTHON_AVAILABLE)
""")


@pytest.mark.parametrize("package, with_extension", [("ie590", False), ("cs231n", True)])
def test_copied_into_a_student_package(tmp_path, package, with_extension):
    """The grader copies these files into a student's package: the fallback and the extension both
    import there."""
    extensions = list(os.scandir(os.path.dirname(fast_layers.__file__)))
    compiled = [
        e.path
        for e in extensions
        if e.name.startswith("im2col_cython") and e.name.endswith((".so", ".pyd"))
    ]
    if with_extension and not compiled:
        pytest.skip("Cython extension not built")
    target = tmp_path / package
    target.mkdir()
    (target / "__init__.py").write_text("")
    for name in ("fast_layers.py", "im2col.py"):
        shutil.copy(os.path.join(os.path.dirname(fast_layers.__file__), name), target / name)
    if with_extension:
        shutil.copy(compiled[0], target)
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK.format(package=package)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == (["cython", "True"] if with_extension else ["numpy", "False"])
