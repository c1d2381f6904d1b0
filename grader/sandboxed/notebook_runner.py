"""Execute a notebook with nbclient INSIDE the sandbox, then capture the kernel's state.

This file is copied into the sandbox workspace and called as `notebook_runner:execute`, so it
imports neither `grader` nor `reference` (see grader/sandboxed/__init__.py): it only needs
nbformat, nbclient and ipykernel from the interpreter's site-packages. The kernel and nbclient
talk over loopback, which is why they must share the sandbox's network namespace.

Everything the kernel writes is untrusted; the parent validates the files it reads back.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

KERNEL_NAME = "grader-python3"
OUTPUT_CAP_CHARS = 200_000
TRACEBACK_CHARS = 2_000
INTERRUPT_GRACE_S = 5.0
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class CappedClient(NotebookClient):
    """A NotebookClient that stops storing a cell's output past a size cap.

    A cell printing in a loop must not fill the runner's memory before its timeout.
    """

    def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001 - nbclient's signature
        size = sum(len(json.dumps(o)) for o in outs)
        if size > OUTPUT_CAP_CHARS:
            return None
        return super().output(outs, msg, display_id, cell_index)


def report_progress(path: Path | None, text: str) -> None:
    """One line the parent shows while it waits (replaced whole, so it never reads half)."""
    if path is None:
        return
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(text[:200])
    os.replace(partial, path)


def prepare_environment(workspace: Path) -> None:
    """Give the kernel writable config dirs inside the workspace and a kernelspec for this
    interpreter."""
    home = workspace / ".kernel_home"
    spec_dir = home / "share" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (grader)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    for var, sub in (
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "mpl"),
        ("JUPYTER_CONFIG_DIR", "config"),
    ):
        (home / sub).mkdir(exist_ok=True)
        os.environ[var] = str(home / sub)
    os.environ["JUPYTER_PATH"] = str(home / "share")
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
    os.environ["MPLBACKEND"] = "Agg"
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"


def error_record(reply_content: dict[str, Any]) -> dict[str, str]:
    """The short, ANSI-free form of a kernel error that reports show."""
    trace = ANSI.sub("", "\n".join(reply_content.get("traceback", [])))
    return {
        "name": str(reply_content.get("ename", "")),
        "value": str(reply_content.get("evalue", ""))[:500],
        "traceback": trace[-TRACEBACK_CHARS:],
    }


class Runner:
    """Runs the cells one by one, so a timeout or a dead kernel is recorded and handled per cell."""

    def __init__(
        self,
        nb: Any,
        workspace: Path,
        progress: Path | None,
        cell_timeout: float,
        total_timeout: float,
        captures: list[dict[str, Any]],
        capture_dir: Path,
        capture_timeout: float,
    ) -> None:
        self.nb = nb
        self.workspace = workspace
        self.progress = progress
        self.cell_timeout = cell_timeout
        self.deadline = time.monotonic() + total_timeout
        self.captures = captures
        self.capture_dir = capture_dir
        self.capture_timeout = capture_timeout
        self.restarts = 0
        self.cells: list[dict[str, Any]] = []
        self.capture_log: list[dict[str, Any]] = []
        self.client = CappedClient(
            nb,
            kernel_name=KERNEL_NAME,
            allow_errors=True,
            interrupt_on_timeout=False,
            record_timing=False,
            startup_timeout=120,
            resources={"metadata": {"path": str(workspace)}},
        )
        self.client.on_cell_executed = self.remember_reply
        self.last_reply: dict[str, Any] = {}

    def remember_reply(self, cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        self.last_reply = execute_reply or {}

    async def run(self) -> None:
        self.client.km = self.client.create_kernel_manager()
        await self.start_kernel()
        try:
            alive = await self.run_cells()
            if not alive and await self.restart_kernel():
                alive = True
            if alive:
                await self.run_captures(None, None)
        finally:
            await self.client._async_cleanup_kernel()

    async def start_kernel(self) -> None:
        await self.client.async_start_new_kernel()
        await self.client.async_start_new_kernel_client()

    async def restart_kernel(self) -> bool:
        """Restart the kernel once (for the captures); a second restart is refused."""
        if self.restarts >= 1:
            return False
        self.restarts += 1
        await self.client._async_cleanup_kernel()
        self.client.km = self.client.create_kernel_manager()
        await self.start_kernel()
        return True

    async def run_cells(self) -> bool:
        """Execute every code cell; returns False when the kernel is gone and must be restarted."""
        alive = True
        code_cells = sum(cell.cell_type == "code" for cell in self.nb.cells)
        done = 0
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            done += 1
            report_progress(self.progress, f"executing cell {done} of {code_cells}")
            remaining = self.deadline - time.monotonic()
            if not alive or remaining <= 1:
                reason = (
                    "the kernel stopped at an earlier cell"
                    if not alive
                    else "notebook time limit reached"
                )
                self.cells.append(
                    {
                        "index": index,
                        "status": "not_run",
                        "error": None,
                        "message": reason,
                        "duration_s": 0.0,
                    }
                )
                continue
            alive = await self.run_cell(index, cell, min(self.cell_timeout, remaining))
            if alive:
                await self.run_captures(index, cell.source)
        return alive

    async def run_cell(self, index: int, cell: Any, timeout: float) -> bool:
        self.client.timeout = max(1, int(timeout))
        start = time.monotonic()
        record: dict[str, Any] = {"index": index, "status": "ok", "error": None, "message": ""}
        alive = True
        self.last_reply = {}
        try:
            await self.client.async_execute_cell(cell, index, execution_count=index + 1)
            content = self.last_reply.get("content", {})
            if content.get("status") == "error":
                record["status"], record["error"] = "error", error_record(content)
        except CellTimeoutError:
            alive = await self.interrupt()
            record["status"] = "timeout"
            record["message"] = f"cell still running after {self.client.timeout} s" + (
                "; interrupted" if alive else "; the kernel ignored the interrupt and was stopped"
            )
        except DeadKernelError:
            alive = False
            record["status"] = "died"
            record["message"] = "the kernel died while running this cell"
        record["duration_s"] = round(time.monotonic() - start, 3)
        self.cells.append(record)
        return alive

    async def interrupt(self) -> bool:
        """Interrupt a cell past its time; True when the kernel answered and can go on."""
        kc, km = self.client.kc, self.client.km
        await km.interrupt_kernel()
        end = time.monotonic() + INTERRUPT_GRACE_S
        while time.monotonic() < end:
            try:
                msg = await kc.shell_channel.get_msg(timeout=max(0.1, end - time.monotonic()))
            except Exception:  # queue.Empty: no reply within the grace period
                break
            if msg.get("msg_type") == "execute_reply":
                return True
        return False

    async def run_captures(self, index: int | None, source: str | None) -> None:
        for capture in self.captures:
            after = capture.get("after")
            if (index is None) != (after is None):
                continue
            if after is not None and not re.search(after, source or ""):
                continue
            tag = capture["name"] if index is None else f"{capture['name']}.{index}"
            self.capture_log.append(await self.run_capture(tag, capture["code"]))

    async def run_capture(self, tag: str, code: str) -> dict[str, Any]:
        wrapped = (
            "def __grader_capture(out_dir, tag):\n" + textwrap.indent(code, "    ") + "\n"
            f"try:\n    __grader_capture({str(self.capture_dir)!r}, {tag!r})\n"
            "finally:\n    del __grader_capture\n"
        )
        try:
            reply = await self.client.kc.execute_interactive(
                wrapped,
                store_history=False,
                silent=True,
                timeout=self.capture_timeout,
                allow_stdin=False,
                output_hook=lambda msg: None,
            )
        except (TimeoutError, asyncio.TimeoutError):
            return {"tag": tag, "status": "timeout", "error": None}
        content = reply.get("content", {})
        if content.get("status") != "ok":
            return {"tag": tag, "status": "error", "error": error_record(content)}
        return {"tag": tag, "status": "ok", "error": None}


def execute(
    notebook: str,
    output: str,
    capture_dir: str,
    cell_timeout: float = 60.0,
    total_timeout: float = 600.0,
    capture_timeout: float = 30.0,
    captures: list[dict[str, Any]] | None = None,
    progress_file: str | None = None,
) -> dict[str, Any]:
    """Execute `notebook` (a path in the workspace), save it executed, capture the kernel's state.

    Returns a JSON-able summary: per code cell its status (ok, error, timeout, died, not_run)
    and short error, the kernel restarts, and which captures ran.
    """
    workspace = Path.cwd()
    progress = workspace / progress_file if progress_file else None
    report_progress(progress, "starting the kernel")
    prepare_environment(workspace)
    Path(capture_dir).mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    nb = nbformat.read(notebook, as_version=4)
    runner = Runner(
        nb,
        workspace,
        progress,
        cell_timeout,
        total_timeout,
        captures or [],
        Path(capture_dir).resolve(),
        capture_timeout,
    )
    failure = None
    try:
        asyncio.run(runner.run())
    except Exception as exc:  # the kernel could not start: reported, not raised
        failure = f"{type(exc).__name__}: {exc}"[:1000]
    nbformat.write(nb, output)
    return {
        "cells": runner.cells,
        "kernel_restarts": runner.restarts,
        "captures": runner.capture_log,
        "failure": failure,
        "duration_s": round(time.monotonic() - start, 3),
    }
