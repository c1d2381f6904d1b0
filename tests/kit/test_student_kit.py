"""The student kit: built from the assignment, installed in a fresh environment without the
project, it runs the public checks and agrees with the full grader, holding no solution."""

from __future__ import annotations

import ast
import inspect
import io
import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.cases import CaseBook
from grader.assignment import assignment_text
from grader.kit.build import build_kit, kit_contents
from grader.oracle import COURSE, answer
from grader.runner import grade_all
from grader.grading import GradingOptions
from grader.sandbox import Limits
from grader.submission import load
from grader.workspace import PROVIDED
from reference import layer_utils, layers, solver
from reference.classifiers import cnn

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "submissions"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_kit(load_assignment(), tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def kit_env(wheel, tmp_path_factory) -> Path:
    """A fresh venv with only the kit installed; its dependencies (NumPy, rich, ...) are shared
    read-only from this environment's site-packages, whose own .pth files (the project's
    editable install) are not processed there."""
    env = tmp_path_factory.mktemp("env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    python = env / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env


def run_kit(env: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [env / "bin" / "grader-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=env,  # not the project's checkout, whose folders would import
    )


def test_neither_the_solution_nor_the_grader_imports_where_the_kit_is_installed(kit_env, tmp_path):
    for module in ("reference", "grader"):
        done = subprocess.run(
            [kit_env / "bin" / "python", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr


def test_the_kit_checks_a_package_and_names_the_mistake(kit_env, tmp_path):
    done = run_kit(kit_env, str(DEMO / "bug_conv_kernel_flipped"), "--json", str(tmp_path / "r"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"assignment version {load_assignment().version}" in done.stdout
    assert "kernel flipped" in done.stdout
    result = json.loads((tmp_path / "r").read_text())["submissions"][0]
    statuses = {c["id"]: c["status"] for c in result["checks"]}
    assert statuses["forward.conv_forward_naive.public"] == "failed"
    assert statuses["forward.max_pool_forward_naive.public"] == "passed"
    assert not any(c["visibility"] == "hidden" for c in result["checks"])


def _installed_texts(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _bodies(source: str) -> set[str]:
    """Every function body of `source` longer than one statement, docstring left out, in one
    normal form (ast.unparse), so layout cannot hide a copy."""
    bodies = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            if len(body) > 1:
                bodies.add("\n".join(ast.unparse(stmt) for stmt in body))
    return bodies


def test_no_function_body_of_the_solution_is_in_the_kit(wheel):
    installed = _installed_texts(wheel)
    solution = set().union(
        *(_bodies(inspect.getsource(m)) for m in (layers, layer_utils, cnn, solver))
    )
    assert len(solution) > 20
    kit = set().union(*(_bodies(t.decode()) for n, t in installed.items() if n.endswith(".py")))
    assert not solution & kit, f"solution code in the kit: {sorted(solution & kit)[:1]}"
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module
        for name, text in installed.items()
        if name.endswith(".py")
        for node in ast.walk(ast.parse(text.decode()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in getattr(node, "names", [])
    }
    assert not {m for m in imported if m and m.split(".")[0] in ("reference", "grader")}
    assert not any("oracle" in name for name in installed)


def test_no_hidden_case_and_no_hidden_answer_is_in_the_kit(wheel):
    texts = _installed_texts(wheel)
    meta = json.loads(next(v for k, v in texts.items() if k.endswith("data/kit.json")))
    full = load_assignment()
    hidden = {(s.family, n) for s in full.checks if s.visibility == "hidden" for n in s.cases}
    kit_cases = {(f, n) for f, table in meta["assignment"]["cases"].items() for n in table}
    assert kit_cases and not kit_cases & hidden
    assert all(c.get("visibility", "public") == "public" for c in meta["assignment"]["checks"])
    with np.load(
        io.BytesIO(next(v for k, v in texts.items() if k.endswith("recording.npz")))
    ) as npz:
        recorded = [npz[k] for k in npz.files if k != "structure"]
    for seed in (0, meta["seed"]):
        book = CaseBook(full, seed, answer)
        for family, name in hidden:
            case = book.get(family, name)
            for expected in (case.ref_out, *case.ref_grads):
                assert not any(
                    a.shape == expected.shape and np.array_equal(a, expected) for a in recorded
                ), f"hidden answer of {family}.{name} in the kit"


def test_the_kit_grades_the_demo_class_as_the_full_grader_grades_its_public_checks(
    kit_env, tmp_path
):
    full = load_assignment()
    kit = kit_contents(tomllib.loads(assignment_text(full)))
    ids = [c["id"] for c in kit.data["checks"]]
    subs = [
        _as_handed_out(p, tmp_path)
        for p in sorted(DEMO.iterdir())
        if p.suffix != ".zip" and "slow" not in p.name
    ]
    run = grade_all(
        [load(p) for p in subs],
        full,
        GradingOptions(seed=0, limits=Limits(call_timeout_s=30), only=tuple(ids)),
        jobs=2,
    )
    for path, graded in zip(subs, run.submissions):
        out = tmp_path / f"{path.stem}.json"
        done = run_kit(kit_env, str(path), "-q", "--json", str(out))
        assert done.returncode in (0, 1), done.stdout + done.stderr
        by_kit = {c["id"]: c for c in json.loads(out.read_text())["submissions"][0]["checks"]}
        for check in graded.checks:
            if check.id not in ids:
                continue
            mine = by_kit[check.id]
            assert (mine["status"], mine["score"]) == (check.status, check.score), (
                f"{path.name} {check.id}: kit {mine['status']} {mine['score']}, "
                f"grader {check.status} {check.score}"
            )


def _as_handed_out(path: Path, tmp_path: Path) -> Path:
    """A demo package with the course's provided files in it, as a student's folder has them (the
    full grader brings its own copies when they are missing or broken; the kit has none)."""
    if path.is_file():
        return path
    target = tmp_path / "class" / path.name
    shutil.copytree(path, target)
    package = next(p.parent for p in target.rglob("layers.py"))
    for module in PROVIDED:
        for name, source in COURSE.sources(module).items():
            if name.endswith(".py"):  # the course's files, as handed out (pure-NumPy im2col)
                shutil.copyfile(source, package / name)
    return target


HOSTILE = """
import sys, time

def conv_forward_naive(x, w, b, conv_param):
    sys.exit(3)

def max_pool_forward_naive(x, pool_param):
    while True:
        pass
"""


def test_student_code_that_exits_or_hangs_gets_a_message_not_a_frozen_terminal(kit_env, tmp_path):
    (tmp_path / "layers.py").write_text(HOSTILE)
    done = run_kit(kit_env, str(tmp_path / "layers.py"), "--timeout", "3", timeout=240)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "sys.exit" in done.stdout or "SystemExit" in done.stdout
    assert "timed out" in done.stdout or "TIMEOUT" in done.stdout


CONV = """import numpy as np

def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)
"""
RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=300, kernel_name="python3").execute()
nbformat.write(nb, sys.argv[1])
"""


def test_check_in_a_notebook_shows_a_pass_then_the_bug_of_a_redefined_function(kit_env, tmp_path):
    import nbformat

    package = kit_contents(tomllib.loads(assignment_text(load_assignment()))).data["name"]
    kit = f"{package.lower()}_kit"
    cells = [
        CONV,
        f"from {kit} import check\ncheck('conv_forward_naive')",
        CONV.replace(" + b[f]", ""),
        "check('conv_forward_naive')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path = tmp_path / "student.ipynb"
    nbformat.write(notebook, path)
    done = subprocess.run(
        [kit_env / "bin" / "python", "-c", RUN_NOTEBOOK, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    executed = nbformat.read(path, as_version=4)

    def shown(cell: int) -> str:
        data = executed.cells[cell].outputs[0]["data"]
        return data["text/html"] + data["text/plain"]

    assert "PASS" in shown(1) and "forward.conv_forward_naive.public" in shown(1)
    assert "FAIL" not in shown(1)
    assert "FAIL" in shown(3) and "without the bias" in shown(3)
    assert "x.shape [2, 3, 4, 4]" in shown(3), "the failing case's shapes"


def test_the_kit_shows_a_counterexample_it_can_judge_without_the_solution(kit_env, tmp_path):
    """A backward that disagrees with its own forward: the kit shrinks it with the numeric
    gradient of the student's forward (it has no answers for fresh inputs)."""
    student = _as_handed_out(DEMO / "bug_maxpool_whole_window", tmp_path)
    out = tmp_path / "r.json"
    done = run_kit(kit_env, str(student), "-q", "--json", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    checks = {c["id"]: c for c in json.loads(out.read_text())["submissions"][0]["checks"]}
    found = checks["backward.max_pool_backward_naive.public"]["details"]["counterexample"]
    assert "numeric gradient of your forward" in found["code"]
    assert "expected" not in found["code"], "no answer of the course's for a fresh input"
    assert "numeric gradient of your forward" in done.stdout
    assert not any(
        "counterexample" in c["details"] for c in checks.values() if c["id"].startswith("forward")
    )
