"""Completed grades kept beside results.json, so that running a class again grades only what
changed and an interrupted run resumes where it stopped.

One file per graded submission, named by the submission's sha256, in `OUT/.grades/`, written as
soon as the grade is complete (a killed machine loses only the submissions in progress). Beside
them, `run.json` holds what every grade depends on besides the submission: the grader's version,
the assignment file's version, the seed, the data and the check selection. When any of these
changes, the stored grades no longer apply: they are dropped and the run says why.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.results import SubmissionResult, write_text_atomic

CACHE_DIR = ".grades"
RUN_FILE = "run.json"
TIME_BUDGET_RAN_OUT = "time budget ran out"  # grader.checks.base's wording for a cut-short grade


@dataclass(frozen=True)
class RunKey:
    """What a grade depends on besides the submission's files."""

    grader_version: str
    assignment_version: str
    seed: int
    data: str
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()

    WORDS = {
        "grader_version": "grader version",
        "assignment_version": "assignment",
        "seed": "seed",
        "data": "data",
        "only": "check selection",
        "skip": "check selection",
    }

    def changes_from(self, earlier: RunKey) -> list[str]:
        """What differs from `earlier`, in words ("assignment", "seed", ...)."""
        names = [
            self.WORDS[f.name]
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(earlier, f.name)
        ]
        return list(dict.fromkeys(names))

    @classmethod
    def from_json(cls, data: Any) -> RunKey | None:
        try:
            return cls(
                **{**data, "only": tuple(data.get("only", ())), "skip": tuple(data.get("skip", ()))}
            )
        except (TypeError, AttributeError):
            return None


class GradeCache:
    """The grades of earlier runs into the same report folder, for the same RunKey."""

    def __init__(self, out: Path, key: RunKey) -> None:
        self.folder = out / CACHE_DIR
        self.key = key

    def earlier_key(self) -> RunKey | None:
        return earlier_key(self.folder.parent)

    def open(self) -> list[str]:
        """Start a run: drop the grades an earlier run stored under another key; returns what
        changed (empty when they still apply, or there were none)."""
        earlier = self.earlier_key()
        changed = self.key.changes_from(earlier) if earlier else []
        if changed:
            for entry in self.folder.glob("*.json"):
                entry.unlink()
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.folder / RUN_FILE, json.dumps(dataclasses.asdict(self.key)))
        return changed

    def stored(self) -> int:
        return sum(1 for p in self.folder.glob("*.json") if p.name != RUN_FILE)

    def get(self, sha256: str) -> SubmissionResult | None:
        """The stored grade of these files, unless it is missing, unreadable, or was cut short by
        the grader (its time budget or a fault of its own), which is graded again."""
        path = self.folder / f"{sha256}.json"
        try:
            result = SubmissionResult.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        return None if _cut_short(result) else result

    def put(self, result: SubmissionResult) -> None:
        text = json.dumps(result.to_json(), default=str)
        write_text_atomic(self.folder / f"{result.sha256}.json", text)


def earlier_key(out: Path) -> RunKey | None:
    """The key of the last run into `out`, if it stored grades."""
    try:
        return RunKey.from_json(json.loads((out / CACHE_DIR / RUN_FILE).read_text()))
    except (OSError, ValueError):
        return None


def _cut_short(result: SubmissionResult) -> bool:
    faults = result.details.get("grader_fault") or any(
        c.details.get("grader_fault") for c in result.checks
    )
    budget = any(TIME_BUDGET_RAN_OUT in (c.message or "") for c in result.checks)
    return bool(faults or budget)
