"""Running a class again: stored grades are reused for unchanged submissions, a change of the
run's key regrades all, and a run stopped by SIGINT, SIGTERM or SIGKILL resumes where it stopped."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "submissions"
ONLY = ["--only", "forward.conv_forward_naive.public", "--seed", "5"]
SLOW = """
import time
import numpy as np

def conv_forward_naive(x, w, b, conv_param):
    time.sleep(8)
    return np.zeros(1), None
"""


def results(out: Path) -> dict[str, dict]:
    return {s["id"]: s for s in json.loads((out / "results.json").read_text())["submissions"]}


def reused(out: Path) -> set[str]:
    return {i for i, s in results(out).items() if s["details"].get("reused")}


@pytest.fixture
def klass(tmp_path: Path) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("correct_package", "bug_conv_no_bias"):
        shutil.copytree(DEMO / name, folder / name)
    return folder


def test_a_rerun_grades_only_the_new_submission(klass, tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["run", str(klass), "--out", str(out), *ONLY]) == 0
    assert reused(out) == set()
    shutil.copy(DEMO / "layers_only.py", klass / "late.py")
    started = time.perf_counter()
    assert main(["run", str(klass), "--out", str(out), "--only", ONLY[1]]) == 0  # seed: kept
    print(f"rerun with one new submission: {time.perf_counter() - started:.1f} s")
    assert reused(out) == {"correct_package", "bug_conv_no_bias"}
    assert set(results(out)) == {"correct_package", "bug_conv_no_bias", "late"}
    assert "keep their stored grades" in capsys.readouterr().err


def test_regrade_forces_what_it_matches(klass, tmp_path):
    out = tmp_path / "reports"
    main(["run", str(klass), "--out", str(out), *ONLY])
    main(["run", str(klass), "--out", str(out), *ONLY, "--regrade", "bug_*"])
    assert reused(out) == {"correct_package"}
    main(["run", str(klass), "--out", str(out), *ONLY, "--regrade"])
    assert reused(out) == set()


def test_a_changed_assignment_or_seed_regrades_all_and_says_why(klass, tmp_path, capsys):
    out = tmp_path / "reports"
    main(["run", str(klass), "--out", str(out), *ONLY])
    edited = tmp_path / "edited.toml"
    text = (ROOT / "grader" / "assignments" / "convnets.toml").read_text()
    edited.write_text(text.replace("points = 4\n", "points = 5\n", 1))
    capsys.readouterr()
    main(["run", str(klass), "--out", str(out), *ONLY, "--assignment", str(edited)])
    assert "assignment changed: regrading all 2" in capsys.readouterr().err
    assert reused(out) == set()
    main(
        [
            "run",
            str(klass),
            "--out",
            str(out),
            *ONLY[:2],
            "--seed",
            "6",
            "--assignment",
            str(edited),
        ]
    )
    assert "seed changed: regrading all 2" in capsys.readouterr().err


def _start(folder: Path, out: Path) -> subprocess.Popen:
    code = "import sys; from grader.cli import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, "run", str(folder), "--out", str(out), *ONLY, "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(out: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(results(out)) >= count:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{count} grades did not appear in time")


@pytest.mark.parametrize(
    "how, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)]
)
def test_a_stopped_run_keeps_its_grades_and_resumes(klass, tmp_path, how, code):
    for name in ("y_slow", "z_slow"):
        (klass / f"{name}.py").write_text(SLOW)
    out = tmp_path / "reports"
    run = _start(klass, out)
    _wait_for(out, 2)  # the two quick ones; the slow ones are in their sandboxes now
    time.sleep(1.0)
    sent = time.monotonic()
    run.send_signal(how)  # to the grader's process alone, as a supervisor or CI runner does
    _, err = run.communicate(timeout=60)
    stopped_in = time.monotonic() - sent
    assert run.returncode == code, err
    if how != signal.SIGKILL:
        assert stopped_in < 5, f"took {stopped_in:.1f} s to stop"
        assert "run the same command again" in err
    assert set(results(out)) == {"correct_package", "bug_conv_no_bias"}
    resumed = _start(klass, out)
    resumed.communicate(timeout=120)
    assert resumed.returncode == 0
    assert reused(out) == {"correct_package", "bug_conv_no_bias"}
    assert results(out)["z_slow"]["status"] == "graded"
