"""The result model: plain dataclasses with a stable JSON form.

Checks produce `CheckResult`s, the runner groups them into `SubmissionResult`s and a
`RunResult`; renderers only read these. `to_json`/`from_json` are the one place the
`results.json` schema is written down, so instructors' scripts can rely on it.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from grader.errors import ResultsFileError

CheckStatus = Literal["passed", "failed", "error", "timeout", "skipped"]
SubmissionStatus = Literal["graded", "error"]
Visibility = Literal["public", "hidden"]

SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("results.schema.json")
"""The JSON Schema of results.json: what `read` accepts, and a reference for instructors' scripts.
"""


@dataclass
class CheckResult:
    """The outcome of one check on one submission.

    `details` holds plain JSON data for reports (the case, errors, where the maximum
    error occurs, histories, tracebacks); it never holds anything a renderer must
    interpret to decide a grade.
    """

    id: str
    target: str
    name: str
    status: CheckStatus
    score: float
    max_score: float
    visibility: Visibility = "public"
    message: str = ""
    hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    student_message: str | None = None
    """For a hidden check, `message` without the case (its name, shapes, indices, values): which
    function failed and how. Student-facing reports show it instead of `message`."""

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass
class SubmissionResult:
    id: str
    path: str
    sha256: str
    status: SubmissionStatus
    score: float
    max_score: float
    duration_s: float
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def percentage(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**_fields(self), "checks": [_fields(c) for c in self.checks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SubmissionResult":
        return _submission_from_json(data)

    def tally(self) -> None:
        """Score and maximum from the checks; skipped checks do not count towards the maximum.

        Without checks (a submission that could not be graded) the maximum is left as set.
        """
        self.score = round(sum(c.score for c in self.checks), 6)
        if self.checks:
            self.max_score = sum(c.max_score for c in self.checks if c.status != "skipped")


@dataclass
class RunResult:
    grader_version: str
    assignment: str
    seed: int
    created: str
    submissions: list[SubmissionResult] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """Plain data for json.dumps; shallow: large details (filters, histories) are not copied."""
        data = _fields(self)
        data["submissions"] = [s.to_json() for s in self.submissions]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunResult":
        subs = [_submission_from_json(s) for s in data.get("submissions", [])]
        known = {f.name for f in fields(cls)} - {"submissions"}
        return cls(submissions=subs, **{k: v for k, v in data.items() if k in known})

    def write(self, path: Path) -> None:
        """Replace `path` atomically, so an interrupted run never leaves half a file.

        Compact JSON: the file is rewritten after every submission of a class, and indenting
        made it three times larger and slower to write.
        """
        data = self.to_json()
        try:
            text = json.dumps(data, allow_nan=False)
        except ValueError:  # a NaN or inf somewhere in the details: JSON has no such numbers
            text = json.dumps(_finite(data), allow_nan=False)
        write_text_atomic(path, text + "\n")

    @classmethod
    def read(cls, path: Path) -> "RunResult":
        """A results.json read back, or a ResultsFileError saying plainly why it cannot be."""
        return cls.from_json(_validated(Path(path)))


def _validated(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsFileError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ResultsFileError(f"{path} is a folder; give the results.json in it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"{path} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ResultsFileError(f"{path} is not JSON ({exc})") from None
    version = data.get("schema_version", 1) if isinstance(data, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise ResultsFileError(
            f"{path} was written by a newer grader (schema version {version}; "
            f"this one reads up to {SCHEMA_VERSION})"
        )
    problem = best_match(_validator().iter_errors(data))
    if problem is not None:
        where = "/".join(map(str, problem.absolute_path)) or "the top level"
        raise ResultsFileError(
            f"{path} is not a grader results file: at {where}, {problem.message}"
        )
    return data


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def _finite(value: Any) -> Any:
    """`value` with every non-finite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _submission_from_json(data: dict[str, Any]) -> SubmissionResult:
    check_keys = {f.name for f in fields(CheckResult)}
    checks = [
        CheckResult(**{k: v for k, v in c.items() if k in check_keys})
        for c in data.get("checks", [])
    ]
    known = {f.name for f in fields(SubmissionResult)} - {"checks"}
    return SubmissionResult(checks=checks, **{k: v for k, v in data.items() if k in known})


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` whole: a reader sees the old file or the new one, never half.

    The temporary file is opened with mode 0666 less the umask, as `open()` would create it:
    `tempfile.mkstemp` makes it 0600, and report folders are published to other people.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new, exclusively created file beside `path` (a random name, retried on a clash)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
