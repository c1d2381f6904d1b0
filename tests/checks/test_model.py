"""FourLayerConvNet model checks: the reference passes them all, each demo bug fails exactly its
own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.cases import CaseBook
from grader.checks import model
from grader.grading import GradingOptions, grade
from grader.oracle import answer
from grader.submission import load


@pytest.fixture(scope="module")
def reference_results(tmp_path_factory, grading, reference_package):
    return grading.checks(reference_package(tmp_path_factory.mktemp("ref")), "model.*")


def test_reference_passes_every_model_check(reference_results):
    assert len(reference_results) == 5
    for check in reference_results.values():
        assert check.status == "passed", (check.id, check.message)
        assert check.score == check.max_score


def test_gradient_check_explains_unreliable_coordinates_instead_of_failing(reference_results):
    case = reference_results["model.FourLayerConvNet.gradient"].details["cases"][0]
    left_out = case["coordinates_left_out"]
    assert sum(left_out.values()) > 0, "the notebook's tiny network has ReLU kinks within h"
    assert "b3" in case["note"] and "no points depend on them" in case["note"]
    assert all(e is None or e <= 0.1 for e in case["relative_errors"].values())


EXPECTED_FAILURES = {
    "model_reg_sum_bug": {"model.FourLayerConvNet.reference"},
    "model_reg_on_biases": {"model.FourLayerConvNet.reference"},
    "model_wrong_padding": {
        "model.FourLayerConvNet.construction",
        "model.FourLayerConvNet.reference",
        "model.FourLayerConvNet.gradient",
    },
    "model_w2_ignores_pool": {
        "model.FourLayerConvNet.construction",
        "model.FourLayerConvNet.loss_api",
        "model.FourLayerConvNet.initial_loss",
    },
    "slow_naive_conv": set(),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_FAILURES))
def test_demo_submission_fails_exactly_its_checks(name, grading, submissions):
    results = grading.checks(submissions / name, "model.*")
    failed = {cid for cid, c in results.items() if c.status != "passed"}
    assert failed == EXPECTED_FAILURES[name], {cid: results[cid].message for cid in failed}


HINTS = {
    "model_reg_sum_bug": ("model.FourLayerConvNet.reference", "np.sum"),
    "model_reg_on_biases": ("model.FourLayerConvNet.reference", "not to biases"),
    "model_wrong_padding": ("model.FourLayerConvNet.construction", "pad = (filter_size - 1) // 2"),
    "model_w2_ignores_pool": ("model.FourLayerConvNet.construction", "2x2 max pool"),
}


@pytest.mark.parametrize("name", sorted(HINTS))
def test_hint_names_the_bug(name, grading, submissions):
    check_id, phrase = HINTS[name]
    check = grading.checks(submissions / name, check_id)[check_id]
    assert phrase in (check.hint or ""), check.hint


def test_without_cnn_py_the_model_checks_score_zero_or_are_left_out(grading, submissions):
    """Required (the built-in files): 0 and counted; optional: left out of the maximum."""
    results = grading.checks(submissions / "layers_only.py", "model.*")
    assert {c.status for c in results.values()} == {"failed"}
    assert all(c.message.startswith("not handed in: classifiers/cnn.py") for c in results.values())
    assignment = load_assignment()
    optional = dataclasses.replace(
        assignment, parts=dataclasses.replace(assignment.parts, network="optional")
    )
    result = grade(
        load(submissions / "layers_only.py"),
        optional,
        CaseBook(optional, 11, answer),
        GradingOptions(seed=11, only=("model.*",)),
    )
    model = [c for c in result.checks if c.id.startswith("model.")]
    assert {c.status for c in model} == {"skipped"} and result.max_score == 0
    assert all("network is optional in this assignment" in c.message for c in model)


def test_construction_rejects_a_uniform_initialisation(tmp_path, grading, reference_package):
    folder = reference_package(tmp_path)
    cnn = folder / "ie590" / "classifiers" / "cnn.py"
    cnn.write_text(cnn.read_text().replace("np.random.randn(*shape)", "np.random.rand(*shape)"))
    check = grading.checks(folder, "model.*.construction")["model.FourLayerConvNet.construction"]
    assert check.status == "failed"
    assert "standard deviation" in check.message or "mean" in check.message


def test_initialisation_bounds_allow_sampling_noise_only():
    rng = np.random.RandomState(0)
    good = 1e-3 * rng.randn(4, 3, 5, 5).astype(np.float32)
    float32 = np.dtype(np.float32)
    assert model._init_problems("W1", good, float32, 1e-3, weight=True) == []
    assert model._init_problems("W1", 2 * good, float32, 1e-3, weight=True)
    assert model._init_problems("W1", good.astype(np.float64), float32, 1e-3, weight=True)
    assert model._init_problems("b1", np.ones(3, dtype=np.float32), float32, 1e-3, weight=False)
