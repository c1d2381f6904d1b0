"""The Gradescope bundle's run_autograder with the real grader, on a Gradescope-like folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from grader.assignment import load_assignment
from grader.cli import main
from grader.report import build_gradescope_bundle
from grader.report.bundle import BundleOptions
from grader.submission import load

LAUNCHER = """#!{python}
import sys
sys.path.insert(0, {repo!r})
from grader.cli import main
sys.exit(main())
"""


def grade_on_gradescope(
    tmp_path: Path, repo: Path, submission: Path, options: BundleOptions = BundleOptions()
) -> dict:
    """Build the bundle, lay it out as Gradescope does, and grade `submission` with it."""
    root = tmp_path / "autograder"
    shutil.copytree(submission, root / "submission")
    bundle = build_gradescope_bundle(tmp_path / "autograder.zip", options=options)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "grader").write_text(LAUNCHER.format(python=sys.executable, repo=str(repo)))
    (bin_dir / "grader").chmod(0o755)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        [sys.executable, str(root / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_grades_a_submission_with_the_real_grader(
    tmp_path, project_root, submissions
):
    results = grade_on_gradescope(tmp_path, project_root, submissions / "bug_conv_no_bias")
    failed = {t["extra_data"]["id"] for t in results["tests"] if t.get("status") == "failed"}
    # the wrong forward, and the input-safety and speed points that go only with a correct one
    assert failed == {
        "forward.conv_forward_naive.public",
        "forward.conv_forward_naive.hidden",
        "inputs.conv_forward_naive.all",
        "speed.conv_forward_naive.vs_course",
    }
    assert 0 < results["score"] < sum(t["max_score"] for t in results["tests"])
    skipped = [t for t in results["tests"] if t["extra_data"]["status"] == "skipped"]
    assert skipped and all(t["max_score"] == 0 and "status" not in t for t in skipped)
    hidden = [t for t in results["tests"] if t["extra_data"]["id"].endswith(".hidden")]
    assert hidden and all(t["visibility"] == "after_published" for t in hidden)


def with_points(text: str, points: dict[str, float]) -> str:
    """The assignment file `text` with the points of some checks changed."""
    for check_id, value in points.items():
        block = rf'(id = "{re.escape(check_id)}"(?:(?!\[\[checks\]\]).)*?\npoints = )[0-9.]+'
        text, count = re.subn(block, rf"\g<1>{value}", text, count=1, flags=re.DOTALL)
        assert count == 1, check_id
    return text


def test_a_bundle_with_a_custom_assignment_file_grades_with_its_points(
    tmp_path, project_root, submissions
):
    course = tmp_path / "course.toml"
    builtin = (project_root / "grader" / "assignments" / "convnets.toml").read_text()
    points = {"forward.conv_forward_naive.public": 7.5, "forward.max_pool_forward_naive.public": 5}
    course.write_text(with_points(builtin, points))
    builtin_points = {c.id: c.points for c in load_assignment().checks}
    assert all(builtin_points[i] != p for i, p in points.items()), "the test must change the points"
    options = BundleOptions(assignment=course, only=tuple(points), seed=3)
    results = grade_on_gradescope(
        tmp_path / "gs", project_root, submissions / "bug_conv_no_bias", options
    )
    scored = {
        t["extra_data"]["id"]: (t["score"], t["max_score"])
        for t in results["tests"]
        if t["extra_data"]["status"] != "skipped"
    }
    # the conv forward misses its bias and fails; max pooling passes with the file's 5 points
    assert scored == {
        "forward.conv_forward_naive.public": (0.0, 7.5),
        "forward.max_pool_forward_naive.public": (5.0, 5.0),
    }
    assert results["score"] == 5.0


def test_check_draws_the_seed_from_the_submission_when_asked(tmp_path, submissions):
    def seed_of(path: Path, out: Path) -> int:
        main(
            [
                "check",
                str(path),
                "--seed",
                "submission",
                "--only",
                "forward.relu*",
                "--out",
                str(out),
                "--format",
                "json",
            ]
        )
        return json.loads((out / "results.json").read_text())["seed"]

    copy = tmp_path / "copy"
    shutil.copytree(submissions / "bug_conv_no_bias", copy)
    first = seed_of(submissions / "bug_conv_no_bias", tmp_path / "a")
    assert first == seed_of(copy, tmp_path / "b") == load(copy).seed, "same bytes, same seed"
    assert seed_of(submissions / "bug_conv_kernel_flipped", tmp_path / "c") != first
    assert main(["run", str(submissions), "--seed", "submission"]) == 2
