"""Grading submissions from tests, the way `grader run` does, with small limits."""

from __future__ import annotations

from pathlib import Path

from grader.assignment import load_assignment
from grader.grading import GradingOptions
from grader.results import RunResult, SubmissionResult
from grader.runner import grade_all
from grader.sandbox import Limits
from grader.submission import discover, load

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
LAYER_CHECKS = ("forward.*", "backward.*", "inputs.*")


def options(seed: int = 0, *, only=LAYER_CHECKS, skip=(), timeout: float = 20.0, **kwargs) -> GradingOptions:
    return GradingOptions(seed=seed, limits=Limits(call_timeout_s=timeout), only=tuple(only), skip=tuple(skip), **kwargs)


def grade_paths(paths: list[Path], opts: GradingOptions, results_path: Path | None = None, jobs: int = 2) -> RunResult:
    return grade_all([load(p) for p in paths], load_assignment(), opts, jobs=jobs, results_path=results_path)


def grade_folder(folder: Path, opts: GradingOptions, results_path: Path | None = None) -> RunResult:
    return grade_all(discover(folder), load_assignment(), opts, jobs=2, results_path=results_path)


def grade_one(path: Path, opts: GradingOptions) -> SubmissionResult:
    return grade_paths([path], opts).submissions[0]


def failing(result: SubmissionResult) -> dict[str, str]:
    """Check id -> status of every check that did not pass (skipped ones are not failures)."""
    return {c.id: c.status for c in result.checks if c.status not in ("passed", "skipped")}
