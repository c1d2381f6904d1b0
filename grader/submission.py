"""Finding submissions and recognising their layout, without running any of their code.

An entry of the class folder is one submission: a folder with `layers.py`, a folder holding
a course package (`ie590/`, `cs231n/`, any package folder with a `layers.py`), a single
`.py` file, a notebook, or a `.zip` of any of these (extracted safely). Whatever cannot be
graded becomes a `Submission` with a `problem` saying why, so the run goes on.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from grader.errors import UnsafeArchive
from grader.workspace import skipped

MAX_UNPACKED_BYTES = 200 * 2**20
MAX_FILES = 5000
# The seed policy "one seed per submission, drawn from its files" (`Submission.seed`).
SUBMISSION_SEED = "submission"


@dataclass
class Submission:
    """One student's hand-in: where its code is and how it is laid out."""

    id: str
    path: Path
    sha256: str
    root: Path | None = None
    package_dir: Path | None = None
    notebook: Path | None = None
    problem: str | None = None
    layout: str = "unknown"
    _tempdirs: list[tempfile.TemporaryDirectory] = field(default_factory=list, repr=False)

    @property
    def package_name(self) -> str | None:
        """The name the student's modules import each other by, when in a package folder."""
        if (
            self.package_dir is None
            or self.package_dir == self.root
            or not self.package_dir.name.isidentifier()
        ):
            return None
        return self.package_dir.name

    @property
    def seed(self) -> int:
        """A seed drawn from the hand-in's bytes: regrading the same files draws the same cases."""
        return int(self.sha256[:8], 16) & 0x7FFFFFFF

    def cleanup(self) -> None:
        for tmp in self._tempdirs:
            tmp.cleanup()
        self._tempdirs.clear()


def discover(folder: Path) -> list[Submission]:
    """Every entry directly under `folder`, sorted by name; hidden entries are skipped."""
    folder = Path(folder)
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    return [load(entry) for entry in entries]


def load(path: Path) -> Submission:
    path = Path(path)
    sub = Submission(id=_submission_id(path), path=path, sha256=_sha256(path))
    try:
        _recognise(sub, path)
    except (OSError, zipfile.BadZipFile, UnsafeArchive, UnicodeDecodeError) as exc:
        sub.problem = (
            str(exc) if isinstance(exc, UnsafeArchive) else f"cannot read the submission: {exc}"
        )
    return sub


def _submission_id(path: Path) -> str:
    name = path.name
    for suffix in (".zip", ".py", ".ipynb"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _recognise(sub: Submission, path: Path) -> None:
    if path.is_symlink():
        sub.problem = "the submission is a symbolic link; hand in the files themselves"
    elif path.is_dir():
        _recognise_folder(sub, path)
    elif path.suffix.lower() == ".zip":
        tmp = tempfile.TemporaryDirectory(prefix="grader-zip-")
        sub._tempdirs.append(tmp)
        root = Path(tmp.name)
        extract_zip(path, root)
        inner = [p for p in root.iterdir() if not skipped(p.name)]
        if len(inner) == 1 and inner[0].is_file():
            _recognise_file(sub, inner[0])
        elif len(inner) == 1 and not (inner[0] / "__init__.py").is_file():
            _recognise_folder(sub, inner[0])  # the zipped folder that holds the work
        else:
            _recognise_folder(sub, root)  # a zipped package keeps its name (cs231n/, ie590/)
    elif path.is_file():
        _recognise_file(sub, path)
    else:
        sub.problem = "the submission is neither a file nor a folder"


def _recognise_file(sub: Submission, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".ipynb":
        sub.layout, sub.notebook, sub.root = "notebook", path, path.parent
    elif suffix == ".py":
        text = path.read_bytes()
        if not text.strip():
            sub.problem = f"{path.name} is empty"
            return
        tmp = tempfile.TemporaryDirectory(prefix="grader-py-")
        sub._tempdirs.append(tmp)
        shutil.copyfile(path, Path(tmp.name) / "layers.py")
        sub.layout, sub.root, sub.package_dir = "file", Path(tmp.name), Path(tmp.name)
    else:
        sub.problem = (
            f"unsupported file type {path.suffix or '(no extension)'}: hand in layers.py, a package"
            " folder, a notebook or a .zip"
        )


def _recognise_folder(sub: Submission, folder: Path) -> None:
    sub.root = folder
    notebooks = sorted(p for p in folder.rglob("*.ipynb") if not _ignored(p, folder))
    packages = sorted(
        {p.parent for p in folder.rglob("layers.py") if not _ignored(p, folder)},
        key=lambda p: (len(p.parts), str(p)),
    )
    if len(notebooks) > 1:
        preferred = [p for p in notebooks if p.name.lower().startswith("convolutionalnetworks")]
        notebooks = preferred if len(preferred) == 1 else notebooks
    if len(notebooks) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in notebooks)
        sub.problem = (
            f"ambiguous submission: several notebooks ({names}); keep only"
            " ConvolutionalNetworks.ipynb"
        )
        return
    sub.notebook = notebooks[0] if notebooks else None
    if not packages:
        if sub.notebook:
            sub.layout = "notebook"
            return
        sub.problem = (
            "no layers.py found in the submission"
            if any(folder.iterdir())
            else "the submission is empty"
        )
        return
    top = [p for p in packages if len(p.parts) == len(packages[0].parts)]
    if len(top) > 1:
        names = ", ".join(str(p.relative_to(folder)) or "." for p in top)
        sub.problem = (
            f"ambiguous submission: layers.py in several places ({names}); hand in one copy"
        )
        return
    sub.package_dir = packages[0]
    if sub.notebook:
        sub.layout = "notebook"
    else:
        sub.layout = "package" if sub.package_name else "folder"


def lone_notebook_advice(path: Path, package_names: Sequence[str]) -> str | None:
    """What to pass instead when a notebook file is given alone, without the package it imports.

    Graded alone, a notebook's imports from its package get stubs that raise NotImplementedError
    in every cell; the student should hear at once that the package is missing, and how to
    include it.
    """
    path = Path(path)
    if not (path.is_file() and path.suffix.lower() == ".ipynb") or not package_names:
        return None
    folder = shlex.quote(str(path.parent))
    beside = [name for name in package_names if (path.parent / name / "layers.py").is_file()]
    if beside:
        return (
            f"{path.name} is checked alone: the {beside[0]}/ package beside it is not included, so "
            "the functions the notebook imports from it raise NotImplementedError. To check both, "
            f"pass the folder that holds them: grader check {folder}"
        )
    return (
        f"{path.name} is checked alone and no {package_names[0]}/ package is beside it, so the"
        f" functions the notebook imports from {package_names[0]} raise NotImplementedError. Put"
        f" your {package_names[0]}/ folder beside the notebook and pass the folder: grader check"
        f" {folder}"
    )


def _ignored(path: Path, root: Path) -> bool:
    return any(skipped(part) for part in path.relative_to(root).parts[:-1])


def extract_zip(archive: Path, target: Path) -> None:
    """Extract with no path outside `target`, no links, and a cap on size and file count."""
    target = target.resolve()
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > MAX_FILES:
            raise UnsafeArchive(
                f"the zip holds {len(members)} entries; at most {MAX_FILES} are accepted"
            )
        total = sum(m.file_size for m in members)
        if total > MAX_UNPACKED_BYTES:
            raise UnsafeArchive(
                f"the zip unpacks to {total / 2**20:.0f} MiB; at most {MAX_UNPACKED_BYTES // 2**20}"
                " MiB are accepted"
            )
        for member in members:
            mode = member.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchive(
                    f"the zip contains a symbolic link ({member.filename}); links are not accepted"
                )
            dest = (target / member.filename).resolve()
            if not dest.is_relative_to(target) or member.filename.startswith("/"):
                raise UnsafeArchive(
                    f"the zip entry {member.filename!r} points outside the submission"
                )
        written = 0
        for member in members:
            dest = (target / member.filename).resolve()
            if member.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(dest, "wb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > MAX_UNPACKED_BYTES:
                        raise UnsafeArchive("the zip unpacks to more than it declares; refused")
                    out.write(chunk)


def _sha256(path: Path) -> str:
    """A fingerprint of the hand-in: its file's bytes, or every file of its folder in order."""
    digest = hashlib.sha256()
    try:
        files = (
            [path]
            if path.is_file()
            else sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        )
        for file in files:
            digest.update(str(file.relative_to(path) if file != path else path.name).encode())
            with open(file, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
    except OSError:
        pass
    return digest.hexdigest()
