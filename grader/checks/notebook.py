"""Grading a submitted notebook: execute it, then grade what it computed, never what it printed.

`grade_notebook` runs the notebook in the sandbox (grader.notebook.execute) and turns what the
kernel held into results: the layer functions the notebook actually used are handed, as a
package folder plus module names, to the same checks as a layers.py submission
(`grade_modules`, supplied by the caller); the aside's filters and the inline answers get
their own checks; printed errors that contradict recomputed ones and the student's own
training curves go into the details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from grader.notebook import answers, consistency, image_filters
from grader.notebook.assemble import NOTEBOOK_NAME, notebook_package
from grader.assignment import CheckSpec
from grader.checks import NoOptions, register
from grader.checks.base import GradingContext
from grader.errors import CaptureFileError, NotebookError
from grader.notebook.cells import cells_module_source, defined_functions, load_notebook
from grader.notebook.execute import NotebookOptions, NotebookRun, run_notebook
from grader.notebook.captures import ASIDE_CELL, GRADED_FUNCTIONS, read_arrays, read_json, tagged
from grader.results import CheckResult

GradeModules = Callable[[Path, Mapping[str, str]], list[CheckResult]]
CELLS_MODULE = "notebook_cells"
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass
class NotebookGrade:
    """The notebook's checks and report details; `error` is set when the file could not be run."""

    checks: list[CheckResult] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@register("notebook")
def notebook_check(spec: CheckSpec, opts: NoOptions, ctx: GradingContext) -> CheckResult:
    """A notebook check of a submission without a notebook (`grade_notebook` grades the
    notebooks handed in)."""
    return ctx.missing_part(spec, spec.target, "notebook", NOTEBOOK_NAME)


def grade_notebook(
    notebook: Path,
    student_package: Path | None,
    package_name: str,
    output_dir: Path,
    *,
    options: NotebookOptions = NotebookOptions(),
    points: Mapping[str, float] = {},
    grade_modules: GradeModules | None = None,
) -> NotebookGrade:
    """Execute and grade one notebook; the executed copy is saved under `output_dir`.

    `grade_modules(root, {"layers": module})` grades the layer functions the notebook used,
    found in `module` of the package folder under `root`; without it only the notebook's
    own checks are produced.
    """
    try:
        submitted = load_notebook(notebook)
    except NotebookError as exc:
        return NotebookGrade(checks=[_execution_check({}, str(exc), points)], error=str(exc))
    with run_notebook(notebook, student_package, package_name, output_dir, options) as run:
        grade = NotebookGrade(details=_details(run, submitted))
        grade.checks.append(_execution_check(run.summary, run.error, points))
        grade.checks += image_filters.grade_image_filters(
            *_aside_filters(run, submitted), dict(points)
        )
        grade.checks += answers.answer_checks(grade.details["inline_answers"], dict(points))
        origins = _origins(run, submitted, package_name)
        grade.details["graded_functions"] = origins
        if grade_modules is not None:
            grade.checks += _grade_used_functions(
                submitted, student_package, package_name, origins, grade_modules
            )
    return grade


def _details(run: NotebookRun, submitted: Any) -> dict[str, Any]:
    rows = _consistency_rows(run, submitted)
    return {
        "notebook": str(run.executed_path) if run.executed_path else None,
        "notebook_execution": run.summary,
        "substituted": run.substituted,
        "inline_answers": answers.collect_answers(submitted),
        "consistency": rows,
        "review": consistency.review_flags(rows),
        "notebook_training": _training(run),
    }


def _execution_check(
    summary: Mapping[str, Any], error: str | None, points: Mapping[str, float]
) -> CheckResult:
    """Did every code cell run? Informational unless the assignment gives it points."""
    cells = summary.get("cells", []) if isinstance(summary, Mapping) else []
    bad = [c for c in cells if isinstance(c, Mapping) and c.get("status") != "ok"]
    problems = [error] if error else []
    problems += [
        f"cell {c.get('index')}: {c.get('status')}"
        + (f" ({c['error'].get('name')}: {c['error'].get('value')})" if c.get("error") else "")
        + (f" - {c['message']}" if c.get("message") else "")
        for c in bad[:10]
    ]
    if len(bad) > 10:
        problems.append(f"... and {len(bad) - 10} more cells")
    max_score = points.get("notebook.execution", 0.0)
    ok = not problems
    return CheckResult(
        id="notebook.execution",
        target="notebook",
        name="The notebook runs from top to bottom",
        status="passed" if ok else "failed",
        score=max_score if ok else 0.0,
        max_score=max_score,
        message=f"all {len(cells)} code cells ran" if ok else "; ".join(problems),
        details={"cells": cells},
    )


def _aside_filters(run: NotebookRun, submitted: Any) -> tuple[Any, str]:
    """`w` as the last aside cell left it, or why it is not available."""
    files = tagged(run.capture_dir, "aside", ".npy")
    if files:
        index, path = list(files.items())[-1]
        try:
            w = read_arrays(path)[0]
        except CaptureFileError as exc:
            return None, f"w could not be read back: {exc}"
        why = _why(run, index)
        if w.shape != (4, 3, 3, 3) and why:
            return None, f"w was not set up by the aside cell (cell {index}){why}"
        return w, ""
    aside_cells = [
        i
        for i, c in enumerate(submitted.cells)
        if c.get("cell_type") == "code" and re.search(ASIDE_CELL, str(c.get("source", "")))
    ]
    if not aside_cells:
        return None, "the notebook has no aside cell (no cell sets w[3])"
    return None, f"w was not available after the aside cell (cell {aside_cells[-1]})" + _why(
        run, aside_cells[-1]
    )


def _why(run: NotebookRun, index: int) -> str:
    for cell in run.summary.get("cells", []):
        if cell.get("index") == index and cell.get("status") != "ok":
            err = cell.get("error") or {}
            return (
                f": the cell ended with {cell.get('status')} {err.get('name', '')}"
                f" {err.get('value', '')}".rstrip()
            )
    for capture in run.summary.get("probes", []):
        if capture.get("tag") == f"aside.{index}" and capture.get("error"):
            return f": {capture['error'].get('name')}: {capture['error'].get('value')}"
    return ""


def _training(run: NotebookRun) -> list[dict[str, Any]]:
    """The student's own Solver histories, one entry per training cell."""
    found = []
    for index, path in tagged(run.capture_dir, "solver", ".json").items():
        try:
            history = read_json(path)
            train, val = history["train_acc_history"], history["val_acc_history"]
            found.append(
                {
                    "cell": index,
                    "num_epochs": history.get("num_epochs"),
                    "batch_size": history.get("batch_size"),
                    "iterations": len(history["loss_history"]),
                    "final_train_acc": train[-1] if train else None,
                    "best_val_acc": max(val) if val else None,
                    "loss_history": history["loss_history"],
                    "train_acc_history": train,
                    "val_acc_history": val,
                }
            )
        except (CaptureFileError, KeyError, TypeError, ValueError):
            continue
    return found


def _consistency_rows(run: NotebookRun, submitted: Any) -> list[dict[str, Any]]:
    recomputed = {}
    for case in consistency.PUBLIC_CASES:
        path = run.capture_dir / f"recompute.{case.name}.npz"
        if path.exists():
            try:
                recomputed[case.name] = consistency.recomputed_errors(case, read_arrays(path))
            except CaptureFileError:
                continue
    rows = consistency.compare(submitted, "submitted", recomputed)
    if run.executed is not None:
        rows += consistency.compare(run.executed, "executed", recomputed)
    return rows


def _origins(run: NotebookRun, submitted: Any, package_name: str) -> dict[str, dict[str, str]]:
    """Where each graded function the notebook used came from: the package, or the cells."""
    try:
        captured = read_json(run.capture_dir / "origins.json")
    except CaptureFileError:
        captured = {}
    captured = captured if isinstance(captured, dict) else {}
    in_cells = defined_functions(submitted)
    layers = f"{package_name}.layers"
    found = {}
    for name in GRADED_FUNCTIONS:
        module = (
            (captured.get(name) or {}).get("module")
            if isinstance(captured.get(name), dict)
            else None
        )
        if module == "__main__" or (module is None and name in in_cells):
            found[name] = {"module": f"{package_name}.{CELLS_MODULE}", "from": "notebook cells"}
        elif (
            isinstance(module, str)
            and MODULE_NAME.match(module)
            and module.startswith(package_name + ".")
        ):
            found[name] = {"module": module, "from": "package"}
        else:
            found[name] = {
                "module": layers,
                "from": "package" if module else "package (not used by the notebook)",
            }
    return found


def _grade_used_functions(
    submitted: Any,
    student_package: Path | None,
    package_name: str,
    origins: Mapping[str, Mapping[str, str]],
    grade_modules: GradeModules,
) -> list[CheckResult]:
    """Grade the functions the notebook used with the layer checks, in a package folder of their
    own."""
    ws = notebook_package(student_package, package_name)
    try:
        from_package = [name for name, o in origins.items() if o["from"] != "notebook cells"]
        module = f"{package_name}.layers"
        if len(from_package) < len(origins):
            ws.add_module(
                CELLS_MODULE, cells_module_source(submitted, package_name, skip=from_package)
            )
            module = f"{package_name}.{CELLS_MODULE}"
        return grade_modules(ws.root, {"layers": module})
    finally:
        ws.cleanup()


__all__ = ["GradeModules", "NotebookGrade", "NotebookOptions", "grade_notebook"]
