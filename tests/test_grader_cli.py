"""The command line: exit codes, results.json schema, check selection, reports on disk."""

from __future__ import annotations

import json
import shutil

import pytest

from grader.cli import main
from tests.grading_helpers import SUBMISSIONS

QUICK = ["--only", "forward.conv_forward_naive.*", "--only", "backward.conv_backward_naive.public", "--timeout", "20"]


@pytest.fixture
def small_class(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("correct_folder", "bug_conv_no_bias"):
        shutil.copytree(SUBMISSIONS / name, folder / name)
    (folder / "empty").mkdir()
    return folder


def test_run_writes_results_json_with_the_documented_schema(small_class, tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["run", str(small_class), "--out", str(out), "--seed", "42", "--format", "json", *QUICK]) == 0
    data = json.loads((out / "results.json").read_text())
    assert {"grader_version", "assignment", "seed", "created", "submissions"} <= set(data)
    assert data["seed"] == 42
    subs = {s["id"]: s for s in data["submissions"]}
    assert set(subs) == {"correct_folder", "bug_conv_no_bias", "empty"}
    for sub in subs.values():
        assert {"id", "path", "sha256", "status", "error", "score", "max_score", "duration_s", "checks"} <= set(sub)
        for check in sub["checks"]:
            assert {"id", "target", "name", "status", "score", "max_score", "visibility", "message", "hint", "details"} <= set(check)
    assert subs["empty"]["status"] == "error" and subs["empty"]["score"] == 0 and "empty" in subs["empty"]["error"]
    correct = subs["correct_folder"]
    assert correct["score"] == correct["max_score"] == 4 + 6 + 6
    skipped = [c for c in correct["checks"] if c["status"] == "skipped"]
    assert skipped and all("--only" in c["message"] for c in skipped)
    assert subs["bug_conv_no_bias"]["score"] == 6
    assert "bug_conv_no_bias" in capsys.readouterr().out


def test_the_seed_is_fresh_by_default_and_recorded(small_class, tmp_path):
    seeds = set()
    for run in range(2):
        out = tmp_path / f"r{run}"
        main(["run", str(small_class), "--out", str(out), "--format", "json", "--only", "forward.relu_forward.*"])
        seeds.add(json.loads((out / "results.json").read_text())["seed"])
    assert len(seeds) == 2


def test_check_exit_codes(tmp_path, capsys):
    assert main(["check", str(SUBMISSIONS / "correct_folder"), *QUICK]) == 0
    assert main(["check", str(SUBMISSIONS / "bug_conv_no_bias"), *QUICK]) == 1
    printed = capsys.readouterr().out
    assert "hint: Your output equals the convolution without the bias: add b[f] to every output" in printed
    assert "FAIL" in printed and "PASS" in printed


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "/nonexistent/folder"],
        ["check", "/nonexistent/file.py"],
        ["run", ".", "--format", "pdf"],
        ["run", ".", "--timeout", "0"],
    ],
)
def test_usage_errors_exit_2_with_a_message(argv, capsys):
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_bad_assignment_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "a.toml"
    bad.write_text("[[checks]]\nid = 'forward.x.y'\nkind = 'forward'\n")
    assert main(["check", str(SUBMISSIONS / "correct_folder"), "--assignment", str(bad)]) == 2
    assert "points" in capsys.readouterr().err


def test_skip_reports_checks_as_skipped_not_failed(tmp_path):
    out = tmp_path / "r"
    main(["run", str(SUBMISSIONS), "--out", str(out), "--format", "json", "--only", "forward.conv_*", "--skip", "*.hidden"])
    data = json.loads((out / "results.json").read_text())
    correct = next(s for s in data["submissions"] if s["id"] == "correct_zip")
    statuses = {c["id"]: c["status"] for c in correct["checks"]}
    assert statuses["forward.conv_forward_naive.public"] == "passed"
    assert statuses["forward.conv_forward_naive.hidden"] == "skipped"
    assert correct["max_score"] == 4


@pytest.mark.parametrize(
    "edit, says",
    [
        (('aspect = "construction"', 'aspect = "constructoin"'), "aspect 'constructoin' is not one of"),
        (('id = "forward.relu_forward.hidden"\nname = "ReLU forward (used by the network)"\nkind = "forward"\nfamily = "relu"',
          'id = "forward.relu_forward.hidden"\nname = "ReLU forward (used by the network)"\nkind = "forward"\nfamily = "rleu"'),
         "case rleu.random is not defined"),
    ],
)
def test_a_typo_in_the_assignment_stops_the_run_before_grading(tmp_path, capsys, edit, says):
    from importlib import resources

    text = resources.files("grader.assignments").joinpath("convnets.toml").read_text()
    assert edit[0] in text
    bad = tmp_path / "a.toml"
    bad.write_text(text.replace(edit[0], edit[1]))
    code = main(["run", str(SUBMISSIONS), "--assignment", str(bad), "--out", str(tmp_path / "r"), "--only", "model.*"])
    assert code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "r" / "results.json").exists()


def test_ctrl_c_leaves_every_completed_grade_on_disk(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "r"
    folder = tmp_path / "class"
    for i in range(4):  # complete packages: each takes several seconds of training
        shutil.copytree(SUBMISSIONS / "correct_package", folder / f"s{i}")
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "run", str(folder), "--out", str(out),
                             "--format", "json", "--jobs", "2"],
                            cwd=SUBMISSIONS.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    results = out / "results.json"
    deadline = time.monotonic() + 300
    while not results.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert time.monotonic() - interrupted < 10, "submissions in progress stop at their next check"
    graded = json.loads(results.read_text())["submissions"]
    assert 1 <= len(graded) < 4
    assert all(s["status"] == "graded" and s["checks"] for s in graded)
    assert "results.json" in err


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--python", "/nonexistent/python"], "/nonexistent/python"),
        (["--data", "npz:/nonexistent/photos.npz"], "photos.npz"),
        (["--data", "npz:{tmp}/corrupt.npz"], "corrupt.npz"),
    ],
)
def test_setup_problems_stop_the_run_with_a_usage_error(tmp_path, capsys, argv, says):
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip archive")
    argv = [a.format(tmp=tmp_path) for a in argv]
    code = main(["run", str(SUBMISSIONS), "--out", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and says in err and "Traceback" not in err
    assert not (tmp_path / "r" / "results.json").exists()
