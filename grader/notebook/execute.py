"""Running a submitted notebook inside the sandbox and bringing back what it produced.

The parent assembles the workspace, starts a `Sandbox` on it and calls
`notebook_runner:execute` there (nbclient and the kernel share the sandbox's loopback). The
executed notebook and the capture files are then copied out of the workspace, checking that
each is a regular file of bounded size, before the sandbox is closed.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import nbformat
import numpy as np

from grader.notebook.assemble import NOTEBOOK_NAME, RUNNER, assemble
from grader.errors import NotebookError
from grader.notebook.cells import MAX_NOTEBOOK_BYTES, load_notebook
from grader.notebook.consistency import write_manifest
from grader.oracle import get_builtin_data
from grader.notebook.captures import MAX_CAPTURE_BYTES, kernel_captures
from grader.sandbox import Limits, Reply, Sandbox
from grader.sandbox.steps import Program, call, ref, ret

EXECUTED_NAME = "executed.ipynb"
PROGRESS_FILE = "grader_progress.txt"  # the runner's current stage, one line
CAPTURE_DIR = "grader_captures"
INPUT_DIR = "grader_capture_inputs"
STARTUP_S = 120.0
MAX_CAPTURE_FILES = 200


@dataclass
class NotebookOptions:
    """Time and memory for one notebook, and the data its `get_CIFAR10_data()` returns."""

    cell_timeout_s: float = 120.0
    total_timeout_s: float = 900.0
    capture_timeout_s: float = 60.0
    memory_bytes: int = Limits.memory_bytes
    python: str | None = None
    isolation: str = "auto"
    num_training: int = 2000
    num_validation: int = 500
    num_test: int = 500
    data_seed: int = 0
    on_progress: Callable[[str], None] | None = None  # told the stage while the notebook runs


@dataclass
class NotebookRun:
    """What the execution produced: the runner's summary, the executed notebook, captures."""

    summary: dict[str, Any]
    executed: Any | None
    executed_path: Path | None
    capture_dir: Path
    substituted: list[str] = field(default_factory=list)
    error: str | None = None


def grading_data(options: NotebookOptions) -> dict[str, np.ndarray]:
    return get_builtin_data(
        num_training=options.num_training,
        num_validation=options.num_validation,
        num_test=options.num_test,
        seed=options.data_seed,
    )


def _runner_program(options: NotebookOptions, manifest: str) -> Program:
    kwargs = {
        "notebook": NOTEBOOK_NAME,
        "output": EXECUTED_NAME,
        "capture_dir": CAPTURE_DIR,
        "cell_timeout": options.cell_timeout_s,
        "total_timeout": options.total_timeout_s,
        "capture_timeout": options.capture_timeout_s,
        "captures": kernel_captures(manifest),
        "progress_file": PROGRESS_FILE,
    }
    return Program(
        [call(f"{RUNNER}:execute", kwargs=kwargs, as_="summary"), ret(summary=ref("summary"))]
    )


def _copy_regular(src: Path, dest: Path, max_bytes: int) -> bool:
    if src.is_symlink() or not src.is_file() or src.stat().st_size > max_bytes:
        return False
    shutil.copyfile(src, dest)
    return True


def _copy_captures(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if src.is_symlink() or not src.is_dir():
        return
    for path in sorted(src.iterdir())[:MAX_CAPTURE_FILES]:
        _copy_regular(path, dest / path.name, MAX_CAPTURE_BYTES)


CELL_STATUSES = {"ok", "error", "timeout", "died", "not_run"}


def _clean_summary(summary: Any) -> dict[str, Any]:
    """The runner's summary reduced to the fields and types the grading reads."""
    if not isinstance(summary, dict):
        return {}

    def text(value: Any, limit: int = 2000) -> str:
        return str(value)[:limit] if value is not None else ""

    def error(value: Any) -> dict[str, str] | None:
        if not isinstance(value, dict):
            return None
        return {
            "name": text(value.get("name"), 200),
            "value": text(value.get("value"), 500),
            "traceback": text(value.get("traceback")),
        }

    cells = [
        {
            "index": c["index"],
            "status": c["status"],
            "error": error(c.get("error")),
            "message": text(c.get("message"), 500),
            "duration_s": float(c.get("duration_s") or 0.0),
        }
        for c in summary.get("cells", [])
        if isinstance(c, dict)
        and isinstance(c.get("index"), int)
        and c.get("status") in CELL_STATUSES
    ]
    captures = [
        {
            "tag": text(p.get("tag"), 200),
            "status": text(p.get("status"), 20),
            "error": error(p.get("error")),
        }
        for p in summary.get("captures", [])
        if isinstance(p, dict)
    ]
    restarts = summary.get("kernel_restarts")
    # "probes" is the key results.json has always used for the captures' log (the schema only grows)
    return {
        "cells": cells,
        "kernel_restarts": restarts if isinstance(restarts, int) else 0,
        "probes": captures,
        "failure": text(summary.get("failure"), 1000) or None,
        "duration_s": float(summary.get("duration_s") or 0.0),
    }


def _read_executed(path: Path) -> Any | None:
    try:
        return load_notebook(path)
    except NotebookError:
        return None


@contextmanager
def run_notebook(
    notebook: Path,
    student_package: Path | None,
    package_name: str,
    output_dir: Path,
    options: NotebookOptions = NotebookOptions(),
    data: Mapping[str, np.ndarray] | None = None,
) -> Iterator[NotebookRun]:
    """Execute `notebook` in the sandbox; the executed copy is saved in `output_dir`.

    Raises `NotebookError` when the file is not a notebook. Yields a `NotebookRun` whose capture
    files live in a temporary folder until the context ends.
    """
    nb = load_notebook(notebook)
    output_dir.mkdir(parents=True, exist_ok=True)
    executed_path = output_dir / EXECUTED_NAME
    with tempfile.TemporaryDirectory(prefix="grader-notebook-") as tmp:
        captures = Path(tmp) / "captures"
        ws = assemble(
            nbformat.writes(nb),
            student_package,
            package_name,
            data if data is not None else grading_data(options),
        )
        try:
            manifest = write_manifest(ws.root / INPUT_DIR, ws.root)
            reply, saved = _execute(ws.root, manifest, options, executed_path, captures)
        finally:
            ws.cleanup()
        summary = _clean_summary(reply.values.get("summary")) if reply.ok else {}
        error = (
            None
            if reply.ok
            else f"the notebook runner failed: {reply.error.kind}: {reply.error.message}"
        )
        yield NotebookRun(
            summary=summary,
            executed=_read_executed(executed_path) if saved else None,
            executed_path=executed_path if saved else None,
            capture_dir=captures,
            substituted=ws.substituted,
            error=error or summary.get("failure"),
        )


@contextmanager
def _watching_progress(path: Path, tell: Callable[[str], None] | None) -> Iterator[None]:
    """While the runner works, pass the line it keeps in `path` ("executing cell 3 of 41") on."""
    if tell is None:
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        shown = None
        while not stop.wait(0.5):
            try:
                text = path.read_text(errors="replace")[:200].strip()
            except OSError:
                continue
            if text and text != shown:
                tell(text)
                shown = text

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def _execute(
    root: Path, manifest: str, options: NotebookOptions, executed_path: Path, captures: Path
) -> tuple[Reply, bool]:
    """Run the notebook in a sandbox on `root`; copy the executed notebook and the captures out."""
    limits = Limits(
        call_timeout_s=options.total_timeout_s,
        memory_bytes=options.memory_bytes,
        cpu_s=int(options.total_timeout_s * 2 + STARTUP_S),
    )
    timeout = options.total_timeout_s + STARTUP_S + 4 * options.capture_timeout_s
    with Sandbox(
        root, limits=limits, python=options.python, isolation=options.isolation
    ) as sandbox:
        with _watching_progress(sandbox.workspace / PROGRESS_FILE, options.on_progress):
            reply = sandbox.run(_runner_program(options, manifest), timeout=timeout)
        saved = _copy_regular(sandbox.workspace / EXECUTED_NAME, executed_path, MAX_NOTEBOOK_BYTES)
        _copy_captures(sandbox.workspace / CAPTURE_DIR, captures)
    return reply, saved
