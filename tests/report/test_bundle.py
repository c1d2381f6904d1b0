"""The Gradescope autograder zip and its run_autograder, tried in a folder laid out like
Gradescope's.

A stub `grader` on PATH stands in for the real one (tests/report/test_autograder.py runs that):
it checks the arguments run_autograder passes and renders a sample RunResult with the real
renderer.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.errors import AssignmentError
from grader.cli import main
from grader.report import build_gradescope_bundle
from grader.errors import BundleError
from grader.report.bundle import BundleOptions
from grader.results import RunResult


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n")


def test_bundle_holds_scripts_and_clean_source(tmp_path):
    project = tmp_path / "project"
    kept = [
        "pyproject.toml",
        "grader/cli.py",
        "grader/sandbox/limits.c",
        "reference/im2col_cython.pyx",
        "grader/report/templates/index.html",
    ]
    dropped = [
        ".git/HEAD",
        "build/lib/x.py",
        "dist/x.whl",
        "reports/index.html",
        "grader/__pycache__/x.pyc",
        "convnet_grader.egg-info/PKG-INFO",
        "reference/im2col_cython.c",
        "reference/im2col_cython.so",
        ".venv/bin/python",
        "env2/pyvenv.cfg",
        "env2/lib/site.py",
        "submissions/alice/layers.py",
        "old_bundle.zip",
    ]
    make_tree(project, kept + dropped)
    (project / "link").symlink_to(tmp_path)
    out = build_gradescope_bundle(tmp_path / "out" / "autograder.zip", project_source=project)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        scripts = {"setup.sh", "run_autograder", "autograder.json"}
        assert names == {*scripts, *(f"source/{n}" for n in kept)}
        for script in ("setup.sh", "run_autograder"):
            assert modes[script] & stat.S_IXUSR
        assert b"source/source" in zf.read("setup.sh") and zf.read("run_autograder").startswith(
            b"#!"
        )
    again = build_gradescope_bundle(tmp_path / "again.zip", project_source=project)
    assert again.read_bytes() == out.read_bytes(), "the same tree gives the same zip"


def test_bundle_defaults_to_this_repository(tmp_path):
    with zipfile.ZipFile(build_gradescope_bundle(tmp_path / "autograder.zip")) as zf:
        names = set(zf.namelist())
    assert {
        "source/pyproject.toml",
        "source/grader/report/bundle.py",
        "source/grader/results.py",
    } <= names
    assert not any(
        "/.git/" in n or "__pycache__" in n or n.endswith((".so", ".pyc")) for n in names
    )


def test_bundle_rejects_missing_source(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        build_gradescope_bundle(tmp_path / "a.zip", project_source=tmp_path / "missing")


DEFAULT_ARGS = [
    "--timeout",
    "60",
    "--submission-timeout",
    "900",
    "--seed",
    "submission",
    "--data",
    "builtin",
]

STUB = """#!{python}
import os
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
args = sys.argv[1:]
behaviour = {behaviour!r}
assert args[:2] == ["check", {submission!r}] and args[2] == "--out", args
assert args[4:6] == ["--format", "gradescope"] and args[6:] == {expected!r}, args
assert Path.cwd() == Path({bundle!r}), "paths in the arguments are relative to the unpacked bundle"
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
from grader.results import RunResult
render(RunResult.read(Path({run!r})), Path(args[3]), ["gradescope"])
"""


def unpack(bundle: Path, root: Path) -> Path:
    """What Gradescope does: the zip into root/source, run_autograder copied to root."""
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    script = root / "run_autograder"
    script.write_bytes((root / "source" / "run_autograder").read_bytes())
    script.chmod(0o755)
    return script


def run_autograder(
    tmp_path: Path,
    repo: Path,
    run: RunResult,
    behaviour: str | None,
    timeout_s: str | None = "60",
    options: BundleOptions = BundleOptions(),
    expected: list[str] = DEFAULT_ARGS,
) -> dict:
    """Unpack the bundle into a Gradescope-like root and run its run_autograder; the stub
    grader renders `run`."""
    run.write(tmp_path / "run.json")
    root = tmp_path / "autograder"
    (root / "submission" / "ie590").mkdir(parents=True)
    script = unpack(build_gradescope_bundle(tmp_path / "autograder.zip", options=options), root)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if behaviour is not None:
        stub = bin_dir / "grader"
        stub.write_text(
            STUB.format(
                python=sys.executable,
                repo=str(repo),
                behaviour=behaviour,
                submission=str(root / "submission"),
                expected=expected,
                bundle=str(root / "source"),
                run=str(tmp_path / "run.json"),
            )
        )
        stub.chmod(0o755)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
    }
    env.pop("AUTOGRADER_TIMEOUT_S", None)
    if timeout_s is not None:
        env["AUTOGRADER_TIMEOUT_S"] = timeout_s
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_copies_the_grader_results(tmp_path, project_root, single_run):
    run = single_run()
    results = run_autograder(tmp_path, project_root, run, "ok")
    assert results["score"] == run.submissions[0].score
    assert len(results["tests"]) == len(run.submissions[0].checks)


@pytest.mark.parametrize(
    "behaviour, says",
    [
        ("crash", "Traceback: the grader fell over"),
        ("garbage", "without valid results"),
        (None, "not installed"),
        ("hang", "longer than 1 s"),
    ],
)
def test_run_autograder_reports_a_crash_as_score_zero(
    tmp_path, project_root, single_run, behaviour, says
):
    results = run_autograder(tmp_path, project_root, single_run(), behaviour, timeout_s="1")
    assert results["score"] == 0 and results["tests"] == []
    assert says in results["output"]


def test_run_autograder_passes_the_bundle_options_to_the_grader(tmp_path, project_root, single_run):
    assignment = tmp_path / "course.toml"
    assignment.write_text((project_root / "grader" / "assignments" / "convnets.toml").read_text())
    np.savez(tmp_path / "photos.npz", x=np.zeros((4, 32, 32, 3), np.uint8), y=np.arange(4))
    options = BundleOptions(
        assignment=assignment,
        only=("forward.*", "backward.*"),
        skip=("*.hidden",),
        timeout_s=5,
        submission_timeout_s=2000,
        data=f"npz:{tmp_path / 'photos.npz'}",
        seed=11,
    )
    expected = [
        "--timeout",
        "5",
        "--submission-timeout",
        "2000",
        "--seed",
        "11",
        "--assignment",
        "assignment.toml",
        "--data",
        "npz:data/photos.npz",
        "--only",
        "forward.*",
        "--only",
        "backward.*",
        "--skip",
        "*.hidden",
    ]
    run = single_run()
    results = run_autograder(
        tmp_path, project_root, run, "ok", timeout_s=None, options=options, expected=expected
    )
    assert results["score"] == run.submissions[0].score
    source = tmp_path / "autograder" / "source"
    assert (source / "assignment.toml").read_bytes() == assignment.read_bytes()
    assert (source / "data" / "photos.npz").read_bytes() == (tmp_path / "photos.npz").read_bytes()
    settings = json.loads((source / "autograder.json").read_text())
    assert settings == {"grader_args": expected, "timeout_s": 2300.0}


def test_run_autograder_without_its_options_reports_why(tmp_path):
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    script = unpack(build_gradescope_bundle(tmp_path / "autograder.zip"), root)
    (root / "source" / "autograder.json").write_text('{"grader_args": "--seed 1"}')
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, timeout=60, check=True
    )
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "no list of grader arguments" in results["output"]


@pytest.mark.parametrize(
    "options, error, says",
    [
        (BundleOptions(timeout_s=0), BundleError, "must be positive"),
        (BundleOptions(seed=-1), BundleError, "the seed must be"),
        (BundleOptions(data="npz:/nowhere/photos.npz"), BundleError, "no such file"),
        (BundleOptions(data="cifar10:relative/cifar-10-batches-py"), BundleError, "absolute path"),
        (BundleOptions(data="imagenet"), BundleError, "is not understood"),
        (BundleOptions(assignment=Path("/nowhere/course.toml")), AssignmentError, "cannot read"),
    ],
)
def test_bundle_options_that_cannot_work_are_refused_before_writing(tmp_path, options, error, says):
    with pytest.raises(error, match=says):
        build_gradescope_bundle(tmp_path / "autograder.zip", options=options)
    assert not (tmp_path / "autograder.zip").exists()


def test_a_cifar10_folder_on_the_image_is_passed_as_given(tmp_path):
    options = BundleOptions(data="cifar10:/data/cifar-10-batches-py")
    with zipfile.ZipFile(build_gradescope_bundle(tmp_path / "a.zip", options=options)) as zf:
        args = json.loads(zf.read("autograder.json"))["grader_args"]
        assert not [n for n in zf.namelist() if n.startswith("data/")]
    assert args[args.index("--data") + 1] == "cifar10:/data/cifar-10-batches-py"


def test_the_bundle_command_writes_its_options_and_refuses_bad_ones(tmp_path, capsys):
    out = tmp_path / "autograder.zip"
    assert (
        main(
            ["gradescope-bundle", str(out), "--only", "forward.*", "--seed", "5", "--timeout", "30"]
        )
        == 0
    )
    with zipfile.ZipFile(out) as zf:
        args = json.loads(zf.read("autograder.json"))["grader_args"]
    assert args == [
        "--timeout",
        "30",
        "--submission-timeout",
        "900",
        "--seed",
        "5",
        "--data",
        "builtin",
        "--only",
        "forward.*",
    ]
    capsys.readouterr()
    assert main(["gradescope-bundle", str(tmp_path / "b.zip"), "--data", "npz:/nowhere.npz"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["gradescope-bundle", str(tmp_path / "b.zip"), "--timeout", "-1"]) == 2
    assert "must be positive" in capsys.readouterr().err
    assert not (tmp_path / "b.zip").exists()
