"""The result model: plain dataclasses with a stable JSON form.

Checks produce `CheckResult`s, the runner groups them into `SubmissionResult`s and a
`RunResult`; renderers only read these. `to_json`/`from_json` are the one place the
`results.json` schema is written down, so instructors' scripts can rely on it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

CheckStatus = Literal["passed", "failed", "error", "timeout", "skipped"]
SubmissionStatus = Literal["graded", "error"]
Visibility = Literal["public", "hidden"]

SCHEMA_VERSION = 1


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
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunResult":
        subs = [_submission_from_json(s) for s in data.get("submissions", [])]
        known = {f.name for f in fields(cls)} - {"submissions"}
        return cls(submissions=subs, **{k: v for k, v in data.items() if k in known})

    def write(self, path: Path) -> None:
        """Replace `path` atomically, so an interrupted run never leaves half a file."""
        write_text_atomic(path, json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n")

    @classmethod
    def read(cls, path: Path) -> "RunResult":
        return cls.from_json(json.loads(Path(path).read_text()))


def _submission_from_json(data: dict[str, Any]) -> SubmissionResult:
    checks = [CheckResult(**c) for c in data.get("checks", [])]
    known = {f.name for f in fields(SubmissionResult)} - {"checks"}
    return SubmissionResult(checks=checks, **{k: v for k, v in data.items() if k in known})


def write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
