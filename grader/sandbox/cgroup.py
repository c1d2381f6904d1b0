"""A per-sandbox control group: a kernel-enforced cap on the processes and memory of ALL of a
submission's processes together, where rlimits only cap each process on its own (64 processes
of 4 GiB each could still exhaust the machine, and RLIMIT_NPROC does nothing for root).

Best effort: used when the grader may create cgroups (cgroup v1 `pids` and `memory`
hierarchies, or a cgroup v2 root with those controllers), silently absent otherwise. It also
gives the sandbox a complete list of its processes for the final kill, and the memory
controller's OOM-kill counter tells a memory kill from any other SIGKILL.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
SERVER_MEMORY_BYTES = 512 * 2**20  # the fork server itself, plus the per-call headroom
TASK_FACTOR = 4  # the pids controller counts threads, not just processes


@dataclass(frozen=True)
class Cgroup:
    """One cgroup per sandbox; `dirs` are its directories (one per v1 hierarchy, or one v2)."""

    dirs: tuple[Path, ...]
    oom_file: Path | None

    @classmethod
    def create(cls, name: str, max_processes: int, memory_bytes: int) -> Cgroup | None:
        """A new cgroup with the limits set, or None if this machine does not let us."""
        tasks = str(max_processes * TASK_FACTOR + 16)
        memory = str(memory_bytes + SERVER_MEMORY_BYTES)
        if (ROOT / "pids" / "cgroup.procs").exists() and (ROOT / "memory").is_dir():
            plan = [
                (ROOT / "pids" / name, {"pids.max": tasks}),
                (ROOT / "memory" / name, {"memory.limit_in_bytes": memory}),
            ]
            oom = ROOT / "memory" / name / "memory.oom_control"
        elif {"pids", "memory"} <= set(_read(ROOT / "cgroup.subtree_control").split()):
            plan = [(ROOT / name, {"pids.max": tasks, "memory.max": memory})]
            oom = ROOT / name / "memory.events"
        else:
            return None
        group = cls(tuple(path for path, _ in plan), oom)
        try:
            for path, settings in plan:
                path.mkdir()
                for key, value in settings.items():
                    (path / key).write_text(value)
        except OSError:
            group.remove()
            return None
        return group

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` started through a shell that first moves itself into the cgroup, so that the
        server and everything it forks are inside before any student code exists."""
        moves = "".join(f'echo $$ > "${i + 1}" && ' for i in range(len(self.dirs)))
        script = f'{moves}shift {len(self.dirs)} && exec "$@"'
        return ["/bin/sh", "-c", script, "sh"] + [str(d / "cgroup.procs") for d in self.dirs] + argv

    def oom_kills(self) -> int:
        """How many processes the kernel killed for exceeding the memory limit so far."""
        for line in _read(self.oom_file).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def kill_all(self, give_up_s: float = 2.0) -> None:
        """SIGKILL every process in the cgroup, including ones that escaped every other sweep."""
        deadline = time.monotonic() + give_up_s
        while time.monotonic() < deadline:
            pids = {int(p) for d in self.dirs for p in _read(d / "cgroup.procs").split()}
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for path in self.dirs:
            try:
                path.rmdir()
            except OSError:
                pass

    @property
    def protections(self) -> list[str]:
        return ["cgroup-pids", "cgroup-memory"]


def _read(path: Path | None) -> str:
    try:
        return path.read_text() if path is not None else ""
    except OSError:
        return ""
