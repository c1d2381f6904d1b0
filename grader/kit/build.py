"""`grader student-kit OUT`: the public layer checks, packed into a wheel without the solution.

What goes in: the assignment file cut down to its public forward, backward and input checks and
the cases only they use (a case any hidden check uses stays out, so no hidden geometry leaves
either), the course's answers on those cases and the hint probes' variants recorded as plain
arrays (grader.kit.replay), and the grader modules the layer checks import, renamed into the
kit's package. What never goes in: grader.oracle, `reference`, the model, training and speed
checks, hidden cases, and the run's seed (the kit draws its few seedless public cases from a seed
of its own).
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import secrets
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wheel.wheelfile import WheelFile

from grader import __version__, course_layers
from grader.assignment import Assignment, assignment_text, parse_assignment
from grader.cases import Case, CaseBook
from grader.checks import hints, validate
from grader.errors import AssignmentError
from grader.kit.replay import Recording
from grader.run_case import Observation

KIT_KINDS = ("forward", "backward", "inputs")
GRADER = Path(__file__).resolve().parents[1]
# The kit's entry points; grader.checks.layers is loaded by name (load_kinds).
ROOTS = ("grader.kit.runtime", "grader.kit.notebook_check", "grader.checks.layers")
NEVER = ("grader.oracle", "reference")
DATA_FILES = ("results.schema.json",)
# Third-party imports of the vendored modules -> the distribution that provides them.
DEPENDENCIES = {
    "numpy": "numpy>=1.23",
    "rich": "rich>=13",
    "jsonschema": "jsonschema>=4.18",
    "psutil": "psutil>=5.9",
    "simpleeval": "simpleeval>=1.0",
}


@dataclass(frozen=True)
class KitContents:
    """The kit's assignment data and which public checks lost cases (used by hidden checks)."""

    data: dict[str, Any]
    left_out: dict[str, list[str]]


def kit_package(assignment: Assignment) -> str:
    """The kit's import name: ConvolutionalNetworks -> convolutionalnetworks_kit."""
    return re.sub(r"\W+", "_", assignment.name).strip("_").lower() + "_kit"


def kit_contents(raw: dict[str, Any]) -> KitContents:
    """Cut an assignment file's data (as tomllib reads it) down to what a student may hold."""
    checks = raw.get("checks", [])
    hidden = {
        (c.get("family"), name)
        for c in checks
        if c.get("visibility", "public") != "public"
        for name in c.get("cases", [])
    }
    kept, left_out = [], {}
    for check in checks:
        if check.get("kind") not in KIT_KINDS or check.get("visibility", "public") != "public":
            continue
        public = [n for n in check["cases"] if (check["family"], n) not in hidden]
        if len(public) < len(check["cases"]):
            left_out[check["id"]] = [n for n in check["cases"] if n not in public]
        if public:
            kept.append({**check, "cases": public})
    used = {(c["family"], n) for c in kept for n in c["cases"]}
    cases = {
        fam: {n: spec for n, spec in table.items() if (fam, n) in used}
        for fam, table in raw.get("cases", {}).items()
    }
    data = {k: raw[k] for k in ("name", "description", "package_names", "parts") if k in raw}
    data.update(
        defaults=raw.get("defaults", {}),
        cases={fam: table for fam, table in cases.items() if table},
        checks=kept,
    )
    return KitContents(data, left_out)


def record_answers(assignment: Assignment, seed: int) -> Recording:
    """Every call to the course's layers the kit's cases and their hint probes make, recorded."""
    from grader.oracle import LAYER_FUNCTIONS

    recording = Recording()
    course_layers.lend(recording.recorder(LAYER_FUNCTIONS))
    try:
        book = CaseBook(assignment, seed, course_layers.answer)
        for case in _cases(assignment, book):
            _run_probes(case)
    finally:
        course_layers.lend(LAYER_FUNCTIONS)
    return recording


def _cases(assignment: Assignment, book: CaseBook) -> list[Case]:
    return [book.get(spec.family, name) for spec in assignment.checks for name in spec.cases]


def _run_probes(case: Case) -> None:
    """Each probe, given an output that matches nothing, computes every variant it knows."""
    hints.forward_hint(case, None, Observation(case=case))
    for name, expected in zip(case.family.grads, case.ref_grads):
        hints.backward_hint(case, name, None, expected)


def build_kit(assignment: Assignment, out: Path) -> Path:
    """Write the student kit of `assignment` into `out`; returns the wheel's path."""
    contents = kit_contents(tomllib.loads(assignment_text(assignment)))
    package = kit_package(assignment)
    kit_assignment = parse_assignment(contents.data, f"kit:{assignment.name}")
    validate(kit_assignment)
    seed = secrets.randbelow(2**31)
    recording = record_answers(kit_assignment, seed)
    _self_test(kit_assignment, seed, recording)
    meta = {
        "assignment": contents.data,
        "assignment_name": assignment.name,
        "assignment_version": assignment.version,
        "grader_version": __version__,
        "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "functions": _layer_names(),
        "left_out": contents.left_out,
    }
    files = {f"{package}/_grader/{path}": text for path, text in vendored(package).items()}
    files[f"{package}/__init__.py"] = KIT_INIT.format(
        name=assignment.name, package=package
    ).encode()
    files[f"{package}/__main__.py"] = KIT_MAIN.encode()
    files[f"{package}/data/kit.json"] = json.dumps(meta, indent=1).encode()
    files[f"{package}/data/recording.npz"] = recording.to_bytes()
    return _write_wheel(out, package, assignment, files)


def _layer_names() -> list[str]:
    from grader.oracle import LAYER_FUNCTIONS

    return sorted(LAYER_FUNCTIONS)


def _all_cases(assignment: Assignment, seed: int) -> list[Case]:
    return _cases(assignment, CaseBook(assignment, seed, course_layers.answer))


def _self_test(assignment: Assignment, seed: int, recording: Recording) -> None:
    """The replay must answer every case exactly as the reference did, or the kit is not built."""
    from grader.oracle import LAYER_FUNCTIONS

    expected = _all_cases(assignment, seed)
    course_layers.lend(recording.replayer(_layer_names()), any_input=False)
    try:
        replayed = _all_cases(assignment, seed)
    except KeyError as exc:
        raise AssignmentError(f"the student kit cannot replay its cases: {exc}") from None
    finally:
        course_layers.lend(LAYER_FUNCTIONS)
    for a, b in zip(expected, replayed):
        same = all(
            _same(x, y) for x, y in zip((a.ref_out, *a.ref_grads), (b.ref_out, *b.ref_grads))
        )
        if not same:
            raise AssignmentError(f"the student kit replays case {a.key} differently")


def _same(x: Any, y: Any) -> bool:
    import numpy as np

    return np.array_equal(np.asarray(x), np.asarray(y))


def vendored(package: str) -> dict[str, bytes]:
    """The grader modules the kit runs (by module-level imports from ROOTS), as files of
    `{package}._grader`, plus the sandbox's child-side scripts and the results schema. A package
    the kit only passes through (grader.report for its console module) gets an empty
    `__init__.py`, so its other modules stay out."""
    modules, passed_through = import_closure(ROOTS)
    files: dict[str, bytes] = {}
    for module in sorted(modules | passed_through):
        path = _module_file(module)
        text = _renamed(path.read_text(), package) if module in modules else '"""(kit)"""\n'
        files[str(path.relative_to(GRADER))] = text.encode()
    for path in sorted((GRADER / "sandboxed").glob("*.py")):
        files[str(path.relative_to(GRADER))] = path.read_bytes()
    for name in DATA_FILES:
        files[name] = (GRADER / name).read_bytes()
    return files


def import_closure(roots: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """grader modules reachable from `roots` by module-level imports, and the packages that only
    contain them."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        if any(module == n or module.startswith(f"{n}.") for n in NEVER):
            raise AssertionError(f"the student kit would import {module}")
        seen.add(module)
        todo += [m for m in _imports(module) if m == "grader" or m.startswith("grader.")]
    parents = {".".join(m.split(".")[:i]) for m in seen for i in range(1, len(m.split(".")))}
    return seen, parents - seen


def third_party(modules: set[str]) -> set[str]:
    """Top-level names of the non-grader, non-standard modules `modules` import."""
    names = {m.split(".")[0] for module in modules for m in _imports(module)}
    return {n for n in names if n != "grader" and n not in sys.stdlib_module_names}


def _imports(module: str) -> list[str]:
    tree = ast.parse(_module_file(module).read_text())
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if candidate.startswith("grader") and _is_module(candidate):
                    found.append(candidate)
    return found


def _is_module(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (GRADER / relative).with_suffix(".py").is_file() or (GRADER / relative).is_dir()


def _module_file(module: str) -> Path:
    relative = Path(*module.split(".")[1:])
    package = GRADER / relative / "__init__.py"
    return package if package.is_file() else (GRADER / relative).with_suffix(".py")


def _renamed(source: str, package: str) -> str:
    """Imports of `grader` become imports of the kit's private copy."""
    return re.sub(
        r"^(\s*)(from|import)\s+grader\b", rf"\1\2 {package}._grader", source, flags=re.MULTILINE
    )


KIT_INIT = '''"""The student kit of {name}: its public checks, run on your code.

In a terminal: grader-check PATH (your package folder or layers.py). In a notebook cell:
from {package} import check; check("conv_forward_naive"), or check() for every function so far.
"""

from pathlib import Path as _Path


def check(*functions, timeout=60.0):
    """Check `functions` (names; default: every graded function defined so far) as this
    notebook has them now, in the kit's sandbox; returns a report the notebook shows."""
    from ._grader.kit.notebook_check import check as _check

    return _check(_Path(__file__).parent / "data", *functions, timeout=timeout)
'''

KIT_MAIN = """import sys
from pathlib import Path

from ._grader.kit.runtime import main as _main


def main() -> int:
    return _main(sys.argv[1:], Path(__file__).parent / "data")


if __name__ == "__main__":
    sys.exit(main())
"""


def _write_wheel(out: Path, package: str, assignment: Assignment, files: dict[str, bytes]) -> Path:
    modules, _ = import_closure(ROOTS)
    unknown = third_party(modules) - set(DEPENDENCIES)
    if unknown:
        raise AssertionError(f"the student kit imports {sorted(unknown)}, not in DEPENDENCIES")
    version = __version__
    dist_info = f"{package}-{version}.dist-info"
    requires = "".join(f"Requires-Dist: {DEPENDENCIES[n]}\n" for n in sorted(third_party(modules)))
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: {version}\n"
        f"Summary: Student kit of {assignment.name}: its public checks, without the solution\n"
        f"Requires-Python: >=3.11\n{requires}"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: grader {version}\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    ).encode()
    files[f"{dist_info}/entry_points.txt"] = (
        f"[console_scripts]\ngrader-check = {package}.__main__:main\n"
    ).encode()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{package}-{version}-py3-none-any.whl"
    with WheelFile(path, "w") as wheel:
        for name, data in sorted(files.items()):
            wheel.writestr(name, data)
    return path
