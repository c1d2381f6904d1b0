"""`check()` in a notebook cell: the kit's public checks on the functions the kernel has now.

A graded function imported from the student's package is checked from that package's files (as
they are on disk, so after an autoreload too); one defined in a cell is written, with the other
functions and the imports the cells define, into that package's copy (or a package of its own)
over the module it belongs to. Either way the code runs in the kit's sandbox, never in the kernel.
"""

from __future__ import annotations

import ast
import html
import inspect
import shutil
import sys
import tempfile
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.grading import GradingOptions
from grader.kit.runtime import Kit
from grader.layer_table import FAMILIES
from grader.results import CheckResult, SubmissionResult
from grader.sandbox import Limits
from grader.workspace import CourseModules

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT"}


def check(data_dir: Path, *functions: str, timeout: float = 60.0) -> CheckReport:
    """Check `functions` (default: every graded function the notebook has) as they are now."""
    kit = Kit(data_dir)
    graded = {spec.target for spec in kit.assignment.checks}
    unknown = [f for f in functions if f not in graded]
    if unknown:
        raise ValueError(
            f"the kit checks none of {', '.join(unknown)}; it checks {', '.join(sorted(graded))}"
        )
    namespace = _namespace()
    present = {n: namespace[n] for n in graded if isinstance(namespace.get(n), types.FunctionType)}
    wanted = list(functions) or sorted(present)
    if not wanted:
        raise NameError(
            f"none of the graded functions is defined yet ({', '.join(sorted(graded))})"
        )
    missing = [f for f in wanted if f not in present]
    if missing:
        raise NameError(f"not defined in this notebook yet: {', '.join(missing)}")
    ids = tuple(s.id for s in kit.assignment.checks if s.target in wanted)
    with tempfile.TemporaryDirectory(prefix="kit-check-") as scratch:
        path = _submission({n: present[n] for n in wanted}, namespace, Path(scratch))
        options = GradingOptions(
            seed=kit.meta["seed"],
            limits=Limits(call_timeout_s=timeout),
            only=ids,
            course=CourseModules(None),
        )
        result = kit.grade(path, options)
    return CheckReport(result, [c for c in result.checks if c.id in ids])


def _namespace() -> dict[str, Any]:
    """The notebook's namespace: IPython's user namespace, else the caller's globals."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    return sys._getframe(3).f_globals


def _submission(functions: dict[str, Any], namespace: dict[str, Any], scratch: Path) -> Path:
    """A package folder holding `functions` as the kernel has them."""
    defined_here = {n: f for n, f in functions.items() if f.__module__ == "__main__"}
    packages = {_package_dir(f) for f in functions.values() if f.__module__ != "__main__"}
    packages.discard(None)
    if len(packages) > 1:
        raise ValueError(f"the functions come from several packages: {sorted(map(str, packages))}")
    root = scratch / "submission"
    if packages:
        package = packages.pop()
        shutil.copytree(package, root / package.name, ignore=shutil.ignore_patterns("__pycache__"))
        package_dir = root / package.name
    else:
        package_dir = root / "ie590"
        package_dir.mkdir(parents=True)
        (package_dir / "__init__.py").write_text("")
    if defined_here:
        _write_cells(defined_here, namespace, package_dir)
    return root


def _package_dir(function: Any) -> Path | None:
    """The top package folder of the module `function` comes from."""
    module = sys.modules.get(function.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        return None
    folder = Path(file).resolve().parent
    while (folder.parent / "__init__.py").is_file():
        folder = folder.parent
    return folder if (folder / "__init__.py").is_file() else None


def _write_cells(functions: dict[str, Any], namespace: dict[str, Any], package_dir: Path) -> None:
    """The cells' imports and every function they define, over each graded function's module."""
    code = "\n\n".join([*_cell_imports(namespace), *_cell_functions(namespace)])
    roles = {_role(name) for name in functions}
    for role in roles:
        path = package_dir / f"{role}.py"
        before = path.read_text() if path.is_file() else ""
        path.write_text(f"{before}\n\n# defined in the notebook's cells\n{code}\n")


def _role(function: str) -> str:
    """The module a graded function belongs in: layers or layer_utils."""
    for fam in FAMILIES.values():
        if function in (fam.forward, fam.backward):
            return fam.role
    return "layers"


def _cell_imports(namespace: dict[str, Any]) -> list[str]:
    """The import statements of the cells run so far (IPython keeps them in `In`)."""
    found: list[str] = []
    for cell in namespace.get("In", []):
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        found += [
            ast.unparse(node)
            for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom))
        ]
    return list(dict.fromkeys(found))


def _cell_functions(namespace: dict[str, Any]) -> list[str]:
    sources = []
    for value in list(namespace.values()):
        if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
            try:
                sources.append(inspect.getsource(value))
            except (OSError, TypeError):
                continue
    return sources


@dataclass
class CheckReport:
    """What `check()` returns: shown as a short table in a notebook, as text elsewhere."""

    result: SubmissionResult
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status == "passed" for c in self.checks)

    def _rows(self) -> list[tuple[str, str, str, str]]:
        rows = []
        for c in self.checks:
            case = c.details.get("case")
            shapes = ", ".join(f"{k} {v}" for k, v in case.items()) if case else ""
            note = c.hint or ("" if c.status == "passed" else c.message)
            rows.append((MARKS.get(c.status, c.status.upper()), c.id, note, shapes))
        return rows

    def __repr__(self) -> str:
        if self.result.status == "error":
            return f"cannot check: {self.result.error}"
        rows = self._rows()
        return "\n".join(
            f"{m:7} {cid}" + (f"\n        {note}" if note else "") for m, cid, note, _ in rows
        )

    def _repr_html_(self) -> str:
        if self.result.status == "error":
            return f"<p><b>cannot check:</b> {html.escape(str(self.result.error))}</p>"
        colour = {"PASS": "#1a7f37"}
        body = "".join(
            f"<tr><td style='color:{colour.get(mark, '#cf222e')}'><b>{mark}</b></td>"
            f"<td><code>{html.escape(cid)}</code></td><td>{html.escape(note)}</td>"
            f"<td>{html.escape(shapes)}</td></tr>"
            for mark, cid, note, shapes in self._rows()
        )
        return (
            "<table><tr><th></th><th>check</th><th>hint or message</th><th>failing case</th></tr>"
            f"{body}</table>"
        )
