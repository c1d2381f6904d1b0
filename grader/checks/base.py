"""What every check needs: the grading context of one submission and per-case outcomes.

A check is a function `(CheckSpec, GradingContext) -> CheckResult`. It looks at cases one
by one (each a `CaseOutcome`) and `combine` turns them into a result with partial credit
per case, so all checks score, word and detail their results the same way.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from grader.assignment import Assignment, CheckSpec
from grader.cases import Case, CaseBook
from grader.compare import Mismatch
from grader.layer_table import Family, family
from grader.run_case import CaseRunOptions, Observation, numeric_evaluations, run_case
from grader.results import CheckResult
from grader.sandbox import CallError, Sandbox

ERROR_STATUS = {"timeout": "timeout"}


def missing_part(
    assignment: Assignment,
    spec: CheckSpec,
    target: str,
    part: str,
    file: str,
    reason: str | None = None,
) -> CheckResult:
    """A check of a part the submission lacks (`reason`: why it cannot run; default: the file is
    not handed in). A required part scores 0 and stays in the maximum, so every submission is
    graded out of the same total; an optional one is left out of the maximum."""
    message = reason or f"not handed in: {file}"
    required = assignment.parts.required(part)
    if not required:
        message += f" ({part} is optional in this assignment: not counted)"
    result = CheckResult(
        spec.id,
        target,
        spec.name,
        "failed" if required else "skipped",
        0.0,
        spec.points,
        spec.visibility,
        message,
    )
    result.details["missing_part"] = {"part": part, "file": file, "required": required}
    return result


@dataclass
class CaseOutcome:
    case: str
    status: str
    message: str = ""
    hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    summary: str = ""  # the failure without the case's shapes, indices or values (hidden cases)

    @classmethod
    def passed(cls, case: Case, error: float | None = None) -> "CaseOutcome":
        details = {"case": case.describe()}
        if error is not None:
            details["max_error"] = error
        return cls(case.name, "passed", "", None, details)

    @classmethod
    def failed(cls, case: Case, mismatch: Mismatch, hint: str | None = None) -> "CaseOutcome":
        details: dict[str, Any] = {"case": case.describe()}
        if mismatch.error is not None:
            details["max_error"] = mismatch.error
        if mismatch.where is not None:
            details["where"] = mismatch.where
        return cls(
            case.name, "failed", mismatch.message, hint, details, mismatch.summary or "wrong result"
        )

    @classmethod
    def errored(
        cls,
        case: Case,
        message: str,
        status: str = "error",
        traceback: str = "",
        summary: str | None = None,
    ) -> "CaseOutcome":
        """An outcome without a comparison; `summary` defaults to `message` (say, a missing
        function)."""
        details: dict[str, Any] = {"case": case.describe()}
        if traceback:
            details["traceback"] = traceback
        return cls(
            case.name, status, message, None, details, message if summary is None else summary
        )

    @classmethod
    def from_error(
        cls, case: Case, function: str, error: CallError, forward_first: bool = False
    ) -> "CaseOutcome":
        prefix = f"the forward {function} failed first: " if forward_first else f"{function}: "
        return cls.errored(
            case,
            prefix + _error_text(error),
            ERROR_STATUS.get(error.kind, "error"),
            error.traceback,
            summary=prefix + error_summary(error),
        )


def _error_text(error: CallError) -> str:
    if error.kind == "exception" and "NotImplementedError" in error.message:
        return "not implemented (it raises NotImplementedError)"
    return error.message


_EXCEPTION_NAME = re.compile(
    r"(?:^|: )([A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt))\b"
)


def error_summary(error: CallError) -> str:
    """What the code did, without its exception's text (which may hold a hidden case's sizes)."""
    if error.kind == "exception":
        if "NotImplementedError" in error.message:
            return "not implemented (it raises NotImplementedError)"
        name = _EXCEPTION_NAME.search(error.message)
        return f"raised {name.group(1)}" if name else "raised an exception"
    return {
        "timeout": "timed out",
        "exit": "called sys.exit",
        "crash": "crashed",
        "memory": "ran out of memory",
    }.get(error.kind, "failed to run")


@dataclass
class Unavailable:
    """A function that cannot be graded at all: its module does not import, or it is missing."""

    message: str
    status: str = "failed"
    traceback: str = ""
    import_error: dict[str, Any] | None = None  # where the module fails to import (ImportProblem)

    def for_case(self, case: Case) -> CaseOutcome:
        outcome = CaseOutcome.errored(case, self.message, self.status, self.traceback)
        if self.import_error:
            outcome.details["import_error"] = self.import_error
        return outcome


def combine(spec: CheckSpec, target: str, outcomes: list[CaseOutcome]) -> CheckResult:
    passed = sum(o.status == "passed" for o in outcomes)
    total = len(outcomes)
    failures = [o for o in outcomes if o.status != "passed"]
    score = round(spec.points * passed / total, 6) if total else 0.0
    details: dict[str, Any] = {
        "cases": [
            {"case": o.case, "status": o.status, "message": o.message, **o.details}
            for o in outcomes
        ]
    }
    if not failures:
        errors = [o.details["max_error"] for o in outcomes if "max_error" in o.details]
        summary = f"all {total} case{'s' if total != 1 else ''} passed"
        if errors:
            summary += f" (largest error {max(errors):.1e})"
        notes = [o.message for o in outcomes if o.message]
        if notes:  # a pass worth explaining (a forward's mistake that propagated, say)
            summary += f"; {notes[0]}"
        return CheckResult(
            spec.id,
            target,
            spec.name,
            "passed",
            score,
            spec.points,
            spec.visibility,
            summary,
            None,
            details,
        )
    first = failures[0]
    statuses = {o.status for o in failures}
    status = "timeout" if "timeout" in statuses else "error" if "error" in statuses else "failed"
    message = f"{passed}/{total} cases passed; case {first.case}: {first.message}"
    hint = next((o.hint for o in failures if o.hint), None)
    details.update({k: v for k, v in first.details.items()})
    safe = (
        f"{passed}/{total} cases passed; {first.summary or first.status}"
        if spec.visibility == "hidden"
        else None
    )
    return CheckResult(
        spec.id,
        target,
        spec.name,
        status,
        score,
        spec.points,
        spec.visibility,
        message,
        hint,
        details,
        student_message=safe,
    )


@dataclass
class GradingContext:
    """Everything the checks of one submission share: its sandbox, modules and observations."""

    sandbox: Sandbox
    assignment: Assignment
    casebook: CaseBook
    modules: dict[str, str]
    functions: dict[str, set[str] | Unavailable]
    seed: int
    substituted_roles: frozenset[str] = frozenset()
    call_timeout: float | None = None
    deadline: float = float("inf")
    data: str = "builtin"
    student_modules: frozenset[str] | None = None  # module paths the submission has (None: unknown)
    _observations: dict[str, Observation] = field(default_factory=dict)
    _timed_out: set[str] = field(default_factory=set)
    _counterexamples: set[str] = field(default_factory=set)

    def not_handed_in(self, spec: CheckSpec, role: str, target: str) -> CheckResult | None:
        """The result of a check of `role`'s file when the course's copy stood in for it: the
        submission has no such file, or it does not import."""
        if role not in self.substituted_roles:
            return None
        file = f"{role}.py"
        if self.student_modules is None or role not in self.student_modules:
            return self.missing_part(spec, target, role, file)
        broken = f"your {file} does not import (the course's copy was used to run the rest)"
        return self.missing_part(spec, target, role, file, broken)

    def missing_part(
        self, spec: CheckSpec, target: str, part: str, file: str, reason: str | None = None
    ) -> CheckResult:
        return missing_part(self.assignment, spec, target, part, file, reason)

    def family(self, spec: CheckSpec) -> Family:
        return family(spec.family)

    def cases(self, spec: CheckSpec) -> list[Case]:
        return [self.casebook.get(spec.family, name) for name in spec.cases]

    def tolerance(self, kind: str, case: Case, own: float | None = None) -> float:
        """A check's `own` tolerance if it has one, else the assignment's for `kind` ("forward" or
        "backward"); float32 cases always get the assignment's float32 tolerance."""
        if own is not None and not case.is_float32:
            return own
        return self.assignment.defaults.tolerance(kind, case.is_float32)

    def metric(self, case: Case) -> str:
        return "normwise" if case.is_float32 else "rel_error"

    def unavailable(self, function: str, role: str = "layers") -> Unavailable | None:
        found = self.functions.get(role)
        if isinstance(found, Unavailable):
            return found
        if found is None or function not in found:
            return Unavailable(f"not implemented: {function} is not defined in {role}.py")
        if function in self._timed_out:
            return Unavailable(
                f"{function} timed out on an earlier case, so it was not run again", "timeout"
            )
        if time.monotonic() > self.deadline:
            return Unavailable("the submission's time budget ran out before this case", "timeout")
        return None

    def printed(self, limit: int = 8192) -> str:
        """What the submission's code printed during the layer checks, each distinct output once."""
        outputs = dict.fromkeys(o.stdout for o in self._observations.values() if o.stdout)
        text = "\n".join(outputs)
        return text if len(text) <= limit else text[:limit] + "\n[... truncated]"

    def observe(self, case: Case, *, numeric: bool = False) -> Observation:
        """What the submission did on `case`, run once; with `numeric`, also its forward's numeric
        evaluations (taken once, on first need)."""
        if case.key not in self._observations:
            obs = run_case(self.sandbox, case, self.run_options(case))
            if obs.error and obs.error.kind == "timeout":
                fam = case.family
                self._timed_out.add(fam.forward if obs.failed_stage == "forward" else fam.backward)
            self._observations[case.key] = obs
        obs = self._observations[case.key]
        if numeric and obs.numeric is None:
            rng = np.random.RandomState((self.seed + len(case.key)) % 2**32)
            obs.numeric, obs.coords = numeric_evaluations(
                self.sandbox, case, self.run_options(case), rng
            )
        return obs

    def counterexample(self, function: str, find: Callable[[], Any]) -> Any:
        """One counterexample search per failing function and submission: the first of its
        failing checks carries it (None for the others)."""
        if function in self._counterexamples:
            return None
        self._counterexamples.add(function)
        return find()

    def run_options(self, case: Case) -> CaseRunOptions:
        return CaseRunOptions(
            module=self.modules[case.family.role],
            numeric_h=self.assignment.defaults.numeric_h,
            numeric_max_coords=self.assignment.defaults.numeric_max_coords,
            timeout=self.call_timeout,
        )
