"""Grading one submission: workspace, sandbox, the names its modules define, then every check.

Data flows one way: Submission -> Workspace -> (sandbox) observations -> CheckResults ->
SubmissionResult. Nothing the submission does can raise out of here; a fault of the grader
itself becomes an "error" check saying so, and the run goes on.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping
from grader.assignment import Assignment, CheckSpec
from grader.cases import CaseBook
from grader.checks import load_kinds
from grader.data import parse_source
from grader.checks.base import GradingContext, Unavailable, missing_part
from grader.checks.convnet import NETWORK_ROLE
from grader.layer_table import family
from grader import import_errors
from grader.results import CheckResult, SubmissionResult
from grader.sandbox import Limits, Sandbox
from grader.sandbox.steps import Program, names, ref, ret
from grader.submission import Submission
from grader.workspace import PROVIDED, CourseModules, Workspace, build_workspace, package_files

log = logging.getLogger(__name__)

INSPECTED_ROLES = ("layers", "layer_utils", NETWORK_ROLE)
LAYER_KINDS = ("forward", "backward", "inputs")


@dataclass(frozen=True)
class GradingOptions:
    seed: int
    limits: Limits = field(default_factory=Limits)
    python: str | None = None
    isolation: str = "auto"
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    submission_timeout_s: float = 900.0
    data: str = "builtin"
    output_dir: Path | None = None
    deadline: float | None = (
        None  # time.monotonic() by which a submission must be done; set by grade()
    )
    stop: threading.Event | None = None  # set when the run is interrupted; set up by the runner
    course: CourseModules | None = None  # the course's provided files (None: the reference's)
    progress: Callable[[str, str], None] | None = None  # (submission id, stage) while it grades

    def __post_init__(self) -> None:
        parse_source(self.data)  # a bad --data value stops the run before any grading

    def selects(self, check_id: str) -> bool:
        if self.only and not any(fnmatch.fnmatchcase(check_id, p) for p in self.only):
            return False
        return not any(fnmatch.fnmatchcase(check_id, p) for p in self.skip)


def grade(
    sub: Submission, assignment: Assignment, casebook: CaseBook, options: GradingOptions
) -> SubmissionResult:
    started = time.monotonic()
    options = dataclasses.replace(options, deadline=started + options.submission_timeout_s)
    result = SubmissionResult(
        id=sub.id,
        path=str(sub.path),
        sha256=sub.sha256,
        status="graded",
        score=0.0,
        max_score=assignment.max_score,
        duration_s=0.0,
    )
    try:
        if sub.problem:
            result.status, result.error = "error", sub.problem
        elif sub.layout == "notebook":
            _grade_notebook(sub, assignment, casebook, options, result)
        else:
            _grade_code(sub, assignment, casebook, options, result)
    except Interrupted:
        raise
    except Exception as exc:  # a grader fault must not take the class run down
        log.exception("internal error while grading %s", sub.id)
        result.status, result.error = (
            "error",
            f"internal grader error ({type(exc).__name__}: {exc}); please report it",
        )
        result.details["grader_fault"] = True
    finally:
        sub.cleanup()
    result.tally()
    result.duration_s = round(time.monotonic() - started, 3)
    return result


def _grade_code(
    sub: Submission,
    assignment: Assignment,
    casebook: CaseBook,
    options: GradingOptions,
    result: SubmissionResult,
    specs: tuple[CheckSpec, ...] | None = None,
) -> None:
    """Grade the submission's package with `specs` (default: every check), adding to `result`."""
    ws = build_workspace(
        package_files(sub.package_dir),
        sub.package_name or assignment.package_names[0],
        options.course or _reference_course(),
    )
    try:
        _install_grader_modules(ws)
        with _open_sandbox(ws, options) as sandbox:
            modules = {**ws.modules, NETWORK_ROLE: f"{ws.package}.{assignment.network.module}"}
            ctx = _context(
                sandbox, modules, assignment, casebook, options, frozenset(ws.substituted)
            )
            ctx.student_modules = frozenset(ws.student_modules)
            result.details["import_errors"] = import_errors.distinct(ctx.functions.values())
            result.checks += [
                _run_check(spec, ctx, options)
                for spec in (assignment.checks if specs is None else specs)
            ]
            result.details["protections"] = list(sandbox.protections)
            if ctx.printed():
                result.details["stdout"] = ctx.printed()
        result.details["substituted"] = list(ws.substituted)
        result.details["package"] = ws.package
    finally:
        ws.cleanup()


def _reference_course() -> CourseModules:
    from grader.oracle import COURSE  # a student kit passes its own (none), never importing this

    return COURSE


def _grade_notebook(
    sub: Submission,
    assignment: Assignment,
    casebook: CaseBook,
    options: GradingOptions,
    result: SubmissionResult,
) -> None:
    """Execute the notebook and grade the layer functions it used; its package (if any) gets the
    rest."""
    with tempfile.TemporaryDirectory(prefix="grader-nb-") as scratch:
        out = Path(options.output_dir or scratch)
        grade = _execute_notebook(sub, assignment, casebook, options, out / "notebooks" / sub.id)
        executed = grade.details.pop("notebook", None)
        if options.output_dir and executed:  # kept with the reports; without --out it is scratch
            result.details["notebook"] = os.path.relpath(executed, out)
    result.checks = [c if options.selects(c.id) else _unscored_result(c) for c in grade.checks]
    result.details.update(grade.details)
    if grade.error:
        result.status, result.error = "error", grade.error
        return
    graded = {c.id for c in result.checks}
    rest = tuple(s for s in assignment.checks if s.id not in graded and s.kind != "notebook")
    if sub.package_dir is not None:
        _grade_code(sub, assignment, casebook, options, result, rest)
    else:
        result.checks += [_package_part_missing(assignment, spec) for spec in rest]


def _package_part_missing(assignment: Assignment, spec: CheckSpec) -> CheckResult:
    """A check of the package of a notebook handed in without it: its part was not handed in."""
    if spec.kind in ("model", "training"):
        part, file = "network", assignment.network.file
    elif spec.kind == "speed" and spec.options.get("aspect") == "fast":
        part, file = "fast_layers", "fast_layers.py"
    else:
        part = family(spec.family).role
        file = f"{part}.py"
    reason = f"not handed in: {file} (the notebook came without its package folder)"
    return missing_part(assignment, spec, spec.target, part, file, reason)


def _execute_notebook(
    sub: Submission, assignment: Assignment, casebook: CaseBook, options: GradingOptions, out: Path
):
    from grader.checks.notebook import grade_notebook
    from grader.notebook.execute import NotebookOptions

    def grade_modules(root: Path, modules: Mapping[str, str]) -> list[CheckResult]:
        tell("grading the functions the notebook used")
        for name, source in import_errors.private_modules().items():
            (root / f"{name}.py").write_text(source)
        with Sandbox(
            root, limits=options.limits, python=options.python, isolation=options.isolation
        ) as sandbox:
            ctx = _context(sandbox, dict(modules), assignment, casebook, options, frozenset())
            return [
                _run_check(spec, ctx, options)
                for spec in assignment.checks
                if _notebook_graded(spec, modules)
            ]

    budget = max(1.0, (options.deadline or float("inf")) - time.monotonic())

    def tell(stage: str) -> None:
        if options.progress is not None:
            options.progress(sub.id, stage)

    notebook_options = NotebookOptions(
        on_progress=tell,
        memory_bytes=options.limits.memory_bytes,
        python=options.python,
        isolation=options.isolation,
        data_seed=options.seed,
        total_timeout_s=min(NotebookOptions.total_timeout_s, budget),
    )
    points = {s.id: s.points for s in assignment.checks if s.kind == "notebook"}
    package = sub.package_name or assignment.package_names[0]
    return grade_notebook(
        sub.notebook,
        sub.package_dir,
        package,
        out,
        options=notebook_options,
        points=points,
        grade_modules=grade_modules,
    )


def _notebook_graded(spec: CheckSpec, modules: Mapping[str, str]) -> bool:
    """The layer checks of the functions a notebook used; the rest is graded on its package."""
    return spec.kind in LAYER_KINDS and family(spec.family).role in modules


def _context(
    sandbox: Sandbox,
    modules: dict[str, str],
    assignment: Assignment,
    casebook: CaseBook,
    options: GradingOptions,
    substituted: frozenset[str],
) -> GradingContext:
    return GradingContext(
        sandbox=sandbox,
        assignment=assignment,
        casebook=casebook,
        modules=modules,
        functions={
            role: import_errors.explained(
                sandbox, modules[role], defined_names(sandbox, modules[role])
            )
            for role in INSPECTED_ROLES
            if role in modules
        },
        seed=options.seed,
        substituted_roles=substituted,
        call_timeout=options.limits.call_timeout_s,
        deadline=options.deadline or time.monotonic() + options.submission_timeout_s,
        data=options.data,
    )


def _install_grader_modules(ws: Workspace) -> None:
    """The grader's own helpers (course solver, baseline layers, loss helper, import explainer)
    next to the package, privately named: the check kinds' and the one grading itself calls."""
    helpers = [kind.private_modules() for kind in load_kinds().values()]
    for modules in (*helpers, import_errors.private_modules()):
        for name, source in modules.items():
            (ws.root / f"{name}.py").write_text(source)


def _open_sandbox(ws: Workspace, options: GradingOptions) -> Sandbox:
    """Start the sandbox; the course's copy replaces a provided module that does not import."""
    sandbox = Sandbox(
        ws.root, limits=options.limits, python=options.python, isolation=options.isolation
    )
    broken = [
        m
        for m in PROVIDED
        if m in ws.student_modules
        and isinstance(defined_names(sandbox, f"{ws.package}.{m}"), Unavailable)
    ]
    if not broken:
        return sandbox
    sandbox.close()
    for module in broken:
        ws.substitute(module)
    return Sandbox(
        ws.root, limits=options.limits, python=options.python, isolation=options.isolation
    )


def defined_names(sandbox: Sandbox, module: str) -> set[str] | Unavailable:
    """The public names a module defines, or why it cannot be imported."""
    reply = sandbox.run(Program([names(module, as_="names"), ret(names=ref("names"))]))
    if reply.ok and isinstance(reply.values.get("names"), list):
        return {n for n in reply.values["names"] if isinstance(n, str)}
    if reply.ok:
        return Unavailable(f"{module} could not be inspected")
    short = module.rsplit(".", 1)[-1].replace(".", "/")
    if (
        reply.error.kind == "exception"
        and "ModuleNotFoundError" in reply.error.message
        and short in reply.error.message
    ):
        return Unavailable(f"{short}.py is missing from the submission")
    status = "timeout" if reply.error.kind == "timeout" else "error"
    return Unavailable(
        f"{short}.py could not be imported: {reply.error.message}", status, reply.error.traceback
    )


class Interrupted(Exception):
    """The run was interrupted (Ctrl-C): the submission in progress is abandoned, not graded."""


def _run_check(spec: CheckSpec, ctx: GradingContext, options: GradingOptions) -> CheckResult:
    if options.stop is not None and options.stop.is_set():
        raise Interrupted()
    if not options.selects(spec.id):
        return _unscored(spec, "skipped", "skipped by --only/--skip")
    try:
        kind = load_kinds()[spec.kind]
        return kind.check(spec, kind.options_of(spec), ctx)
    except Exception as exc:  # a grader fault must not take the class run down
        log.exception("internal error in check %s", spec.id)
        result = _unscored(
            spec, "error", f"internal grader error ({type(exc).__name__}: {exc}); please report it"
        )
        result.details["grader_traceback"] = traceback.format_exc(limit=8)
        result.details["grader_fault"] = True
        return result


def _unscored_result(check: CheckResult) -> CheckResult:
    return CheckResult(
        check.id,
        check.target,
        check.name,
        "skipped",
        0.0,
        check.max_score,
        check.visibility,
        "skipped by --only/--skip",
    )


def _unscored(spec: CheckSpec, status: str, message: str) -> CheckResult:
    return CheckResult(
        spec.id, spec.target, spec.name, status, 0.0, spec.points, spec.visibility, message
    )
