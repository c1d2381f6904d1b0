"""How the fork server is started: inside bubblewrap, inside `unshare`, or as a plain subprocess.

The choice is made once per interpreter and cached. Whatever the mode, the server gets a minimal
environment and a private workspace; per-call rlimits are applied by the server itself
(grader/sandboxed/server.py). `Launch.protections` names what is actually in force, so reports
can say how a submission ran.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from grader import sandboxed
from grader.errors import SandboxSetupError

Mode = Literal["auto", "bwrap", "none"]

SERVER_FILE = sandboxed.DIRECTORY / "server.py"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# A source checkout is never mounted; an installed copy lives in a site-packages that must be
# mounted for numpy, so there its grader/ and reference/ directories are masked instead.
CHECKOUT = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").exists() else None
MASKED = ("grader", "reference")
TRIAL_TIMEOUT_S = 30
INSIDE_WORK = "/sandbox"
INSIDE_CALLS = "/calls"
INSIDE_SERVER = "/run/sandbox/server.py"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives")
COPIED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
BASE_PROTECTIONS = ["rlimits", "private-workspace", "minimal-env", "import-block"]


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one fork server and to talk to it about paths."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    inside_work: str
    inside_calls: str
    protections: list[str]


@dataclass(frozen=True)
class Interpreter:
    """What the chosen Python needs mounted: its prefixes and import path."""

    executable: str
    prefixes: tuple[str, ...]
    path: tuple[str, ...]


@functools.lru_cache(maxsize=None)
def interpreter(python: str) -> Interpreter:
    """Ask the interpreter (once) where it lives and where it imports numpy from."""
    code = (
        "import json, sys, os, numpy;"
        " print(json.dumps({'exe': os.path.realpath(sys.executable),"
        " 'prefixes': [sys.prefix, sys.base_prefix, sys.exec_prefix],"
        " 'path': [p for p in sys.path if os.path.isdir(p)]}))"
    )
    try:
        done = subprocess.run(
            [python, "-I", "-c", code],
            capture_output=True,
            text=True,
            timeout=TRIAL_TIMEOUT_S,
            env=minimal_env("/"),
        )
        info = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise SandboxSetupError(f"cannot run {python}: {exc}") from None
    if info is None:
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise SandboxSetupError(f"cannot run {python} with numpy: {last}")
    return Interpreter(info["exe"], tuple(dict.fromkeys(info["prefixes"])), tuple(info["path"]))


def minimal_env(home: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }
    env.update({name: "1" for name in THREAD_ENV})
    env.update({name: os.environ[name] for name in COPIED_ENV if name in os.environ})
    return env


def inside_checkout(path: str) -> bool:
    """Paths in the grader's own source checkout must never be visible to student code."""
    resolved = Path(path).resolve()
    return CHECKOUT is not None and (resolved == CHECKOUT or CHECKOUT in resolved.parents)


def server_argv(python: str, server: str) -> list[str]:
    return [python, "-I", "-B", server]


def plain(python: str, work: Path, calls: Path) -> Launch:
    return Launch(
        server_argv(python, str(SERVER_FILE)),
        minimal_env(str(work)),
        str(work),
        str(work),
        str(calls),
        list(BASE_PROTECTIONS),
    )


def bwrap(python: str, work: Path, calls: Path) -> Launch:
    interp = interpreter(python)
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--cap-drop",
        "ALL",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    mounted = [p for p in dict.fromkeys(interp.prefixes + interp.path) if not inside_checkout(p)]
    for path in mounted:
        if not path.startswith("/usr/"):
            args += ["--ro-bind-try", path, path]
    for path in mounted:
        for name in MASKED:
            if os.path.isdir(os.path.join(path, name)):
                args += ["--tmpfs", os.path.join(path, name)]
    args += [
        "--ro-bind",
        str(SERVER_FILE),
        INSIDE_SERVER,
        "--bind",
        str(work),
        INSIDE_WORK,
        "--bind",
        str(calls),
        INSIDE_CALLS,
        "--chdir",
        INSIDE_WORK,
        "--clearenv",
    ]
    for key, value in minimal_env(INSIDE_WORK).items():
        args += ["--setenv", key, value]
    protections = BASE_PROTECTIONS + [
        "user-namespace",
        "pid-namespace",
        "network-namespace",
        "mount-namespace",
        "read-only-system",
        "no-capabilities",
    ]
    return Launch(
        args + server_argv(python, INSIDE_SERVER),
        {},
        str(work),
        INSIDE_WORK,
        INSIDE_CALLS,
        protections,
    )


def unshare(python: str, work: Path, calls: Path) -> Launch:
    base = plain(python, work, calls)
    args = [
        shutil.which("unshare") or "unshare",
        "--fork",
        "--pid",
        "--mount-proc",
        "--net",
        "--ipc",
        "--uts",
        "--kill-child",
    ]
    if os.geteuid() != 0:
        args.insert(1, "--map-root-user")
    return Launch(
        args + base.argv,
        base.env,
        base.cwd,
        base.inside_work,
        base.inside_calls,
        base.protections + ["pid-namespace", "network-namespace"],
    )


@functools.lru_cache(maxsize=None)
def works(kind: str, python: str) -> bool:
    """Try once whether `kind` can start this interpreter with numpy."""
    if shutil.which(kind) is None or not sys.platform.startswith("linux"):
        return False
    with tempfile.TemporaryDirectory(prefix="sandbox-trial-") as tmp:
        launch = BUILDERS[kind](python, Path(tmp), Path(tmp))
        argv = launch.argv[: -len(server_argv(python, ""))] + [python, "-I", "-c", "import numpy"]
        try:
            return (
                subprocess.run(
                    argv, env=launch.env, cwd=tmp, capture_output=True, timeout=TRIAL_TIMEOUT_S
                ).returncode
                == 0
            )
        except (OSError, subprocess.SubprocessError):
            return False


BUILDERS = {"bwrap": bwrap, "unshare": unshare}


def strongest(mode: Mode, python: str | None) -> str:
    """The isolation `mode` gives here: "auto" resolved to the strongest kind that works."""
    if mode != "auto":
        return mode
    python = python or sys.executable
    return next((kind for kind in BUILDERS if works(kind, python)), "none")


def plan(mode: Mode, python: str, work: Path, calls: Path) -> Launch:
    """The launch for `mode`; "auto" takes the strongest isolation that works here."""
    if mode == "none":
        return plain(python, work, calls)
    if mode in BUILDERS:  # "bwrap", or the kind a Dask coordinator resolved "auto" to
        if not works(mode, python):
            raise SandboxSetupError(f"{mode} is not installed or cannot create namespaces here")
        return BUILDERS[mode](python, work, calls)
    if mode != "auto":
        raise ValueError(f"isolation must be 'auto', 'bwrap' or 'none', not {mode!r}")
    for kind, build in BUILDERS.items():
        if works(kind, python):
            return build(python, work, calls)
    return plain(python, work, calls)
