"""Hostile student code: every attack must end as a Reply error, and the next call must work."""

import os
import socket
import sys
import textwrap
import time

import numpy as np
import pytest

from grader.sandbox import Limits, Sandbox
from grader.sandbox.isolation import works
from grader.sandbox.steps import Program, call, names, ref, ret

PYTHON = os.environ.get("SANDBOX_TEST_PYTHON") or sys.executable
BWRAP = works("bwrap", PYTHON)

HOSTILE = """
import ctypes, json, os, socket, sys, threading, time
import numpy as np

def ok():
    return 42

def loop():
    while True:
        pass

def leave(code):
    sys.exit(code)

def hard_exit():
    print("about to leave")
    os._exit(0)

def segfault():
    ctypes.string_at(0)

def allocate(gib):
    return np.ones(int(gib * 2**30 // 8)).sum()

def chatter(megabytes):
    line = "x" * 1023 + "\\n"
    for _ in range(megabytes * 1024):
        sys.stdout.write(line)
    return "done"

def fork_many(n):
    started = 0
    try:
        for _ in range(n):
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
    except OSError:
        pass
    return started

def fork_bomb():
    while True:
        try:
            os.fork()
        except OSError:
            pass

def memory_bomb(n, mib):
    children = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            block = np.ones(mib * 2**20 // 8)
            time.sleep(1)
            os._exit(int(block[0]))
        children.append(pid)
    return [os.waitpid(pid, 0)[1] for pid in children]

def heartbeat(path):
    while True:
        with open(path, "a") as f:
            f.write(".")
        time.sleep(0.02)

def daemon(path):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            heartbeat(path)
        os._exit(0)
    time.sleep(0.2)
    return "spawned"

def background_thread(path):
    threading.Thread(target=heartbeat, args=(path,), daemon=False).start()
    time.sleep(0.1)
    return "started"

def read(path):
    with open(path, "rb") as f:
        return f.read(100).decode("utf-8", "replace")

def write(path):
    with open(path, "w") as f:
        f.write("pwned")
    return "written"

def environment():
    return dict(os.environ)

def loopback_echo():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2) as client:
            conn, _ = server.accept()
            client.sendall(b"ping")
            return conn.recv(4).decode()

def connect(port):
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    return "connected"

def delete_everything():
    for name in os.listdir("."):
        if os.path.isfile(name):
            os.remove(name)
    return sorted(os.listdir("."))

def plant_reply_symlink(target):
    os.symlink(target, os.path.join(os.environ["SANDBOX_CALL_DIR"], "reply.json"))
    os._exit(0)

def plant_array_symlink(target):
    call_dir = os.environ["SANDBOX_CALL_DIR"]
    os.symlink(target, os.path.join(call_dir, "a0.npy"))
    with open(os.path.join(call_dir, "reply.json"), "w") as f:
        json.dump({"status": "ok", "values": {"x": {"$array": "a0.npy"}}}, f)
    os._exit(0)

def kill_server(path):
    if os.fork() == 0:
        os.setsid()
        heartbeat(path)
    os.kill(os.getppid(), 9)
    time.sleep(5)

def patch_numpy():
    np.sum = lambda *a, **k: -1
    return float(np.sum(np.ones(3)))

def numpy_sum():
    return float(np.sum(np.ones(3)))

class Liar:
    @property
    def __class__(self):
        return int
    def __repr__(self):
        raise RuntimeError("no")
    def __eq__(self, other):
        raise RuntimeError("no")

def liar():
    return [Liar()]

def big_reply():
    return np.zeros(2**18)
"""

FILES = {
    "evil/__init__.py": "",
    "evil/code.py": HOSTILE,
    "evil/loops_at_import.py": "while True:\n    pass\n",
    "evil/exits_at_import.py": "import sys\nsys.exit(0)\n",
}


def modes():
    return [
        pytest.param("bwrap", marks=pytest.mark.skipif(not BWRAP, reason="no usable bwrap")),
        "none",
    ]


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    root = tmp_path_factory.mktemp("student")
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


@pytest.fixture(scope="module", params=modes())
def sandbox(request, submission):
    limits = Limits(
        call_timeout_s=5,
        memory_bytes=2 * 2**30,
        max_processes=32,
        max_output_bytes=4096,
        max_reply_bytes=2**20,
        cpu_s=30,
    )
    with Sandbox(submission, isolation=request.param, limits=limits, python=PYTHON) as box:
        yield box


def run(box, func, *args, timeout=None):
    program = Program([call(f"evil.code:{func}", *args, as_="out"), ret(out=ref("out"))])
    return box.run(program, timeout=timeout)


def import_only(module):
    return Program([names(module, as_="n"), ret()])


def assert_healthy(box):
    reply = run(box, "ok")
    assert reply.ok, reply.error
    assert reply.values["out"] == 42


def grows(path, wait_s=0.3):
    before = path.stat().st_size if path.exists() else 0
    time.sleep(wait_s)
    return (path.stat().st_size if path.exists() else 0) > before


def test_infinite_loop_in_a_function_times_out(sandbox):
    reply = run(sandbox, "loop", timeout=1)
    assert reply.error.kind == "timeout" and reply.error.message == "timed out after 1 s"
    assert_healthy(sandbox)


def test_infinite_loop_at_import_times_out(sandbox):
    reply = sandbox.run(import_only("evil.loops_at_import"), timeout=1)
    assert reply.error.kind == "timeout"
    assert_healthy(sandbox)


def test_sys_exit_zero_is_never_success(sandbox):
    for reply in (run(sandbox, "leave", 0), sandbox.run(import_only("evil.exits_at_import"))):
        assert reply.error.kind == "exit" and reply.error.message == "the code called sys.exit(0)"
        assert reply.values == {}
    assert_healthy(sandbox)


def test_os_exit_mid_call(sandbox):
    reply = run(sandbox, "hard_exit")
    assert reply.error.kind == "exit" and "os._exit(0)" in reply.error.message
    assert "about to leave" in reply.stdout


def test_segfault_is_a_crash(sandbox):
    reply = run(sandbox, "segfault")
    assert reply.error.kind == "crash" and "SIGSEGV" in reply.error.message
    assert_healthy(sandbox)


def test_huge_allocation_runs_out_of_memory(sandbox):
    reply = run(sandbox, "allocate", 20)
    assert reply.error.kind == "memory"
    assert reply.error.message == "ran out of memory (limit 2 GiB)"
    assert_healthy(sandbox)


def test_megabytes_of_output_are_truncated(sandbox):
    reply = run(sandbox, "chatter", 8)
    assert reply.ok and reply.values["out"] == "done"
    assert len(reply.stdout) < 4096 + 200 and "output truncated" in reply.stdout


def test_many_children_are_contained(sandbox):
    reply = run(sandbox, "fork_many", 500)
    assert reply.error is None or reply.error.kind == "crash"
    if reply.ok:
        assert reply.values["out"] < 500
    assert_healthy(sandbox)


def test_fork_bomb_is_contained(sandbox):
    reply = run(sandbox, "fork_bomb", timeout=3)
    assert reply.error.kind in ("crash", "timeout")
    assert_healthy(sandbox)


def test_memory_of_all_processes_together_is_capped(submission):
    limits = Limits(memory_bytes=2**30, call_timeout_s=20)
    with Sandbox(submission, isolation="none", limits=limits, python=PYTHON) as box:
        if "cgroup-memory" not in box.protections:
            pytest.skip("no memory cgroup here")
        reply = run(box, "memory_bomb", 4, 700)
        if reply.ok:  # the children were killed, the parent survived to report it
            assert any(os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9 for s in reply.values["out"])
        else:
            assert reply.error.kind == "memory"
        assert_healthy(box)


def test_double_forked_daemon_dies_with_the_call(sandbox):
    beat = sandbox.workspace / "daemon.beat"
    reply = run(sandbox, "daemon", "daemon.beat")
    assert reply.ok and reply.values["out"] == "spawned"
    assert beat.exists() and not grows(beat)


def test_thread_left_running_does_not_leak(sandbox):
    beat = sandbox.workspace / "thread.beat"
    reply = run(sandbox, "background_thread", "thread.beat")
    assert reply.ok and not grows(beat)
    assert_healthy(sandbox)


def test_monkeypatching_does_not_reach_the_next_call(sandbox):
    assert run(sandbox, "patch_numpy").values["out"] == -1
    assert run(sandbox, "numpy_sum").values["out"] == 3.0


@pytest.mark.parametrize("module", ["reference", "grader", "grader.sandbox", "reference.layers"])
def test_forbidden_imports_fail(sandbox, module):
    reply = sandbox.run(import_only(module))
    assert reply.error.kind == "exception"
    top = module.partition(".")[0]
    assert f"ImportError: {top} is not available to submissions" in reply.error.message


def test_environment_is_minimal(sandbox, monkeypatch):
    assert "GRADER_TEST_SECRET" not in run(sandbox, "environment").values["out"]
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
    sandbox._stop()  # a fresh server started with the secret in the parent's environment
    env = run(sandbox, "environment").values["out"]
    assert "GRADER_TEST_SECRET" not in env and "hunter2" not in str(env)
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1" and env.get("OMP_NUM_THREADS") == "1"


@pytest.mark.skipif(not BWRAP, reason="no usable bwrap")
def test_bwrap_hides_files_outside_the_workspace(tmp_path, submission):
    other = tmp_path / "other_student"
    other.mkdir()
    (other / "layers.py").write_text("SECRET = 1\n")
    with Sandbox(submission, isolation="bwrap") as box:
        for path in (__file__, str(other / "layers.py"), "/etc/hostname"):
            reply = run(box, "read", path)
            assert reply.error.kind == "exception" and "FileNotFoundError" in reply.error.message
        reply = run(box, "write", str(tmp_path / "pwned"))
        assert not reply.ok and not (tmp_path / "pwned").exists()
        reply = run(box, "write", "/usr/pwned")
        assert not reply.ok and not os.path.exists("/usr/pwned")


@pytest.mark.skipif(not BWRAP, reason="no usable bwrap")
def test_bwrap_has_no_network(submission):
    with socket.socket() as server, Sandbox(submission, isolation="bwrap") as box:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        reply = run(box, "connect", server.getsockname()[1])
        assert reply.error.kind == "exception"
        assert "Error" in reply.error.message


def test_unshare_fallback_isolates_processes_and_network(submission, monkeypatch):
    from grader.sandbox import isolation

    if not isolation.works("unshare", PYTHON):
        pytest.skip("unshare is not usable here")
    monkeypatch.setattr(isolation, "works", lambda kind, python: kind == "unshare")
    with socket.socket() as server, Sandbox(submission, python=PYTHON) as box:
        assert {"pid-namespace", "network-namespace"} <= set(box.protections)
        assert "mount-namespace" not in box.protections
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert run(box, "connect", server.getsockname()[1]).error.kind == "exception"
        assert run(box, "loopback_echo").values["out"] == "ping"
        beat = box.workspace / "daemon.beat"
        assert run(box, "daemon", "daemon.beat").ok and not grows(beat)


def test_deleting_workspace_files_only_affects_this_sandbox(submission):
    with Sandbox(submission, isolation="none") as box:
        files = sorted(p.name for p in box.workspace.iterdir())
        (box.workspace / "notes.txt").write_text("mine")
        reply = box.run(
            Program([call("evil.code:delete_everything", as_="left"), ret(left=ref("left"))])
        )
        assert reply.ok and "notes.txt" not in reply.values["left"]
    assert (submission / "evil" / "code.py").exists()
    assert sorted(p.name for p in submission.iterdir()) == files


def test_symlink_planted_as_reply_is_refused(sandbox):
    decoy = sandbox.workspace / "decoy.json"
    decoy.write_text('{"status": "ok", "values": {"out": 1}}')
    reply = run(
        sandbox,
        "plant_reply_symlink",
        "/sandbox/decoy.json" if "mount-namespace" in sandbox.protections else str(decoy),
    )
    assert reply.error.kind == "protocol" and "reply.json" in reply.error.message


def test_symlink_planted_as_array_is_refused(sandbox):
    np.save(sandbox.workspace / "decoy.npy", np.ones(2))
    reply = run(
        sandbox,
        "plant_array_symlink",
        "/sandbox/decoy.npy"
        if "mount-namespace" in sandbox.protections
        else str(sandbox.workspace / "decoy.npy"),
    )
    assert reply.error.kind == "protocol" and "a0.npy" in reply.error.message


def test_oversize_reply_is_a_protocol_error(sandbox):
    reply = run(sandbox, "big_reply")
    assert reply.error.kind == "protocol" and "exceed" in reply.error.message


def test_lying_object_is_opaque(sandbox):
    reply = run(sandbox, "liar")
    assert reply.ok, reply.error
    (value,) = reply.values["out"]
    assert value.type_name == "Liar" and "repr failed" in value.summary


def test_killing_the_server_reports_and_recovers(sandbox):
    beat = sandbox.workspace / "orphan.beat"
    reply = run(sandbox, "kill_server", "orphan.beat")
    assert reply.error.kind == "crash" and "server" in reply.error.message
    assert not grows(beat)
    assert_healthy(sandbox)


def test_cpu_limit(submission):
    with Sandbox(submission, isolation="none", limits=Limits(cpu_s=1)) as box:
        reply = run(box, "loop", timeout=10)
    assert reply.error.kind == "timeout" and "CPU" in reply.error.message
