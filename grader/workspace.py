"""The folder a submission's code runs in: the student's package and the course's provided modules.

One builder serves code submissions and notebooks alike, with one rule for what is copied and
one list of what the course provides:

- The student's package arrives as `{relative path: bytes}`: `package_files` reads a folder
  into that form lazily, and a submission's bytes sent elsewhere (a remote worker) rebuild
  the same workspace there.
- `skipped` is the one filter: hidden entries, caches, version control and OS junk, data set
  folders and bytecode are never copied, here or when a Sandbox copies a workspace, and the
  discovery of submissions does not look inside them.
- `PROVIDED` lists the modules the course hands out. Where the student's copy is missing (or,
  as grading finds, does not import) the course's copy is substituted from a `CourseModules`
  source; a source without a folder (a kit that ships no solution) reports the module in
  `Workspace.missing` instead.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.errors import UnsafeArchive

JUNK = frozenset({"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git", "datasets"})
MAX_FILE_BYTES = 20 * 2**20

# Modules the course hands out: substituted when missing or when they fail to import.
PROVIDED = ("fast_layers", "im2col", "solver", "optim", "gradient_check", "data_utils", "vis_utils")
# Modules students write or complete: provided only when missing, never replaced.
PROVIDED_IF_MISSING = ("layer_utils",)
# What a substituted module brings along: fast_layers needs im2col and the compiled extension.
COMPANIONS = {"fast_layers": ("im2col",)}
EXTENSIONS = {"fast_layers": "im2col_cython"}
ROLES = {
    "layers": "layers",
    "layer_utils": "layer_utils",
    "fast_layers": "fast_layers",
    "cnn": "classifiers.cnn",
}


def skipped(name: str) -> bool:
    """A file or folder name that is never copied or looked into."""
    return name.startswith(".") or name in JUNK or name.endswith(".pyc")


def copy_tree(source: Path, target: Path) -> None:
    """Copy the regular files and folders under `source` that `skipped` lets through; links,
    pipes and devices are left behind (a link could point at the grader's own files)."""
    target.mkdir(parents=True, exist_ok=True)
    for relative, path in _walk(source):
        destination = target / relative
        if path.is_dir():
            destination.mkdir(exist_ok=True)
        else:
            shutil.copyfile(path, destination)


def _walk(root: Path) -> Iterator[tuple[PurePosixPath, Path]]:
    """(relative path, path) of every regular file and folder below `root`, parents first."""
    for directory, folders, files in os.walk(root):
        here = Path(directory)
        folders[:] = sorted(f for f in folders if not skipped(f) and _plain(here / f, stat.S_ISDIR))
        for name in folders + sorted(f for f in files if not skipped(f)):
            path = here / name
            if path.is_dir() or _plain(path, stat.S_ISREG):
                yield PurePosixPath(path.relative_to(root).as_posix()), path


def _plain(path: Path, kind) -> bool:
    try:
        return kind(os.lstat(path).st_mode)
    except OSError:
        return False


class PackageFiles(Mapping[str, bytes]):
    """A student's package folder as `{relative path: bytes}`, each file read when asked for.

    Files over MAX_FILE_BYTES (checkpoints, data) are left out.
    """

    def __init__(self, directory: Path) -> None:
        self._paths = {
            str(rel): path
            for rel, path in _walk(Path(directory))
            if path.is_file() and path.stat().st_size <= MAX_FILE_BYTES
        }

    def __getitem__(self, relative: str) -> bytes:
        return self._paths[relative].read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def package_files(directory: Path | None) -> Mapping[str, bytes]:
    """The package folder's files (none when there is no folder), ready for `build_workspace`."""
    return PackageFiles(directory) if directory is not None else {}


@dataclass(frozen=True)
class CourseModules:
    """Where a workspace's provided modules come from: the course's folder, or none at all.

    `replacements` give a module another source file (a notebook's `data_utils` reads the
    grading data instead of CIFAR-10).
    """

    directory: Path | None
    replacements: Mapping[str, Path] = field(default_factory=dict)

    def sources(self, module: str) -> dict[str, Path]:
        """File name in the package -> source file, for `module`; empty when there is none."""
        if module in self.replacements:
            return {f"{module}.py": self.replacements[module]}
        if self.directory is None or not (self.directory / f"{module}.py").is_file():
            return {}
        found = {f"{module}.py": self.directory / f"{module}.py"}
        if module in EXTENSIONS:
            found.update({p.name: p for p in self.directory.glob(f"{EXTENSIONS[module]}*.so")})
        return found


@dataclass
class Workspace:
    """A folder ready to be copied into a sandbox, and the module names to call in it."""

    root: Path
    package: str
    course: CourseModules
    substituted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    student_modules: set[str] = field(default_factory=set)
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    @property
    def package_dir(self) -> Path:
        return self.root / self.package

    @property
    def modules(self) -> dict[str, str]:
        return {role: f"{self.package}.{name}" for role, name in ROLES.items()}

    def substitute(self, module: str) -> bool:
        """Replace (or add) `module` with the course's copy; False, and `module` listed as
        missing, when the course provides none."""
        if not self._install(module):
            if module not in self.missing:
                self.missing.append(module)
            return False
        if module not in self.substituted:
            self.substituted.append(module)
        return True

    def add_module(self, module: str, source: str) -> None:
        """Write a module of the grader's into the package (`classifiers.cnn`, say)."""
        _write(self.package_dir.joinpath(*module.split(".")).with_suffix(".py"), source.encode())
        _init_files(self.package_dir)

    def cleanup(self) -> None:
        if self._tmp:
            self._tmp.cleanup()

    def _install(self, module: str) -> bool:
        sources = self.course.sources(module)
        for name, path in sources.items():
            shutil.copyfile(path, self.package_dir / name)
        if sources and module in EXTENSIONS:
            for stale in self.package_dir.glob(f"{EXTENSIONS[module]}*.pyx"):
                stale.unlink()
        for companion in COMPANIONS.get(module, ()) if sources else ():
            self._install(companion)
        return bool(sources)


def build_workspace(
    files: Mapping[str, bytes], package: str, course: CourseModules, *, always: tuple[str, ...] = ()
) -> Workspace:
    """The package `package` from the student's `files`, with the course's provided modules.

    Provided modules the student lacks are substituted; those in `always` are substituted
    whatever the student handed in. A loose `cnn.py` moves to `classifiers/cnn.py`, where
    the assignment's imports expect it.
    """
    tmp = tempfile.TemporaryDirectory(prefix="grader-ws-")
    ws = Workspace(root=Path(tmp.name), package=package, course=course, _tmp=tmp)
    ws.package_dir.mkdir()
    for relative, name in _placed(files).items():
        data = files[name]
        if len(data) > MAX_FILE_BYTES:
            continue
        _write(ws.package_dir.joinpath(*relative.parts), data)
        if relative.suffix == ".py":
            ws.student_modules.add(".".join(relative.with_suffix("").parts))
    _init_files(ws.package_dir)
    for module in (*PROVIDED, *PROVIDED_IF_MISSING):
        if module not in ws.student_modules:
            ws.substitute(module)
    for module in always:
        ws.substitute(module)
    return ws


def _placed(files: Mapping[str, bytes]) -> dict[PurePosixPath, str]:
    """Where each of the student's files goes in the package (checked: no way out of it)."""
    placed = {}
    for name in sorted(files):
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts or "\\" in name:
            raise UnsafeArchive(f"the file name {name!r} points outside the submission")
        if not any(skipped(part) for part in relative.parts):
            placed[relative] = name
    loose, nested = PurePosixPath("cnn.py"), PurePosixPath("classifiers/cnn.py")
    if loose in placed and nested not in placed:
        placed[nested] = placed.pop(loose)
    return placed


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _init_files(package_dir: Path) -> None:
    """An empty __init__.py in the package and in classifiers/, where there is none."""
    for init in (package_dir / "__init__.py", package_dir / "classifiers" / "__init__.py"):
        if init.parent.is_dir() and not init.exists():
            init.write_text("")
