"""Behaviour of grader.sandbox with well-behaved student code, in every isolation mode.

Set SANDBOX_TEST_PYTHON to an interpreter with numpy (e.g. the course's Python 3.8 / NumPy 1.24)
to run the student side under it.
"""

import os
import sys
import textwrap

import numpy as np
import pytest

from grader.errors import SandboxSetupError
from grader.sandbox import Limits, Opaque, Sandbox
from grader.sandbox.isolation import works
from grader.sandbox.steps import Program, call, copy_of, names, numeric, ref, ret, set_, timed

PYTHON = os.environ.get("SANDBOX_TEST_PYTHON") or sys.executable

PACKAGE = {
    "mypkg/__init__.py": "",
    "mypkg/util.py": """
        def scale(x, k):
            return k * x
    """,
    "mypkg/layers.py": """
        import numpy as np
        from .util import scale

        class Box:
            def __init__(self):
                self.params = {"W1": np.zeros(2)}
                self.size = 1

            def total(self):
                return float(self.params["W1"].sum()) + self.size

            @property
            def broken(self):
                raise KeyError("W9")

        class MyList(list):
            pass

        class LyingArray(np.ndarray):
            def __eq__(self, other):
                return True

            @property
            def __class__(self):
                return np.ndarray

        def double(x):
            return scale(x, 2)

        def identity(*values):
            return values if len(values) != 1 else values[0]

        def pair(x):
            return (x, [x, x.shape])

        def square_sum(x):
            return float((x ** 2).sum()), "cache"

        def squares(x):
            return x ** 2

        def in_place(x):
            x *= 3
            print("tripled", x.shape)

        def specials():
            return [float("nan"), float("inf"), -np.inf, np.float32("nan"), 1 + 2j, np.int16(7),
                    np.bool_(True), None, "text"]

        def opaques():
            return (MyList([1, 2]), np.arange(3).view(LyingArray), np.array([1, "a"], dtype=object),
                    {1, 2}, Box(), np.ma.masked_array([1, 2], mask=[0, 1]))

        def fail(x):
            raise ValueError("bad shape " + str(x.shape))
    """,
}


def write_package(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def isolation_modes():
    return [
        pytest.param(
            "bwrap",
            marks=pytest.mark.skipif(not works("bwrap", PYTHON), reason="bwrap is not usable here"),
        ),
        "none",
    ]


@pytest.fixture(scope="module", params=isolation_modes())
def sandbox(request, tmp_path_factory):
    files = write_package(tmp_path_factory.mktemp("submission"), PACKAGE)
    with Sandbox(
        files, isolation=request.param, limits=Limits(call_timeout_s=20), python=PYTHON
    ) as box:
        yield box


def layer(func, *args):
    """A call of mypkg.layers.`func` whose result is kept as "out"."""
    return call(f"mypkg.layers:{func}", *args, as_="out")


RETURN_OUT = ret(out=ref("out"))


def run(sandbox, *steps, **arrays):
    return sandbox.run(Program(steps, arrays))


def test_package_with_relative_import_runs(sandbox):
    reply = run(sandbox, layer("double", ref("x")), RETURN_OUT, x=np.arange(4.0))
    assert reply.ok, reply.error
    np.testing.assert_array_equal(reply.values["out"], np.arange(4.0) * 2)


@pytest.mark.parametrize(
    "array",
    [
        np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        np.arange(24, dtype=np.float64).reshape(2, 3, 4).transpose(2, 0, 1),
        np.array([-3, 5], dtype=np.int8),
        np.array([[7]], dtype=np.uint16),
        np.array([True, False]),
        np.array([1 + 2j, -1j]),
        np.array(2.5),
        np.zeros((0, 3)),
    ],
    ids=lambda a: f"{a.dtype}{a.shape}",
)
def test_arrays_round_trip_exactly(sandbox, array):
    reply = run(sandbox, layer("identity", ref("x")), RETURN_OUT, x=array)
    assert reply.ok, reply.error
    out = reply.values["out"]
    assert type(out) is np.ndarray and out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)


def test_tuples_and_lists_stay_distinct(sandbox):
    reply = run(sandbox, layer("pair", ref("x")), RETURN_OUT, x=np.ones((2, 1)))
    out = reply.values["out"]
    assert type(out) is tuple and type(out[1]) is list and type(out[1][1]) is tuple
    assert out[1][1] == (2, 1)


def test_special_floats_and_numpy_scalars(sandbox):
    out = run(sandbox, layer("specials"), RETURN_OUT).values["out"]
    assert np.isnan(out[0]) and out[1] == np.inf and out[2] == -np.inf and np.isnan(out[3])
    assert out[4] == 1 + 2j and out[5] == 7 and type(out[5]) is int
    assert out[6] is True and out[7] is None and out[8] == "text"


def test_non_plain_values_come_back_opaque(sandbox):
    reply = run(sandbox, layer("opaques"), RETURN_OUT)
    assert reply.ok, reply.error
    out = reply.values["out"]
    assert all(type(v) is Opaque for v in out)
    names_ = [v.type_name for v in out]
    assert names_[:2] == ["MyList(list subclass)", "LyingArray(ndarray subclass)"]
    assert names_[2] == "ndarray[object]" and names_[3] == "set" and names_[4] == "Box"
    assert names_[5] == "MaskedArray"
    assert "shape=(3,)" in out[1].summary


def test_numeric_perturbs_each_coordinate(sandbox):
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    coords = [[0, 1], [1, 0]]
    step = numeric(call("mypkg.layers:squares", ref("x")), wrt=0, coords=coords, h=1e-3, as_="num")
    reply = run(sandbox, step, ret(num=ref("num")), x=x)
    assert reply.ok, reply.error
    num = reply.values["num"]
    assert num.shape == (2, 2, 2, 2) and num.dtype == np.float64
    for k, (i, j) in enumerate(coords):
        plus, minus = x.copy(), x.copy()
        plus[i, j] += 1e-3
        minus[i, j] -= 1e-3
        np.testing.assert_allclose(num[k, 0], plus**2)
        np.testing.assert_allclose(num[k, 1], minus**2)


def test_numeric_of_a_scalar_output_with_path(sandbox):
    x = np.array([1.0, 2.0, 3.0])
    step = numeric(
        call("mypkg.layers:square_sum", ref("x")),
        wrt=0,
        coords=[[2]],
        h=1e-5,
        output=(0,),
        as_="num",
    )
    num = run(sandbox, step, ret(num=ref("num")), x=x).values["num"]
    assert num.shape == (1, 2)
    np.testing.assert_allclose((num[0, 0] - num[0, 1]) / 2e-5, 2 * x[2], rtol=1e-6)


def test_numeric_rejects_non_numeric_output(sandbox):
    step = numeric(
        call("mypkg.layers:square_sum", ref("x")),
        wrt=0,
        coords=[[0]],
        h=1e-5,
        output=(1,),
        as_="num",
    )
    reply = run(sandbox, step, ret(), x=np.ones(2))
    assert reply.error.kind == "exception" and "not a numeric ndarray" in reply.error.message


def test_time_returns_one_duration_per_repeat(sandbox):
    step = timed(call("mypkg.layers:in_place", ref("x")), repeat=4, as_="t")
    reply = run(sandbox, step, ret(t=ref("t"), x=ref("x")), x=np.ones(3))
    assert reply.ok, reply.error
    assert len(reply.values["t"]) == 4 and all(d >= 0 for d in reply.values["t"])
    np.testing.assert_array_equal(reply.values["x"], np.ones(3))  # timed on fresh copies


def test_in_place_modification_of_inputs_is_visible(sandbox):
    reply = run(sandbox, layer("in_place", ref("x")), ret(x=ref("x")), x=np.ones(3))
    np.testing.assert_array_equal(reply.values["x"], np.full(3, 3.0))
    assert "tripled (3,)" in reply.stdout


def test_copy_protects_the_original(sandbox):
    reply = run(sandbox, layer("in_place", copy_of(ref("x"))), ret(x=ref("x")), x=np.ones(3))
    np.testing.assert_array_equal(reply.values["x"], np.ones(3))


def test_values_stored_across_steps_and_set(sandbox):
    reply = run(
        sandbox,
        call("mypkg.layers:Box", as_="box"),
        set_(ref("box", "params", "W1"), ref("w")),
        set_(ref("box")["size"], 10),
        call(ref("box", "total"), as_="total"),
        ret(total=ref("total"), w1=ref("box", "params", "W1")),
        w=np.array([1.0, 2.0]),
    )
    assert reply.ok, reply.error
    assert reply.values["total"] == 13.0
    np.testing.assert_array_equal(reply.values["w1"], [1.0, 2.0])


def test_names_lists_public_callables(sandbox):
    reply = run(sandbox, names("mypkg.layers", as_="n"), ret(n=ref("n")))
    assert {"double", "in_place", "Box"} <= set(reply.values["n"])
    assert "scale" in reply.values["n"] and "np" not in reply.values["n"]


def test_missing_module_is_an_exception(sandbox):
    reply = run(sandbox, names("mypkg.nothing", as_="n"), ret())
    assert reply.error.kind == "exception" and "ModuleNotFoundError" in reply.error.message


def test_exception_names_the_step_and_keeps_student_frames(sandbox):
    reply = run(sandbox, layer("fail", ref("x")), RETURN_OUT, x=np.ones((2, 5)))
    assert not reply.ok and reply.values == {}
    assert reply.error.kind == "exception"
    assert reply.error.message == "in fail: ValueError: bad shape (2, 5)"
    assert "layers.py" in reply.error.traceback and "server.py" not in reply.error.traceback


def test_errors_in_method_calls_and_return_paths_name_the_step(sandbox):
    make = call("mypkg.layers:Box", as_="box")
    reply = run(sandbox, make, call(ref("box", "total"), 1, as_="t"), ret())
    assert reply.error.message.startswith("in total: TypeError:")
    reply = run(sandbox, make, ret(b=ref("box", "broken")))
    assert reply.error.kind == "exception" and reply.error.message == "in return: KeyError: 'W9'"


@pytest.mark.parametrize("mode", isolation_modes())
def test_unusable_interpreter_is_a_setup_error(tmp_path, mode):
    with pytest.raises(SandboxSetupError, match="cannot|did not start"):
        Sandbox(tmp_path, isolation=mode, python=str(tmp_path / "no-python"))


def test_submission_must_be_a_directory(tmp_path):
    with pytest.raises(ValueError, match="must be a directory"):
        Sandbox(tmp_path / "missing.zip")


def test_symlinks_and_caches_are_not_copied(tmp_path):
    files = write_package(tmp_path / "sub", PACKAGE)
    (files / "mypkg" / "__pycache__").mkdir()
    (files / "mypkg" / "__pycache__" / "layers.cpython-311.pyc").write_bytes(b"stale")
    (files / "leak").symlink_to(__file__)
    os.mkfifo(files / "pipe")
    with Sandbox(files, isolation="none") as box:
        assert not (box.workspace / "leak").exists() and not (box.workspace / "pipe").exists()
        assert not (box.workspace / "mypkg" / "__pycache__").exists()
        assert (box.workspace / "mypkg" / "layers.py").is_file()
