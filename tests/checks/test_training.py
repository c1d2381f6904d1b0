"""Training checks: the course's Solver in the sandbox, accuracies measured by the grader."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from grader import cli
from grader.data import parse_source, training_data
from grader.errors import AssignmentError, DataError, GraderError
from grader.assignment import load_assignment
from grader.cases import CaseBook
from grader.grading import GradingOptions, grade
from grader.oracle import answer
from grader.submission import load


OVERFIT, ONE_EPOCH = "training.FourLayerConvNet.overfit", "training.FourLayerConvNet.one_epoch"


@pytest.fixture(scope="module")
def reference_results(tmp_path_factory, grading, reference_package):
    return grading.checks(reference_package(tmp_path_factory.mktemp("ref")), "training.*")


def test_reference_passes_both_training_checks(reference_results):
    for cid in (OVERFIT, ONE_EPOCH):
        assert reference_results[cid].status == "passed", reference_results[cid].message
    overfit = reference_results[OVERFIT].details["runs"][0]
    assert overfit["train_acc"] >= 0.7 and overfit["train_acc"] - overfit["val_acc"] >= 0.2
    assert "reference model" in overfit["evaluated_by"]


def test_details_keep_histories_and_first_layer_filters(reference_results):
    details = reference_results[OVERFIT].details
    history = details["history"]
    assert len(history["loss"]) == 30  # 100 images, batch 50, 15 epochs
    assert len(history["train_acc"]) == len(history["val_acc"]) == 16
    assert np.array(details["first_layer_filters"]).shape == (32, 3, 7, 7)
    json.dumps(details, allow_nan=False)


def test_one_epoch_is_judged_against_the_reference_run(reference_results):
    details = reference_results[ONE_EPOCH].details
    assert details["reference"]["train_acc"] > 0.2
    assert "of the reference's" in details["bar"]


def test_crashing_model_errors_without_a_second_run(grading, submissions):
    results = grading.checks(submissions / "model_w2_ignores_pool", "training.*")
    for cid in (OVERFIT, ONE_EPOCH):
        assert results[cid].status == "error"
        assert "Solver failed" in results[cid].message
        assert len(results[cid].details["runs"]) == 1


def test_reg_sum_bug_breaks_training_and_a_second_seed_confirms_it(grading, submissions):
    results = grading.checks(submissions / "model_reg_sum_bug", f"{ONE_EPOCH}")
    check = results[ONE_EPOCH]
    assert check.status == "failed"
    assert [r["seed"] for r in check.details["runs"]] == [11, 12]
    assert "a second run with another seed agreed" in check.message


def test_nonstandard_shapes_are_evaluated_with_the_submission_model(grading, submissions):
    check = grading.checks(submissions / "model_wrong_padding", OVERFIT)[OVERFIT]
    assert check.status == "passed", check.message
    assert "submission's model" in check.details["runs"][0]["evaluated_by"]


def test_bad_data_values_give_clear_errors(tmp_path):
    with pytest.raises(DataError, match="not understood"):
        parse_source("imagenet")
    with pytest.raises(DataError, match="no such file"):
        parse_source(f"npz:{tmp_path / 'missing.npz'}")
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        parse_source(f"cifar10:{tmp_path}")
    with pytest.raises(DataError):
        GradingOptions(seed=1, data="cifar10:")
    assert issubclass(DataError, GraderError) and not issubclass(DataError, AssignmentError)
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((3, 32, 32, 3), np.uint8))
    with pytest.raises(DataError, match="expected arrays 'x' and 'y'"):
        training_data(parse_source(f"npz:{bad}"), 2, 1)


def test_cli_exits_2_on_a_bad_data_value(capsys, submissions):
    code = cli.main(
        ["check", str(submissions / "model_reg_sum_bug"), "--data", "cifar10:/nonexistent"]
    )
    assert code == 2
    assert "cifar-10-batches-py" in capsys.readouterr().err


def test_npz_data_is_split_and_centred(tmp_path):
    rng = np.random.RandomState(0)
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        x=rng.randint(0, 256, size=(30, 32, 32, 3)).astype(np.uint8),
        y=rng.randint(0, 10, size=30),
    )
    data = training_data(parse_source(f"npz:{path}"), 100, 10)
    assert data["X_train"].shape == (20, 3, 32, 32) and data["X_val"].shape == (10, 3, 32, 32)
    assert data["X_train"].dtype == np.float32
    assert abs(float(data["X_train"].mean())) < 1e-3


def test_reference_overfits_natural_photos(tmp_path, natural10, reference_package):
    assignment = load_assignment()
    options = GradingOptions(seed=5, only=(OVERFIT,), data=f"npz:{natural10}")
    result = grade(
        load(reference_package(tmp_path)), assignment, CaseBook(assignment, 5, answer), options
    )
    check = next(c for c in result.checks if c.id == OVERFIT)
    assert check.status == "passed", check.message
    assert check.details["data"].startswith("npz:")


def test_cifar10_batches_are_read_as_far_as_needed(tmp_path):
    import pickle

    rng = np.random.RandomState(1)
    for i in (1, 2):
        batch = {
            b"data": rng.randint(0, 256, size=(40, 3072)).astype(np.uint8),
            b"labels": list(rng.randint(0, 10, size=40)),
        }
        (tmp_path / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    data = training_data(parse_source(f"cifar10:{tmp_path}"), 50, 20)
    assert data["X_train"].shape == (50, 3, 32, 32) and data["y_val"].shape == (20,)
    (tmp_path / "data_batch_1").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_1"):
        training_data(parse_source(f"cifar10:{tmp_path}"), 51, 20)


def test_training_that_cannot_finish_in_its_budget_says_it_is_slowness(tmp_path, reference_package):
    assignment = load_assignment()
    checks = tuple(
        dataclasses.replace(s, options={**s.options, "time_limit": 0.5}) if s.id == OVERFIT else s
        for s in assignment.checks
    )
    slow_budget = dataclasses.replace(assignment, checks=checks)
    result = grade(
        load(reference_package(tmp_path)),
        slow_budget,
        CaseBook(slow_budget, 11, answer),
        GradingOptions(seed=11, only=(OVERFIT,)),
    )
    check = next(c for c in result.checks if c.id == OVERFIT)
    assert check.status == "timeout" and check.score == 0
    assert "did not finish within its budget" in check.message
    assert "slowness, not a wrong answer" in check.message
