"""Grading a class: submissions in parallel, results on disk after every one.

`results.json` is rewritten atomically each time a submission finishes, so an interrupted
run (a crash, Ctrl-C) leaves every completed grade on disk.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable

from threadpoolctl import threadpool_limits

from grader import __version__, oracle
from grader.assignment import Assignment
from grader.cases import CaseBook
from grader.checks import validate
from grader.data import parse_source, training_data
from grader.grading import GradingOptions, grade
from grader.results import RunResult, SubmissionResult
from grader.cache import GradeCache
from grader.distributed import grade_on_cluster
from grader.sandbox import Sandbox, interrupt_all, resume_all
from grader.submission import Submission

PREFLIGHT_IMAGES = 10


def new_run(assignment: Assignment, options: GradingOptions) -> RunResult:
    return RunResult(
        grader_version=__version__,
        assignment=assignment.name,
        seed=options.seed,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        details={
            "assignment_source": assignment.source,
            "assignment_version": assignment.version,
            "only": list(options.only),
            "skip": list(options.skip),
        },
    )


def grade_all(
    submissions: Iterable[Submission],
    assignment: Assignment,
    options: GradingOptions,
    *,
    jobs: int = 1,
    results_path: Path | None = None,
    on_done: Callable[[SubmissionResult], None] | None = None,
    cache: GradeCache | None = None,
    regrade: Callable[[Submission], bool] = lambda sub: False,
    scheduler: str | None = None,
) -> RunResult:
    """Grade every submission; results keep the submissions' order whatever finishes first.

    With a `cache`, a submission whose files were graded before under the same run key is not
    graded again (unless `regrade` says so): its stored grade is reused, marked `reused`. With a
    Dask `scheduler` ("tcp://HOST:PORT" or "local:N"), the submissions are graded on its workers.
    """
    submissions = list(submissions)
    run = new_run(assignment, options)
    validate(assignment)
    _preflight(assignment, options)
    casebook = CaseBook(assignment, options.seed, oracle.answer)
    _build_cases(casebook, assignment)
    done: dict[int, SubmissionResult] = {}
    lock = threading.Lock()

    def finish(index: int, result: SubmissionResult, fresh: bool = True) -> None:
        with lock:
            done[index] = result
            run.submissions = [done[i] for i in sorted(done)]
            if cache is not None and fresh and result.sha256:
                cache.put(result)
            if results_path is not None:
                run.write(results_path)
        if on_done:
            on_done(result)

    to_grade = []
    for i, sub in enumerate(submissions):
        stored = _stored(cache, sub) if cache is not None and not regrade(sub) else None
        if stored is not None:
            finish(i, stored, fresh=False)
        else:
            to_grade.append((i, sub))
    if scheduler is not None:
        grade_on_cluster(to_grade, assignment, options, scheduler, finish)
        return run
    # Submissions already run in parallel; BLAS threads on top of that slow the grader's own
    # reference work (training, accuracies) several times over on a busy machine.
    options = dataclasses.replace(options, stop=threading.Event())
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
    ):
        futures = {pool.submit(grade, sub, assignment, casebook, options): i for i, sub in to_grade}
        try:
            for future in as_completed(futures):
                finish(futures[future], future.result())
        except BaseException:
            # Ctrl-C, SIGTERM: the sandboxes in progress are killed, so their submissions stop
            # at once and are not recorded; every complete grade is already in results.json.
            options.stop.set()
            interrupt_all()
            pool.shutdown(wait=True, cancel_futures=True)
            resume_all()
            raise
    return run


def _stored(cache: GradeCache, sub: Submission) -> SubmissionResult | None:
    """The submission's stored grade under its current name and path."""
    stored = cache.get(sub.sha256) if sub.sha256 else None
    if stored is None:
        return None
    stored.id, stored.path = sub.id, str(sub.path)
    stored.details["reused"] = True
    return stored


def _preflight(assignment: Assignment, options: GradingOptions) -> None:
    """Stop before grading on what would fail every submission alike: a sandbox that cannot start
    (a wrong --python, --isolation bwrap without bwrap) or training data that cannot be read."""
    with tempfile.TemporaryDirectory(prefix="grader-preflight-") as empty:
        Sandbox(
            Path(empty), limits=options.limits, python=options.python, isolation=options.isolation
        ).close()
    if any(spec.kind == "training" and options.selects(spec.id) for spec in assignment.checks):
        training_data(parse_source(options.data), PREFLIGHT_IMAGES, PREFLIGHT_IMAGES)


def _build_cases(casebook: CaseBook, assignment: Assignment) -> None:
    """Build every case up front: a broken case fails the run at once; threads then only read."""
    for spec in assignment.checks:
        for name in spec.cases:
            casebook.get(spec.family, name)
