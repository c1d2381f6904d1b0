"""Fixtures for the whole suite: where things are, and grading from tests as `grader run` does.

The project's checkout and its demo class, the read-only material beside the project
(`../shared`, whose files tests skip without), the course's solution laid out as a student's
package, and `grading`: submissions graded through the runner with small limits.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from grader.assignment import load_assignment
from grader.cases import CaseBook
from grader.grading import GradingOptions, grade
from grader.oracle import answer
from grader.results import CheckResult, RunResult, SubmissionResult
from grader.runner import grade_all
from grader.sandbox import Limits
from grader.submission import discover, load

ROOT = Path(__file__).resolve().parents[1]
LAYER_CHECKS = ("forward.*", "backward.*", "inputs.*")


class Grading:
    """Grading submissions from tests: through the runner, or one submission's checks directly."""

    layer_checks = LAYER_CHECKS

    def options(
        self, seed: int = 0, *, only=LAYER_CHECKS, skip=(), timeout: float = 20.0, **kwargs
    ) -> GradingOptions:
        return GradingOptions(
            seed=seed,
            limits=Limits(call_timeout_s=timeout),
            only=tuple(only),
            skip=tuple(skip),
            **kwargs,
        )

    def paths(
        self,
        paths: list[Path],
        opts: GradingOptions,
        results_path: Path | None = None,
        jobs: int = 2,
    ) -> RunResult:
        return grade_all(
            [load(p) for p in paths], load_assignment(), opts, jobs=jobs, results_path=results_path
        )

    def folder(
        self, folder: Path, opts: GradingOptions, results_path: Path | None = None
    ) -> RunResult:
        return grade_all(
            discover(folder), load_assignment(), opts, jobs=2, results_path=results_path
        )

    def one(self, path: Path, opts: GradingOptions) -> SubmissionResult:
        return self.paths([path], opts).submissions[0]

    def checks(self, path: Path, *patterns: str, seed: int = 11) -> dict[str, CheckResult]:
        """The checks `patterns` select, graded in this process with the default limits."""
        assignment = load_assignment()
        options = GradingOptions(seed=seed, only=patterns)
        result = grade(load(path), assignment, CaseBook(assignment, seed, answer), options)
        return {
            c.id: c for c in result.checks if c.status != "skipped" or "--only" not in c.message
        }

    @staticmethod
    def failing(result: SubmissionResult) -> dict[str, str]:
        """Check id -> status of every check that did not pass (skipped ones are not failures)."""
        return {c.id: c.status for c in result.checks if c.status not in ("passed", "skipped")}


@pytest.fixture(scope="session")
def grading() -> Grading:
    return Grading()


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def submissions() -> Path:
    """The demo class."""
    return ROOT / "submissions"


@pytest.fixture(scope="session")
def correct_layers(submissions: Path) -> str:
    """The source of a correct layers.py from the demo class."""
    return (submissions / "correct_folder" / "layers.py").read_text()


@pytest.fixture(scope="session")
def natural10() -> Path:
    """1,834 real photos beside the project (../shared); tests that need them skip without."""
    path = ROOT.parent / "shared" / "data" / "natural10.npz"
    if not path.is_file():
        pytest.skip(f"{path} is not beside the project")
    return path


@pytest.fixture(scope="session")
def reference_package() -> Callable[[Path], Path]:
    """Lays the course's solution out in `folder` as a student's ie590 package; returns `folder`."""

    def lay_out(folder: Path) -> Path:
        package = folder / "ie590"
        (package / "classifiers").mkdir(parents=True)
        for name in ("layers.py", "layer_utils.py"):
            shutil.copy(ROOT / "reference" / name, package / name)
        shutil.copy(
            ROOT / "reference" / "classifiers" / "cnn.py", package / "classifiers" / "cnn.py"
        )
        (package / "__init__.py").write_text("")
        (package / "classifiers" / "__init__.py").write_text("")
        return folder

    return lay_out
