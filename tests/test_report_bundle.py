"""The Gradescope autograder zip and its run_autograder, tried in a folder laid out like Gradescope's.

Until `grader check` exists, a stub `grader` on PATH stands in for it: it checks the
arguments run_autograder passes and renders a fixture RunResult with the real renderer.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.report import build_gradescope_bundle
from tests.report_fixtures import single_run

REPO = Path(__file__).resolve().parents[1]


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n")


def test_bundle_holds_scripts_and_clean_source(tmp_path):
    project = tmp_path / "project"
    kept = ["pyproject.toml", "grader/cli.py", "grader/sandbox/limits.c", "reference/im2col_cython.pyx",
            "grader/report/templates/index.html"]
    dropped = [".git/HEAD", "build/lib/x.py", "dist/x.whl", "reports/index.html", "grader/__pycache__/x.pyc",
               "convnet_grader.egg-info/PKG-INFO", "reference/im2col_cython.c", "reference/im2col_cython.so",
               ".venv/bin/python", "env2/pyvenv.cfg", "env2/lib/site.py", "submissions/alice/layers.py",
               "old_bundle.zip"]
    make_tree(project, kept + dropped)
    (project / "link").symlink_to(tmp_path)
    out = build_gradescope_bundle(tmp_path / "out" / "autograder.zip", project_source=project)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        assert names == {"setup.sh", "run_autograder", *(f"source/{n}" for n in kept)}
        for script in ("setup.sh", "run_autograder"):
            assert modes[script] & stat.S_IXUSR
        assert b"source/source" in zf.read("setup.sh") and zf.read("run_autograder").startswith(b"#!")
    again = build_gradescope_bundle(tmp_path / "again.zip", project_source=project)
    assert again.read_bytes() == out.read_bytes(), "the same tree gives the same zip"


def test_bundle_defaults_to_this_repository(tmp_path):
    with zipfile.ZipFile(build_gradescope_bundle(tmp_path / "autograder.zip")) as zf:
        names = set(zf.namelist())
    assert {"source/pyproject.toml", "source/grader/report/bundle.py", "source/grader/results.py"} <= names
    assert not any("/.git/" in n or "__pycache__" in n or n.endswith((".so", ".pyc")) for n in names)


def test_bundle_rejects_missing_source(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        build_gradescope_bundle(tmp_path / "a.zip", project_source=tmp_path / "missing")


STUB = """#!{python}
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
args = sys.argv[1:]
behaviour = {behaviour!r}
assert args[:2] == ["check", {submission!r}] and args[2] == "--out" and args[4:] == ["--format", "gradescope"], args
if behaviour == "crash":
    print("Traceback: the grader fell over", file=sys.stderr)
    sys.exit(3)
if behaviour == "garbage":
    Path(args[3], "gradescope.json").write_text("{{not json")
    sys.exit(0)
if behaviour == "hang":
    import time
    time.sleep(30)
from grader.report import render
from tests.report_fixtures import single_run
render(single_run(), Path(args[3]), ["gradescope"])
"""


def run_autograder(tmp_path: Path, behaviour: str | None, timeout_s: str = "60") -> dict:
    """Unpack the bundle's run_autograder into a Gradescope-like root and run it."""
    root = tmp_path / "autograder"
    (root / "submission" / "ie590").mkdir(parents=True)
    with zipfile.ZipFile(build_gradescope_bundle(tmp_path / "autograder.zip")) as zf:
        script = root / "run_autograder"
        script.write_bytes(zf.read("run_autograder"))
    script.chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if behaviour is not None:
        stub = bin_dir / "grader"
        stub.write_text(STUB.format(python=sys.executable, repo=str(REPO), behaviour=behaviour,
                                    submission=str(root / "submission")))
        stub.chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_TIMEOUT_S": timeout_s,
           "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_copies_the_grader_results(tmp_path):
    results = run_autograder(tmp_path, "ok")
    assert results["score"] == single_run().submissions[0].score
    assert len(results["tests"]) == len(single_run().submissions[0].checks)


@pytest.mark.parametrize("behaviour, says", [
    ("crash", "Traceback: the grader fell over"),
    ("garbage", "without valid results"),
    (None, "not installed"),
    ("hang", "longer than 1 s"),
])
def test_run_autograder_reports_a_crash_as_score_zero(tmp_path, behaviour, says):
    results = run_autograder(tmp_path, behaviour, timeout_s="1")
    assert results["score"] == 0 and results["tests"] == []
    assert says in results["output"]
