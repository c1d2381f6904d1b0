"""Assembling the package a submission's code runs as, inside its sandbox.

The student's files become a package (their own `ie590`/`cs231n`/... or, for a loose
`layers.py`, the assignment's package name) and the course's provided modules (fast layers
and their extension, solver, optim, data and gradient utilities) are filled in from
`reference` wherever the student's copy is missing or does not import. The report lists
what was substituted.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.oracle import COURSE_DIR
from grader.submission import IGNORED_DIRS, Submission

REFERENCE_DIR = COURSE_DIR
MAX_FILE_BYTES = 20 * 2**20

# Modules the course hands out: substituted when missing or when they fail to import.
PROVIDED = ("fast_layers", "im2col", "solver", "optim", "gradient_check", "data_utils", "vis_utils")
# Modules students write or complete: provided only when missing, never replaced.
PROVIDED_IF_MISSING = ("layer_utils",)
ROLES = {
    "layers": "layers",
    "layer_utils": "layer_utils",
    "fast_layers": "fast_layers",
    "cnn": "classifiers.cnn",
}


@dataclass
class Workspace:
    """A folder ready to be copied into a sandbox, and the module names to call in it."""

    root: Path
    package: str
    substituted: list[str] = field(default_factory=list)
    student_modules: set[str] = field(default_factory=set)
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    @property
    def package_dir(self) -> Path:
        return self.root / self.package

    @property
    def modules(self) -> dict[str, str]:
        return {role: f"{self.package}.{name}" for role, name in ROLES.items()}

    def substitute(self, module: str) -> None:
        """Replace (or add) `module` with the course's copy from `reference`."""
        _copy_reference_module(module, self.package_dir)
        if module not in self.substituted:
            self.substituted.append(module)

    def cleanup(self) -> None:
        if self._tmp:
            self._tmp.cleanup()


def build_workspace(sub: Submission, package_names: tuple[str, ...]) -> Workspace:
    tmp = tempfile.TemporaryDirectory(prefix="grader-ws-")
    root = Path(tmp.name)
    package = sub.package_name or package_names[0]
    target = root / package
    if sub.package_dir is not None:
        _copy_code(sub.package_dir, target)
        loose_cnn = target / "cnn.py"
        if loose_cnn.exists() and not (target / "classifiers" / "cnn.py").exists():
            (target / "classifiers").mkdir(exist_ok=True)
            shutil.move(loose_cnn, target / "classifiers" / "cnn.py")
    target.mkdir(exist_ok=True)
    ws = Workspace(root=root, package=package, _tmp=tmp)
    ws.student_modules = {
        str(p.relative_to(target).with_suffix("")).replace("/", ".") for p in target.rglob("*.py")
    }
    for init in (target / "__init__.py", target / "classifiers" / "__init__.py"):
        if init.parent.exists() and not init.exists():
            init.write_text("")
    for module in (*PROVIDED, *PROVIDED_IF_MISSING):
        if module not in ws.student_modules:
            ws.substitute(module)
    return ws


def _copy_code(source: Path, target: Path) -> None:
    """Copy the student's code, leaving out caches, checkpoints, datasets and oversize files."""
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part in IGNORED_DIRS or part.startswith(".") for part in rel.parts) or path.is_symlink():
            continue
        if path.is_dir():
            (target / rel).mkdir(parents=True, exist_ok=True)
        elif path.suffix != ".pyc" and path.stat().st_size <= MAX_FILE_BYTES:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / rel)


def _copy_reference_module(module: str, package_dir: Path) -> None:
    package_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REFERENCE_DIR / f"{module}.py", package_dir / f"{module}.py")
    if module == "fast_layers":
        for ext in REFERENCE_DIR.glob("im2col_cython*.so"):
            shutil.copyfile(ext, package_dir / ext.name)
        for stale in package_dir.glob("im2col_cython*.pyx"):
            stale.unlink()
        _copy_reference_module("im2col", package_dir)
