"""Grading on Dask: a LocalCluster grades as --jobs does, separate `dask scheduler` / `dask worker`
processes on 127.0.0.1 grade a class, and a worker killed mid-submission costs no grade."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.grading import GradingOptions
from grader.runner import grade_all
from grader.sandbox import Limits
from grader.submission import discover

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "submissions"
SLOW = """
import time
import numpy as np

def conv_forward_naive(x, w, b, conv_param):
    time.sleep(6)
    return np.zeros(1), None
"""


def options(**kwargs) -> GradingOptions:
    return GradingOptions(seed=3, limits=Limits(call_timeout_s=30), **kwargs)


def outcome(run) -> dict[str, list]:
    return {
        s.id: [s.status, s.score, *[(c.id, c.status, c.score) for c in s.checks]]
        for s in run.submissions
    }


def test_a_local_cluster_grades_the_demo_class_as_jobs_do():
    subs = [s for s in discover(DEMO) if "slow" not in s.id]
    selection = options(skip=("training.*", "speed.*"))
    on_threads = grade_all(subs, load_assignment(), selection, jobs=2)
    on_dask = grade_all(subs, load_assignment(), selection, scheduler="local:2")
    assert outcome(on_dask) == outcome(on_threads)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    """`dask scheduler` and `dask worker` (two worker processes under a nanny) on 127.0.0.1."""
    port = _free_port()
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler = subprocess.Popen(
        [*dask, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"tcp://127.0.0.1:{port}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address]
        + [
            "--nthreads",
            "1",
            "--nworkers",
            "2",
            "--host",
            "127.0.0.1",
            "--dashboard-address",
            ":0",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=60)


def _class(tmp_path: Path, slow: bool = False) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("correct_package", "bug_conv_no_bias", "layers_only.py"):
        (shutil.copytree if (DEMO / name).is_dir() else shutil.copy)(DEMO / name, folder / name)
    if slow:
        (folder / "z_slow.py").write_text(SLOW)
    return folder


def test_separate_scheduler_and_worker_processes_grade_a_class(cluster, tmp_path):
    subs = discover(_class(tmp_path))
    selection = options(only=("forward.*", "backward.*"))
    remote = grade_all(subs, load_assignment(), selection, scheduler=cluster)
    local = grade_all(subs, load_assignment(), selection, jobs=2)
    assert outcome(remote) == outcome(local)


def test_a_worker_killed_mid_submission_costs_no_grade(cluster, tmp_path):
    subs = discover(_class(tmp_path, slow=True))
    selection = options(only=("forward.conv_forward_naive.public",))
    done: dict = {}
    runner = threading.Thread(
        target=lambda: done.update(
            run=grade_all(subs, load_assignment(), selection, scheduler=cluster)
        )
    )
    runner.start()
    with distributed.Client(cluster) as client:
        busy = _worker_grading(client, timeout=60)
        pid = client.run(os.getpid, workers=[busy])[busy]
        os.kill(pid, signal.SIGKILL)
    runner.join(timeout=300)
    assert not runner.is_alive()
    results = {s.id: s for s in done["run"].submissions}
    assert set(results) == {"correct_package", "bug_conv_no_bias", "layers_only", "z_slow"}
    assert results["correct_package"].score == 4
    slow = results["z_slow"]
    assert slow.status == "graded" or "died" in (slow.error or ""), slow.error


def _worker_grading(client, timeout: float) -> str:
    """The address of a worker with a grading task in progress (the slow submission's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            time.sleep(1.0)  # let it start the sandbox
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                return busy[0]
        time.sleep(0.1)
    raise AssertionError("no worker picked up a task")


def test_a_worker_refuses_another_grader_version_another_assignment_or_weaker_isolation():
    from grader import __version__
    from grader.assignment import assignment_text
    from grader.distributed import _refusal

    assignment = load_assignment()
    task = {
        "grader_version": __version__,
        "assignment_text": assignment_text(assignment),
        "assignment_version": assignment.version,
        "isolation": "none",
        "options": {"python": None},
    }
    assert _refusal(task) is None
    assert "0.0.1 in the run" in _refusal({**task, "grader_version": "0.0.1"})
    assert "assignment" in _refusal({**task, "assignment_version": "0" * 12})
    missing = {**task, "isolation": "bwrap", "options": {"python": "/nonexistent/python"}}
    assert "bwrap isolation does not work on this worker" in _refusal(missing)
