"""The results model: its JSON form is the documented schema, and writing it never loses a run."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import pytest

from grader.results import CheckResult, RunResult, SubmissionResult


def _run(details: dict) -> RunResult:
    check = CheckResult(
        "forward.conv_forward_naive.public",
        "conv_forward_naive",
        "conv",
        "failed",
        0.0,
        4.0,
        details=details,
    )
    sub = SubmissionResult("alice", "/x/alice", "0" * 64, "graded", 0.0, 4.0, 1.5, checks=[check])
    return RunResult(
        "0.1.0", "ConvolutionalNetworks", 7, "2026-11-27T00:00:00+00:00", submissions=[sub]
    )


def test_json_form_is_the_dataclasses_and_round_trips(tmp_path):
    run = _run({"max_error": 0.5, "where": [0, 1], "history": {"loss": [2.3, 2.1]}})
    assert run.to_json() == asdict(run)
    run.write(tmp_path / "results.json")
    assert RunResult.read(tmp_path / "results.json") == run


def test_non_finite_numbers_become_null_instead_of_failing_the_write(tmp_path):
    run = _run({"max_error": float("nan"), "history": {"loss": [2.3, float("inf")]}})
    run.write(tmp_path / "results.json")
    details = json.loads((tmp_path / "results.json").read_text())["submissions"][0]["checks"][0][
        "details"
    ]
    assert details == {"max_error": None, "history": {"loss": [2.3, None]}}


def test_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    _run({}).write(path)
    assert json.loads(path.read_text())["seed"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_written_files_get_the_usual_mode_not_a_private_one(tmp_path):
    """Report folders are published: files are 0666 less the umask (0644 under umask 022)."""
    import os
    import stat

    from grader.results import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "page.html", "<p>hi</p>")
        _run({}).write(tmp_path / "results.json")
    finally:
        os.umask(old)
    for name in ("page.html", "results.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


@pytest.mark.parametrize(
    "content, says",
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        ('{"submissions": []}', "'grader_version' is a required property"),
        ("[1, 2]", "is not of type 'object'"),
        (
            (
                '{"grader_version": "1", "assignment": "A", "seed": 1, "created": "x",'
                ' "submissions": [{"id": "a"}]}'
            ),
            "at submissions/0, 'path' is a required property",
        ),
        (
            (
                '{"grader_version": "1", "assignment": "A", "seed": 1, "created": "x",'
                ' "submissions": [], "schema_version": 99}'
            ),
            "newer grader",
        ),
    ],
)
def test_a_file_that_is_not_results_gets_a_plain_reason(tmp_path, content, says):
    from grader.errors import ResultsFileError

    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ResultsFileError, match=re.escape(says)):
        RunResult.read(path)
