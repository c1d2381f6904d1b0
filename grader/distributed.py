"""Grading a class on a Dask cluster: `grader run DIR --scheduler tcp://HOST:8786 | local:N`.

Each submission is one task. Its files travel with it (zipped by the coordinator, unpacked
safely on the worker: no shared file system), and so does the assignment file's text; the worker
grades it in its own sandbox with the isolation the coordinator has (or refuses), and sends the
result back as JSON text, never as pickled student data. The coordinating process stays the one
writer of results.json. A worker that dies mid-submission has the submission retried once on
another worker (`distributed.scheduler.allowed-failures = 1`); a second death is recorded as the
submission's error.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from grader import __version__
from grader.assignment import Assignment, assignment_from_text, assignment_text
from grader.errors import SandboxSetupError
from grader.grading import GradingOptions, grade
from grader.results import SubmissionResult
from grader.sandbox import Limits
from grader.sandbox.isolation import strongest, works
from grader.submission import Submission, extract_zip, load

ALLOWED_FAILURES = 1  # a submission whose worker dies is tried once more, elsewhere


def grade_on_cluster(
    to_grade: list[tuple[int, Submission]],
    assignment: Assignment,
    options: GradingOptions,
    scheduler: str,
    finish: Callable[[int, SubmissionResult], None],
) -> None:
    """Send each submission to the cluster as one task; `finish` each result as it returns."""
    from distributed import as_completed

    isolation = strongest(options.isolation, options.python)
    common = {
        "grader_version": __version__,
        "assignment_text": assignment_text(assignment),
        "assignment_source": assignment.source,
        "assignment_version": assignment.version,
        "isolation": isolation,
        "options": _plain_options(options),
    }
    with _client(scheduler) as client:
        futures = {
            client.submit(grade_task, {**common, **_packed(sub)}, pure=False): (i, sub)
            for i, sub in to_grade
        }
        for future in as_completed(futures):
            i, sub = futures[future]
            finish(i, _result(future, sub))


@contextmanager
def _client(scheduler: str) -> Iterator[Any]:
    import dask
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)  # the run's own lines, not Dask's
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if scheduler.startswith("local:"):
            workers = int(scheduler.removeprefix("local:"))
            with (
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):
                yield client
        else:
            with Client(scheduler, timeout="30s") as client:
                yield client


def _result(future: Any, sub: Submission) -> SubmissionResult:
    from distributed import KilledWorker

    try:
        data = json.loads(future.result())
    except KilledWorker:
        return _error(sub, f"the workers grading it died {ALLOWED_FAILURES + 1} times")
    if "refused" in data:
        raise SandboxSetupError(f"a worker cannot grade: {data['refused']}")
    return SubmissionResult.from_json(data)


def _error(sub: Submission, reason: str) -> SubmissionResult:
    return SubmissionResult(
        id=sub.id,
        path=str(sub.path),
        sha256=sub.sha256,
        status="error",
        score=0.0,
        max_score=0.0,
        duration_s=0.0,
        error=reason,
    )


def _packed(sub: Submission) -> dict[str, Any]:
    """The submission's entry as bytes: a zip of a folder, or the file itself."""
    path = Path(sub.path)
    if path.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(path.rglob("*")):
                if file.is_file() and not file.is_symlink():
                    archive.write(file, file.relative_to(path).as_posix())
        return {"name": path.name, "folder": True, "data": buffer.getvalue()}
    return {"name": path.name, "folder": False, "data": path.read_bytes()}


def _plain_options(options: GradingOptions) -> dict[str, Any]:
    return {
        "seed": options.seed,
        "limits": dataclasses.asdict(options.limits),
        "python": options.python,
        "only": list(options.only),
        "skip": list(options.skip),
        "submission_timeout_s": options.submission_timeout_s,
        "data": options.data,
    }


# -- on the worker ---------------------------------------------------------------------------

_books: dict[tuple[str, int], Any] = {}
_books_lock = threading.Lock()


def grade_task(task: dict[str, Any]) -> str:
    """Grade one submission on a Dask worker; the result as JSON text."""
    refusal = _refusal(task)
    if refusal:
        return json.dumps({"refused": refusal})
    assignment = assignment_from_text(task["assignment_text"], task["assignment_source"])
    plain = task["options"]
    options = GradingOptions(
        seed=plain["seed"],
        limits=Limits(**plain["limits"]),
        python=plain["python"],
        isolation=task["isolation"],
        only=tuple(plain["only"]),
        skip=tuple(plain["skip"]),
        submission_timeout_s=plain["submission_timeout_s"],
        data=plain["data"],
    )
    with tempfile.TemporaryDirectory(prefix="grader-task-") as tmp:
        path = Path(tmp) / task["name"]
        if task["folder"]:
            archive = Path(tmp) / "submission.zip"
            archive.write_bytes(task["data"])
            extract_zip(archive, path)
            archive.unlink()
        else:
            path.write_bytes(task["data"])
        result = grade(load(path), assignment, _casebook(assignment, options.seed), options)
    return json.dumps(result.to_json(), default=str)


def _refusal(task: dict[str, Any]) -> str | None:
    """Why this worker must not grade for this run: another grader version or assignment, or
    weaker isolation than the coordinator's."""
    if task["grader_version"] != __version__:
        return f"grader {__version__} on the worker, {task['grader_version']} in the run"
    text_version = assignment_from_text(task["assignment_text"], "task").version
    if text_version != task["assignment_version"]:
        return "the assignment file changed on the way"
    isolation = task["isolation"]
    python = task["options"]["python"]
    if isolation != "none" and not _works(isolation, python or sys.executable):
        return f"{isolation} isolation does not work on this worker (the coordinator has it)"
    return None


def _works(isolation: str, python: str) -> bool:
    try:
        return works(isolation, python)
    except SandboxSetupError:  # the interpreter itself is missing here
        return False


def _casebook(assignment: Assignment, seed: int) -> Any:
    """The run's cases, built once per worker process."""
    from grader import oracle
    from grader.cases import CaseBook

    with _books_lock:
        key = (assignment.version, seed)
        if key not in _books:
            _books[key] = CaseBook(assignment, seed, oracle.answer)
        return _books[key]
