"""Sweeping a sandbox's processes from the parent: the server's tree, and whatever holds the marker.

The fork server sweeps each call's processes itself, with its own minimal copy of the tree walk
(grader/sandboxed/server.py runs under the course's interpreter and imports nothing of the
grader); here, in the parent, psutil walks the tree.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil


def kill_tree(root: int, give_up_s: float = 5.0) -> bool:
    """SIGKILL every descendant of `root` until only zombies are left; False if some process
    survived `give_up_s`."""
    deadline = time.monotonic() + give_up_s
    while True:
        try:
            below = psutil.Process(root).children(recursive=True)
        except psutil.Error:
            return True
        alive = [p for p in below if _alive(p)]
        if not alive:
            return True
        for process in alive:
            try:
                process.kill()
            except psutil.Error:
                pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_marked(marker: Path) -> None:
    """SIGKILL every process holding `marker` open: the server hands it to every call, so this
    finds a call's leftovers even after the server died (best effort: code may close the fd)."""
    try:
        target = os.stat(marker)
    except OSError:
        return
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) != os.getpid() and _holds(pid, (target.st_dev, target.st_ino)):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def _holds(pid: str, file_id: tuple[int, int]) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            info = os.stat(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == file_id:
            return True
    return False
