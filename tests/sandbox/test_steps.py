"""Programs built in the parent: the exact format the server reads, and grader bugs caught early."""

from __future__ import annotations

import numpy as np
import pytest

from grader.errors import ProgramError
from grader.sandbox import steps
from grader.sandbox.steps import Program, call, copy_of, names, numeric, ref, ret, set_, timed


def test_programs_produce_the_servers_format():
    program = Program(
        [
            call("copy:deepcopy", {"mode": "train"}, as_="bn_param"),
            call("m.layers:forward", ref("x"), ref("bn_param"), kwargs={"k": (1, 2)}, as_="fwd"),
            set_(ref("bn_param", "mode"), "test"),
            call(ref("fwd", 1, "method")),
            numeric(
                call("m:f", copy_of(ref("x"))),
                wrt=0,
                coords=ref("c"),
                h=1e-5,
                output=(0,),
                as_="num",
            ),
            timed(call("m:f", ref("x")), repeat=2, as_="t"),
            names("m.layers", as_="n"),
            ret(out=ref("fwd", 0), t=ref("t")),
        ],
        {"x": np.ones(2), "c": np.zeros((1, 1), dtype=np.int64)},
    )
    assert program.to_json() == [
        {"call": "copy:deepcopy", "args": [{"mode": "train"}], "kwargs": {}, "as": "bn_param"},
        {
            "call": "m.layers:forward",
            "args": [{"@": "x"}, {"@": "bn_param"}],
            "kwargs": {"k": [1, 2]},
            "as": "fwd",
        },
        {"set": {"@": "bn_param", "path": ["mode"]}, "value": "test"},
        {"call": {"@": "fwd", "path": [1, "method"]}, "args": [], "kwargs": {}},
        {
            "numeric": {
                "call": "m:f",
                "args": [{"copy": {"@": "x"}}],
                "kwargs": {},
                "wrt": 0,
                "coords": {"@": "c"},
                "h": 1e-5,
                "output": [0],
            },
            "as": "num",
        },
        {"time": {"call": "m:f", "args": [{"@": "x"}], "kwargs": {}}, "repeat": 2, "as": "t"},
        {"getattr_names": "m.layers", "as": "n"},
        {"return": {"out": {"@": "fwd", "path": [0]}, "t": {"@": "t"}}},
    ]


def test_a_ref_is_followed_by_indexing():
    assert ref("model")["params"]["W1"] == ref("model", "params", "W1")


def test_misspelt_steps_and_options_fail_where_the_program_is_written():
    with pytest.raises(AttributeError):
        steps.cal("m:f")  # noqa: B018 - the misspelling is the test
    with pytest.raises(TypeError):
        call("m:f", as_name="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        timed(call("m:f"), as_="t", repeats=3)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "build, says",
    [
        (lambda: Program([ret(a=ref("nope"))]), "undefined name 'nope'"),
        (lambda: Program([call("m:f", as_="a"), call("m:g", ref("b"))]), "undefined name 'b'"),
        (lambda: Program([ret(), call("m:f")]), "must be the last step"),
        (lambda: Program([]), "at least one step"),
        (lambda: Program([call("m:f", object())]), "not plain JSON"),
        (lambda: Program([call("m:f", float("nan"))]), "not plain JSON"),
        (lambda: Program([ret()], {"x": np.array(["a"])}), "numeric numpy.ndarray"),
        (lambda: Program([call("m:f", np.ones(2))]), "named inputs"),
        (lambda: call("f"), "not 'module:attribute'"),
        (lambda: call(":f"), "not 'module:attribute'"),
        (lambda: call(3), "module:attr"),
        (lambda: set_(ref("box"), 1), "with a path"),
        (lambda: timed(call("m:f"), repeat=0, as_="t"), "positive repeat"),
        (lambda: Program([call("m:f", {"@": "x"})]), "would read as a reference"),
        (lambda: Program([call("m:f", {"copy": 1})]), "would read as a reference or a copy"),
    ],
)
def test_grader_bugs_are_refused_when_the_program_is_built(build, says):
    with pytest.raises(ProgramError, match=says):
        build()


def test_names_defined_by_earlier_steps_and_inputs_may_be_used():
    program = Program(
        [call("m:f", ref("x"), as_="a"), call(ref("a", "g"), as_="b"), ret(b=ref("b"))],
        {"x": np.zeros(1)},
    )
    assert len(program.to_json()) == 3
