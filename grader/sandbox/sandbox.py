"""The `Sandbox`: one private copy of a workspace and one fork server per submission.

The grader's process never imports student code. It sends programs (see steps.py) to a fork
server (grader/sandboxed/server.py) that runs under the isolation chosen in isolation.py; every
call runs in a fresh forked child with rlimits, and comes back as a `Reply`: decoded values, or a
`CallError` saying what the student's code did (raised, looped, exited, crashed, ran out of memory
or wrote a malformed reply). `run` only raises for grader faults such as a malformed program.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from grader.sandbox.cgroup import Cgroup
from grader.errors import MissingReply, SandboxSetupError, WireError
from grader.sandbox.isolation import Launch, Mode, plan
from grader.sandbox.processes import kill_marked, kill_tree
from grader.sandbox.steps import Program
from grader.sandbox.wire import Decoder, read_reply
from grader.workspace import copy_tree

START_TIMEOUT_S = 60.0
SERVER_GRACE_S = 15.0
MARKER = ".marker"
SERVER_LOG = "server.log"  # the server's own stderr (never student output), for setup errors
ErrorKind = Literal["exception", "timeout", "exit", "crash", "memory", "protocol"]


@dataclass(frozen=True)
class Limits:
    call_timeout_s: float = 60.0  # wall clock per run()
    cpu_s: int = 300  # RLIMIT_CPU per forked call
    memory_bytes: int = 4 * 2**30  # RLIMIT_AS per forked call
    max_processes: int = 64  # processes a call may have alive at once
    max_file_bytes: int = 256 * 2**20  # RLIMIT_FSIZE
    max_output_bytes: int = 64 * 1024  # captured stdout+stderr kept per call
    max_reply_bytes: int = 256 * 2**20  # total size of arrays read back per call


@dataclass
class CallError:
    kind: ErrorKind
    message: str
    traceback: str = ""


@dataclass
class Reply:
    values: dict[str, Any]
    error: CallError | None
    stdout: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.error is None


class ServerLost(Exception):
    """The fork server died or stopped answering; `kind` is how the call is reported."""

    def __init__(self, message: str, kind: ErrorKind = "crash") -> None:
        super().__init__(message)
        self.kind = kind


class Sandbox:
    """A private workspace and a fork server serving programs for one submission.

    Use a Sandbox from the thread that created it and that outlives it: under bwrap the server
    is started with --die-with-parent, which follows the creating thread. Not thread-safe.
    """

    def __init__(
        self,
        files: Path,
        *,
        sys_path: Sequence[str] = (".",),
        limits: Limits = Limits(),
        python: str | None = None,
        isolation: Mode = "auto",
        forbidden_modules: Sequence[str] = ("grader", "reference"),
    ) -> None:
        files = Path(files)
        if not files.is_dir():
            raise ValueError(f"submission files must be a directory: {files}")
        self.limits = limits
        self._root = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
        self._work, self._calls = self._root / "work", self._root / "calls"
        self._server: subprocess.Popen | None = None
        self._closed = False
        self._marker = self._calls / MARKER
        self._counter = itertools.count()
        self._cgroup: Cgroup | None = None
        try:
            copy_tree(files, self._work)
            self._calls.mkdir()
            self._marker.touch()
            python = python or sys.executable
            self._launch: Launch = plan(isolation, python, self._work, self._calls)
            self._config = {
                "sys_path": [_inside(self._launch.inside_work, p) for p in sys_path],
                "forbidden": list(forbidden_modules),
                "workdir": self._launch.inside_work,
                "marker": _inside(self._launch.inside_calls, MARKER),
            }
            self._cgroup = Cgroup.create(self._root.name, limits.max_processes, limits.memory_bytes)
            self._start()
        except BaseException:
            self.close()
            raise
        self.protections: list[str] = (
            list(self._launch.protections)
            + self._features
            + (self._cgroup.protections if self._cgroup else [])
        )

        with _LIVE_LOCK:
            _LIVE.add(self)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, program: Program, *, timeout: float | None = None) -> Reply:
        """Run `program` in a fresh child; never raises for anything the student's code does."""
        if self._closed:
            raise RuntimeError("run() on a closed Sandbox")
        if _INTERRUPTED.is_set():
            return Reply({}, CallError("crash", "the run was interrupted"), "", 0.0)
        timeout = self.limits.call_timeout_s if timeout is None else float(timeout)
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        call_dir = self._calls / str(next(self._counter))
        call_dir.mkdir()
        dir_fd = os.open(call_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            request = self._request(call_dir, program, timeout)
            if self._server is None:
                self._start()
            started, oom_kills = time.monotonic(), self._oom_kills()
            try:
                reply = self._reply(self._ask(request, timeout + SERVER_GRACE_S), dir_fd, timeout)
            except ServerLost as lost:
                reply = Reply({}, CallError(lost.kind, str(lost)), "", time.monotonic() - started)
            if reply.error and reply.error.kind == "crash" and self._oom_kills() > oom_kills:
                reply.error = self._memory_error()
            return reply
        finally:
            os.close(dir_fd)
            shutil.rmtree(call_dir, ignore_errors=True)

    def close(self) -> None:
        """Kill the server and everything it started, and remove the workspace."""
        with _LIVE_LOCK:
            _LIVE.discard(self)
        self._closed = True
        self._stop()
        if self._cgroup is not None:
            self._cgroup.remove()
        shutil.rmtree(self._root, ignore_errors=True)

    def _kill_server(self) -> None:
        """Kill the server's processes from another thread; the thread waiting on it then sees
        the server gone and cleans up as usual."""
        server = self._server
        if server is not None:
            kill_tree(server.pid, give_up_s=1.0)

    # -- server lifecycle ------------------------------------------------------------------

    def _start(self) -> None:
        launch = self._launch
        argv = self._cgroup.wrap(launch.argv) if self._cgroup else launch.argv
        try:
            with open(self._root / SERVER_LOG, "wb") as log:
                self._server = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=launch.env,
                    cwd=launch.cwd,
                    start_new_session=True,
                )
        except OSError as exc:
            raise SandboxSetupError(f"cannot start {argv[0]}: {exc.strerror}") from None
        self._buffer = b""
        try:
            self._send(self._config)
            hello = json.loads(self._read_line(time.monotonic() + START_TIMEOUT_S))
            self._features = [name for name, on in hello["features"].items() if on]
        except (ServerLost, ValueError, KeyError, TypeError, AttributeError) as exc:
            self._stop()
            log = (self._root / SERVER_LOG).read_bytes()[-2000:].decode("utf-8", "replace")
            raise SandboxSetupError(f"the sandbox server did not start: {exc}\n{log}") from None

    def _stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        kill_tree(server.pid, give_up_s=2.0)
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except OSError:
            pass
        server.wait()
        kill_marked(self._marker)
        if self._cgroup is not None:
            self._cgroup.kill_all()
        for stream in (server.stdin, server.stdout):
            stream.close()

    def _send(self, message: dict) -> None:
        try:
            self._server.stdin.write(json.dumps(message).encode() + b"\n")
            self._server.stdin.flush()
        except OSError:
            self._stop()
            raise ServerLost("the sandbox server stopped unexpectedly") from None

    def _read_line(self, deadline: float) -> bytes:
        fd = self._server.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(fd, 1 << 16) if ready else None
            if not chunk:
                self._stop()
                if ready:
                    raise ServerLost("the sandbox server stopped unexpectedly")
                raise ServerLost("the sandbox server stopped answering", "timeout")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _ask(self, request: dict, wait_s: float) -> dict:
        self._send(request)
        try:
            answer = json.loads(self._read_line(time.monotonic() + wait_s))
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("id") != request["id"]:
            self._stop()
            raise ServerLost("the sandbox server sent a malformed answer")
        return answer

    # -- one call --------------------------------------------------------------------------

    def _request(self, call_dir: Path, program: Program, timeout: float) -> dict:
        (call_dir / "in").mkdir()
        names = {}
        for i, (name, array) in enumerate(program.arrays.items()):
            np.save(call_dir / "in" / f"{i}.npy", array, allow_pickle=False)
            names[name] = f"in/{i}.npy"
        inside = _inside(self._launch.inside_calls, call_dir.name)
        return {
            "id": call_dir.name,
            "dir": inside,
            "arrays": names,
            "program": program.to_json(),
            "timeout": timeout,
            "limits": asdict(self.limits),
        }

    def _reply(self, answer: dict, dir_fd: int, timeout: float) -> Reply:
        stdout = answer.get("output", "")
        dropped = answer.get("output_bytes", 0) - len(stdout.encode("utf-8", "replace"))
        if dropped > 0:
            stdout += f"\n[output truncated: {dropped} more bytes were dropped]\n"
        values, error = {}, self._process_error(answer, timeout)
        if error is None:
            try:
                values, error = self._decode(read_reply(dir_fd), dir_fd)
            except MissingReply:
                values, error = {}, CallError("exit", "the code called os._exit(0)")
            except WireError as exc:
                values, error = {}, CallError("protocol", f"reply was malformed: {exc}")
        return Reply(values, error, stdout, float(answer.get("duration", 0.0)))

    def _process_error(self, answer: dict, timeout: float) -> CallError | None:
        """How the child ended, when that alone decides the outcome."""
        limits = self.limits
        if answer.get("timed_out"):
            return CallError("timeout", f"timed out after {timeout:g} s")
        if answer.get("too_many_processes"):
            return CallError(
                "crash", f"started more than {limits.max_processes} processes (all were killed)"
            )
        sig = answer.get("signal")
        if sig is not None:
            return _signal_error(sig, limits)
        code = answer.get("exit_code")
        if code != 0:
            return CallError("exit", f"the code called os._exit({code})")
        return None

    def _decode(self, reply: dict, dir_fd: int) -> tuple[dict[str, Any], CallError | None]:
        status = reply["status"]
        if status == "ok":
            values = reply.get("values")
            if type(values) is not dict:
                raise WireError("values is not a mapping")
            decoder = Decoder(dir_fd, self.limits.max_reply_bytes)
            return {str(k): decoder.decode(v) for k, v in values.items()}, None
        if status == "exit":
            return {}, CallError(
                "exit",
                (
                    f"the code called sys.exit({reply.get('code')!r})"
                    if reply.get("code") is not None
                    else "the code called sys.exit(None)"
                ),
            )
        if status == "memory":
            return {}, self._memory_error()
        if status == "exception":
            return {}, CallError(
                "exception",
                str(reply.get("message", ""))[:2000],
                str(reply.get("traceback", ""))[:8000],
            )
        if status == "protocol":
            return {}, CallError("protocol", f"reply was malformed: {reply.get('message')}")
        raise WireError(f"unknown status {status[:40]!r}")

    def _memory_error(self) -> CallError:
        return CallError("memory", f"ran out of memory (limit {_size(self.limits.memory_bytes)})")

    def _oom_kills(self) -> int:
        return self._cgroup.oom_kills() if self._cgroup is not None else 0

    @property
    def workspace(self) -> Path:
        """The host path of the private copy of the submission (for tests and diagnostics)."""
        return self._work


_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()
_INTERRUPTED = threading.Event()


def interrupt_all() -> None:
    """Stop every sandbox's work now (a run interrupted by Ctrl-C or SIGTERM): calls in progress
    return at once, and calls after this are refused, until `resume_all`."""
    _INTERRUPTED.set()
    with _LIVE_LOCK:
        live = list(_LIVE)
    for sandbox in live:
        sandbox._kill_server()


def resume_all() -> None:
    _INTERRUPTED.clear()


def _inside(base: str, relative: str) -> str:
    return os.path.normpath(os.path.join(base, relative))


def _signal_error(sig: int, limits: Limits) -> CallError:
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    if sig == signal.SIGXCPU:
        return CallError("timeout", f"used more than {limits.cpu_s} s of CPU time")
    return CallError("crash", f"killed by signal {sig} ({name})")


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"
