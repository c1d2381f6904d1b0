"""Options as declared data: typed, documented, defaults in one place, typos refused by name."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import pytest

from grader.assignment import Defaults, load_assignment
from grader.checks import Aspects, load_kinds, validate
from grader.errors import AssignmentError
from grader.options import option, parse


@dataclass(frozen=True)
class Example:
    rate: float = option(0.5, "a rate")
    rounds: int = option(3, "how many rounds")
    mode: Literal["a", "b"] = option("a", "which mode")
    bars: float | dict[str, float] = option(0.7, "one bar or one per source")
    table: dict[str, Any] = option({}, "free-form constructor arguments")


def test_defaults_come_from_the_declaration_and_values_are_converted():
    assert parse(Example, {}, "here") == Example()
    parsed = parse(
        Example, {"rate": 1, "bars": {"npz": 1}, "mode": "b", "table": {"dim": [3, 4]}}, "here"
    )
    assert parsed.rate == 1.0 and type(parsed.rate) is float
    assert parsed.bars == {"npz": 1.0} and type(parsed.bars["npz"]) is float
    assert parsed.mode == "b" and parsed.table == {"dim": [3, 4]}
    assert parse(Example, {}, "here").table is not parse(Example, {}, "here").table


@pytest.mark.parametrize(
    "table, says",
    [
        ({"rouns": 2}, "unknown key 'rouns'; did you mean 'rounds'?"),
        ({"zzz": 2}, "unknown key 'zzz'; valid keys: bars, mode, rate, rounds, table"),
        ({"rounds": 2.5}, "rounds must be an integer of at least 0, not 2.5 (how many rounds)"),
        ({"rounds": True}, "rounds must be an integer"),
        ({"rate": "fast"}, "rate must be a number"),
        ({"mode": "c"}, "mode must be one of 'a', 'b'"),
        (
            {"bars": {"npz": "high"}},
            "bars must be a number of at least 0 or a table of a number of at least 0",
        ),
    ],
)
def test_values_that_do_not_fit_are_refused_with_the_key_and_its_help(table, says):
    with pytest.raises(AssignmentError, match=f"^here: {_escaped(says)}"):
        parse(Example, table, "here")


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_keys_valid_elsewhere_in_the_table_are_suggested():
    with pytest.raises(AssignmentError, match="did you mean 'visibility'"):
        parse(Example, {"visiblity": "hidden"}, "here", also=("visibility",))


def test_every_declared_option_has_its_line_of_help():
    declarations = [Defaults]
    for kind in load_kinds().values():
        declared = kind.options
        declarations += list(declared.classes) if isinstance(declared, Aspects) else [declared]
    for cls in declarations:
        for field in dataclasses.fields(cls):
            assert field.metadata.get("help"), f"{cls.__name__}.{field.name} has no help"


def _builtin_with(old: str, new: str, tmp_path) -> Any:
    text = resources.files("grader.assignments").joinpath("convnets.toml").read_text()
    assert old in text
    path = tmp_path / "a.toml"
    path.write_text(text.replace(old, new, 1))
    return load_assignment(path)


@pytest.mark.parametrize(
    "old, new, says",
    [
        (
            'kind = "inputs"\nfamily = "conv"\nfunction = "forward"',
            'kind = "inputs"\nfamily = "conv"\nfunction = "fwd"',
            "function must be one of 'forward', 'backward', 'both'",
        ),
        (
            "num_epochs = 15",
            "num_epoch = 15",
            "unknown key 'num_epoch'; did you mean 'num_epochs'?",
        ),
        (
            "\nmax_coords = 6 ",
            "\nmax_coords = 6\nvisiblity = 'hidden' ",
            "did you mean 'visibility'?",
        ),
        (
            'aspect = "construction"',
            'aspect = "construction"\nh = 1e-3',
            "unknown key 'h'",
        ),  # h belongs to the gradient aspect only
        (
            'kind = "forward"\nfamily = "conv"',
            'kind = "forwad"\nfamily = "conv"',
            "must read 'forwad.",
        ),
    ],
)
def test_the_builtin_file_with_a_typo_is_refused_before_grading(tmp_path, old, new, says):
    with pytest.raises(AssignmentError, match=_escaped(says)):
        validate(_builtin_with(old, new, tmp_path))


def test_unknown_kinds_and_defaults_and_negative_points_are_refused(tmp_path):
    with pytest.raises(
        AssignmentError,
        match=(
            "kind 'speedy' is not one of backward, forward, inputs, model, notebook, speed,"
            " training"
        ),
    ):
        validate(
            _builtin_with(
                'id = "speed.conv_forward_naive.vs_course"\nname = "Naive convolution forward: not'
                ' pathologically slower than textbook loops"\nkind = "speed"',
                'id = "speedy.conv_forward_naive.vs_course"\nname = "x"\nkind = "speedy"',
                tmp_path,
            )
        )
    with pytest.raises(
        AssignmentError, match=r"\[defaults\]: unknown key 'numeric_hh'; did you mean 'numeric_h'"
    ):
        _builtin_with("numeric_h = 1e-5", "numeric_hh = 1e-5", tmp_path)
    with pytest.raises(AssignmentError, match="points must be a number of at least 0, not -1"):
        _builtin_with("points = 2", "points = -1", tmp_path)


@pytest.mark.parametrize(
    "old, new, says",
    [
        ("forward_tolerance = 1e-7", "forward_tolerance = -1e-7", "forward_tolerance must be a "
         "number of at least 0, not -1e-07"),
        ("factor = 0.05", "factor = -0.05", "factor must be a number of at least 0"),
        ("num_epochs = 15", "num_epochs = -15", "num_epochs must be an integer of at least 0"),
        ("[parts]", "[part]", "unknown top-level key 'part'; did you mean 'parts'?"),
        ('network = "required"', 'network = "needed"', "network must be one of 'required', "
         "'optional'"),
        ('network = "required"', 'netwrok = "required"', "did you mean 'network'?"),
        ("expected_tolerance = 1e-6", "expected_tolerence = 1e-6", "[cases.conv.notebook_forward]:"
         " unknown key 'expected_tolerence'; did you mean 'expected_tolerance'?"),
        ("expected_tolerance = 1e-6", "expected_tolerance = -1e-6", "expected_tolerance must be a "
         "number of at least 0"),
        ('dist = "linspace"', 'dsit = "linspace"', "x: unknown key 'dsit'; did you mean 'dist'?"),
    ],
)  # fmt: skip
def test_negative_numbers_and_misspelt_tables_are_refused(tmp_path, old, new, says):
    with pytest.raises(AssignmentError, match=_escaped(says)):
        validate(_builtin_with(old, new, tmp_path))


def test_the_builtin_assignment_fits_its_declarations():
    assignment = load_assignment()
    validate(assignment)
    kinds = load_kinds()
    gradient = next(s for s in assignment.checks if s.id == "model.FourLayerConvNet.gradient")
    opts = kinds["model"].options_of(gradient)
    assert (opts.aspect, opts.h, opts.max_coords, opts.tolerance, opts.configs) == (
        "gradient",
        1e-6,
        6,
        0.1,
        [{"input_dim": [3, 8, 8]}],
    )
    assert (
        assignment.defaults.numeric_h == 1e-5
        and assignment.defaults.tolerance("forward", False) == 1e-7
    )
    assert assignment.defaults.tolerance("backward", True) == assignment.defaults.float32_tolerance
