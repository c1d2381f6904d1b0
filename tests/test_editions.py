"""The assignment's editions: the built-in cs231n assignment, choosing it, and grading by it.

A correct cs231n-edition package (the demo class's cs231n package without average pooling, with
the ThreeLayerConvNet of tests/fixtures/cs231n_edition/cnn.py) scores full marks under
`--assignment cs231n`, and each missing or wrong part loses exactly its own checks.
"""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import pytest

from grader import editions
from grader.assignment import assignment_file, builtin_assignments, load_assignment
from grader.checks import validate
from grader.cli import main
from grader.errors import AssignmentError
from grader.grading import GradingOptions
from grader.oracle import reference_model, reference_network
from grader.runner import grade_all
from grader.sandbox import Limits
from grader.submission import load

FIXTURES = Path(__file__).parent / "fixtures" / "cs231n_edition"
IE590_ONLY = ("avg_pool", "FourLayerConvNet", "notebook.")
QUICK = ("training.*", "speed.*")


@pytest.fixture(scope="module")
def cs231n() -> object:
    return load_assignment("cs231n")


@pytest.fixture
def cs231n_package(tmp_path: Path, submissions: Path) -> Path:
    """A correct cs231n-edition submission: no average pooling, a ThreeLayerConvNet."""
    folder = tmp_path / "alice"
    shutil.copytree(submissions / "cs231n_style", folder)
    layers = folder / "cs231n" / "layers.py"
    text = layers.read_text()
    start, end = (
        text.index("def avg_pool_forward_naive("),
        text.index("def spatial_batchnorm_forward("),
    )
    layers.write_text(text[:start] + text[end:])
    shutil.copy(FIXTURES / "cnn.py", folder / "cs231n" / "classifiers" / "cnn.py")
    return folder


def grade(folder: Path, assignment, skip=QUICK):
    options = GradingOptions(seed=5, limits=Limits(call_timeout_s=20.0), skip=tuple(skip))
    return grade_all([load(folder)], assignment, options, jobs=1).submissions[0]


def not_passed(result) -> set[str]:
    return {
        c.id for c in result.checks if c.status != "passed" and "--only/--skip" not in c.message
    }


# ---------------------------------------------------------------- the built-in file
def test_builtin_names_resolve_and_a_path_still_works(tmp_path, cs231n):
    assert set(builtin_assignments()) >= {"convnets", "cs231n"}
    assert cs231n.source == "builtin:cs231n"
    assert load_assignment().source == "builtin:convnets"
    copy = tmp_path / "mine.toml"
    shutil.copy(assignment_file("cs231n"), copy)
    assert load_assignment(copy).source == str(copy)
    assert load_assignment(str(copy)).checks == cs231n.checks
    with pytest.raises(AssignmentError, match="built-in assignments: .*cs231n"):
        load_assignment(tmp_path / "missing.toml")


def test_cs231n_has_no_ie590_only_part(cs231n):
    validate(cs231n)
    ids = [spec.id for spec in cs231n.checks]
    assert not [i for i in ids if any(part in i for part in IE590_ONLY)]
    assert "avg_pool" not in cs231n.cases
    assert cs231n.package_names[0] == "cs231n"
    network = {spec.target for spec in cs231n.checks if spec.kind in ("model", "training")}
    assert network == {"ThreeLayerConvNet"} == {cs231n.network.class_name}
    assert {spec.id.rsplit(".", 1)[1] for spec in cs231n.checks if spec.kind == "model"} == {
        "construction",
        "loss_api",
        "initial_loss",
        "reference",
        "gradient",
    }
    assert {spec.id for spec in cs231n.checks if spec.kind == "training"} == {
        "training.ThreeLayerConvNet.overfit",
        "training.ThreeLayerConvNet.one_epoch",
    }


def test_the_editions_share_their_layer_cases_and_checks(cs231n):
    """Every layer case and check of cs231n's edition is IE590's, unchanged."""
    ie590 = load_assignment()
    assert cs231n.defaults == ie590.defaults
    assert all(cs231n.cases[f] == ie590.cases[f] for f in cs231n.cases)
    by_id = {spec.id: spec for spec in ie590.checks}
    layer_checks = [s for s in cs231n.checks if s.kind not in ("model", "training")]
    assert layer_checks and all(by_id[s.id] == s for s in layer_checks)
    dropped = {s.id for s in ie590.checks if s.kind not in ("model", "training")} - {
        s.id for s in layer_checks
    }
    assert dropped and all("avg_pool" in i or i.startswith("notebook.") for i in dropped)


@pytest.mark.parametrize("name", ["convnets", "cs231n"])
def test_network_table_describes_the_reference_network(name):
    """The table's parameters and defaults are those of the course's class of that name."""
    network = load_assignment(name).network
    assert list(reference_model(network, {}).params) == network.params
    signature = inspect.signature(reference_network(network.class_name))
    for key, value in network.defaults.items():
        default = signature.parameters[key].default
        expected = list(default) if isinstance(default, tuple) else default
        assert (expected.__name__ if isinstance(expected, type) else expected) == value, key


def test_a_network_the_solution_lacks_is_an_assignment_error(tmp_path):
    text = (
        assignment_file("cs231n")
        .read_text()
        .replace('class_name = "ThreeLayerConvNet"', 'class_name = "TwoLayerConvNet"')
    )
    with pytest.raises(AssignmentError, match="TwoLayerConvNet"):
        reference_network(load_assignment(_written(tmp_path, text)).network.class_name)


def test_network_table_refuses_a_file_outside_the_package_and_missing_defaults(tmp_path):
    text = assignment_file("cs231n").read_text()
    with pytest.raises(AssignmentError, match="inside the package"):
        load_assignment(
            _written(tmp_path, text.replace('file = "classifiers/cnn.py"', 'file = "../cnn.py"'))
        )
    with pytest.raises(AssignmentError, match="lack num_classes"):
        load_assignment(_written(tmp_path, text.replace("num_classes = 10, ", "")))


def _written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edited.toml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------- choosing the edition
def test_assignments_command_lists_each_builtin_once(capsys):
    assert main(["assignments"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in builtin_assignments():
        listed = [line for line in lines if line.startswith(f"{name}: ")]
        assert len(listed) == 1 and str(assignment_file(name)) in listed[0].replace("\n", "")
    assert any("ThreeLayerConvNet" in line for line in lines)


def test_warning_when_every_package_is_another_editions(cs231n):
    ie590 = load_assignment()
    warning = editions.edition_warning(ie590, ["cs231n", "cs231n", None])
    assert warning and "--assignment cs231n" in warning
    assert editions.edition_warning(ie590, ["cs231n", "ie590"]) is None
    assert editions.edition_warning(ie590, ["ie590", None]) is None
    assert editions.edition_warning(ie590, [None]) is None
    assert editions.edition_warning(cs231n, ["cs231n"]) is None
    assert "--assignment convnets" in editions.edition_warning(cs231n, ["ie590"])


def test_run_names_its_assignment_and_warns_once(tmp_path, cs231n_package, capsys):
    shutil.copytree(cs231n_package, tmp_path / "class" / "alice")
    shutil.copytree(cs231n_package, tmp_path / "class" / "bob")
    argv = [
        "run",
        str(tmp_path / "class"),
        "--out",
        str(tmp_path / "out"),
        "--seed",
        "1",
        "--only",
        "forward.relu_forward.*",
        "--format",
        "json",
    ]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[1].startswith("assignment: ConvolutionalNetworks (builtin:convnets: ")
    assert err.count("--assignment cs231n") == 1
    assert main([*argv, "--assignment", "cs231n"]) == 0
    err = capsys.readouterr().err
    assert "assignment: ConvolutionalNetworks (cs231n) (builtin:cs231n: " in err
    assert "warning" not in err


def test_check_names_its_assignment(cs231n_package, capsys):
    argv = ["check", str(cs231n_package), "--assignment", "cs231n", "--only", "forward.relu_*"]
    assert main(argv) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[1]
        .startswith("assignment: ConvolutionalNetworks (cs231n) (builtin:cs231n: ")
    )


# ---------------------------------------------------------------- grading by the edition
def test_correct_cs231n_package_scores_full_marks(cs231n_package, cs231n):
    result = grade(cs231n_package, cs231n)
    assert result.status == "graded" and not_passed(result) == set()
    assert result.score == result.max_score > 0
    assert grade(cs231n_package, load_assignment()).score < result.max_score


def test_without_cnn_py_only_the_network_checks_are_lost(cs231n_package, cs231n):
    (cs231n_package / "cs231n" / "classifiers" / "cnn.py").unlink()
    result = grade(cs231n_package, cs231n, skip=("training.*", "speed.*"))
    network = {s.id for s in cs231n.checks if s.kind == "model"}
    assert not_passed(result) == network
    assert all(c.score == 0 for c in result.checks if c.id in network)


def test_a_wrong_layer_loses_exactly_its_checks(cs231n_package, cs231n):
    layers = cs231n_package / "cs231n" / "layers.py"
    layers.write_text(
        layers.read_text().replace("(patch * w[f]).sum() + b[f]", "(patch * w[f]).sum()")
    )
    result = grade(cs231n_package, cs231n)
    assert not_passed(result) == {
        "forward.conv_forward_naive.public",
        "forward.conv_forward_naive.hidden",
        "inputs.conv_forward_naive.all",  # input safety counts only for a right output
    }


def test_a_wrong_network_loses_exactly_its_checks(cs231n_package, cs231n):
    """The regularisation left out of W3's gradient: only the comparison with the reference
    (made with reg > 0) sees it."""
    cnn = cs231n_package / "cs231n" / "classifiers" / "cnn.py"
    cnn.write_text(cnn.read_text().replace('        grads["W3"] += self.reg * W3\n', ""))
    result = grade(cs231n_package, cs231n)
    assert not_passed(result) == {"model.ThreeLayerConvNet.reference"}


@pytest.mark.slow
def test_correct_cs231n_package_trains(cs231n_package, cs231n):
    """Everything, training and speed included, scores full marks (the package's own fast
    layers need the uncompiled extension, so their speed checks are skipped, not counted)."""
    result = grade(cs231n_package, cs231n, skip=())
    assert result.score == result.max_score
    assert not_passed(result) == {
        "speed.conv_forward_fast.own_fast_layers",
        "speed.max_pool_forward_fast.own_fast_layers",
    }
    assert {c.id for c in result.checks if c.status == "passed"} >= {
        "training.ThreeLayerConvNet.overfit",
        "training.ThreeLayerConvNet.one_epoch",
    }
