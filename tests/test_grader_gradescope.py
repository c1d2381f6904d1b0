"""The Gradescope bundle's run_autograder with the real grader, on a Gradescope-like folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

from grader.report import build_gradescope_bundle
from tests.grading_helpers import ROOT, SUBMISSIONS

LAUNCHER = """#!{python}
import sys
sys.path.insert(0, {repo!r})
from grader.cli import main
sys.exit(main())
"""


def test_run_autograder_grades_a_submission_with_the_real_grader(tmp_path):
    root = tmp_path / "autograder"
    shutil.copytree(SUBMISSIONS / "bug_conv_no_bias", root / "submission")
    with zipfile.ZipFile(build_gradescope_bundle(tmp_path / "autograder.zip")) as zf:
        (root / "run_autograder").write_bytes(zf.read("run_autograder"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "grader").write_text(LAUNCHER.format(python=sys.executable, repo=str(ROOT)))
    (bin_dir / "grader").chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    failed = {t["extra_data"]["id"] for t in results["tests"] if t.get("status") == "failed"}
    assert failed == {"forward.conv_forward_naive.public", "forward.conv_forward_naive.hidden"}
    assert 0 < results["score"] < sum(t["max_score"] for t in results["tests"])
    skipped = [t for t in results["tests"] if t["extra_data"]["status"] == "skipped"]
    assert skipped and all(t["max_score"] == 0 and "status" not in t for t in skipped)
    hidden = [t for t in results["tests"] if t["extra_data"]["id"].endswith(".hidden")]
    assert hidden and all(t["visibility"] == "after_published" for t in hidden)
