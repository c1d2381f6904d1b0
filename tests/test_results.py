"""The results model: its JSON form is the documented schema, and writing it never loses a run."""

from __future__ import annotations

import json
from dataclasses import asdict

from grader.results import CheckResult, RunResult, SubmissionResult


def _run(details: dict) -> RunResult:
    check = CheckResult("forward.conv_forward_naive.public", "conv_forward_naive", "conv", "failed", 0.0, 4.0,
                        details=details)
    sub = SubmissionResult("alice", "/x/alice", "0" * 64, "graded", 0.0, 4.0, 1.5, checks=[check])
    return RunResult("0.1.0", "ConvolutionalNetworks", 7, "2026-11-27T00:00:00+00:00", submissions=[sub])


def test_json_form_is_the_dataclasses_and_round_trips(tmp_path):
    run = _run({"max_error": 0.5, "where": [0, 1], "history": {"loss": [2.3, 2.1]}})
    assert run.to_json() == asdict(run)
    run.write(tmp_path / "results.json")
    assert RunResult.read(tmp_path / "results.json") == run


def test_non_finite_numbers_become_null_instead_of_failing_the_write(tmp_path):
    run = _run({"max_error": float("nan"), "history": {"loss": [2.3, float("inf")]}})
    run.write(tmp_path / "results.json")
    details = json.loads((tmp_path / "results.json").read_text())["submissions"][0]["checks"][0]["details"]
    assert details == {"max_error": None, "history": {"loss": [2.3, None]}}


def test_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    _run({}).write(path)
    assert json.loads(path.read_text())["seed"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
