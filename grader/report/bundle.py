"""The Gradescope autograder zip: setup.sh, run_autograder, grading options, the project's source.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once to build the image,
then run_autograder per submission. The project travels as source (under `source/`) so
the image builds exactly the code that produced the local reports. The options a run has
(assignment file, --only/--skip, time limits, training data, seed policy) are written to
`autograder.json` as the arguments run_autograder passes to `grader check`, with paths
relative to the unpacked bundle; a custom assignment file and an `.npz` data file travel
in the zip beside it.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from grader.errors import BundleError
from grader.assignment import assignment_file, load_assignment
from grader.data import DataError, parse_source
from grader.submission import SUBMISSION_SEED

SCRIPTS = Path(__file__).parent / "templates"
OPTIONS_FILE = "autograder.json"
ASSIGNMENT_FILE = "assignment.toml"
DATA_DIR = "data"
MIN_AUTOGRADER_TIMEOUT_S = 1800.0
TIMEOUT_MARGIN_S = 300.0
EXCLUDED_DIRS = {
    ".git",
    "build",
    "dist",
    "reports",
    "submissions",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".venv",
    "venv",
    ".tox",
    "node_modules",
}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".so", ".pyd", ".o", ".zip"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def default_project_source() -> Path:
    """The repository root this module lives in (it holds pyproject.toml)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise ValueError(f"no pyproject.toml in {root}: pass project_source explicitly")
    return root


def project_files(root: Path) -> Iterator[Path]:
    """Source files under root, sorted; no VCS data, build outputs, reports, venvs or links."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _excluded_dir(Path(dirpath) / d))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_symlink() and not _build_output(path):
                yield path


def _excluded_dir(path: Path) -> bool:
    return (
        path.name in EXCLUDED_DIRS
        or path.name.endswith(".egg-info")
        or path.is_symlink()
        or (path / "pyvenv.cfg").exists()
    )


def _build_output(path: Path) -> bool:
    """Compiled files, archives, and C that Cython generates next to its .pyx."""
    return path.suffix in EXCLUDED_SUFFIXES or (
        path.suffix == ".c" and path.with_suffix(".pyx").exists()
    )


@dataclass(frozen=True)
class BundleOptions:
    """How the autograder grades each submission, given as a class run is given.

    `seed` is one seed for the whole course, or "submission": drawn from each submission's
    files, so a regrade of the same bytes draws the same hidden cases.
    """

    assignment: str | Path | None = None  # a built-in assignment's name or a file
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    timeout_s: float = 60.0
    submission_timeout_s: float = 900.0
    data: str = "builtin"
    seed: int | str = SUBMISSION_SEED

    def travelling_files(self) -> dict[str, Path]:
        """Files the zip carries besides the project, by their name in the bundle; checked."""
        if self.timeout_s <= 0 or self.submission_timeout_s <= 0:
            raise BundleError("--timeout and --submission-timeout must be positive")
        if self.seed != SUBMISSION_SEED and not (isinstance(self.seed, int) and self.seed >= 0):
            raise BundleError(
                f"the seed must be a number from 0 or '{SUBMISSION_SEED}', not {self.seed!r}"
            )
        files = {}
        if self.assignment is not None:
            load_assignment(self.assignment)  # a broken file stops here, not on Gradescope
            files[ASSIGNMENT_FILE] = assignment_file(self.assignment)
        data = self._data_file()
        if data is not None:
            files[str(PurePosixPath(DATA_DIR, data.name))] = data
        return files

    def grader_args(self) -> list[str]:
        """What run_autograder adds to `grader check`, run in the unpacked bundle's folder."""
        args = [
            "--timeout",
            f"{self.timeout_s:g}",
            "--submission-timeout",
            f"{self.submission_timeout_s:g}",
            "--seed",
            str(self.seed),
        ]
        if self.assignment is not None:
            args += ["--assignment", ASSIGNMENT_FILE]
        data = self._data_file()
        args += ["--data", f"npz:{PurePosixPath(DATA_DIR, data.name)}" if data else self.data]
        for pattern in self.only:
            args += ["--only", pattern]
        for pattern in self.skip:
            args += ["--skip", pattern]
        return args

    def autograder_timeout_s(self) -> float:
        """run_autograder's own limit: above the grader's, so a slow submission still reports."""
        return max(MIN_AUTOGRADER_TIMEOUT_S, self.submission_timeout_s + TIMEOUT_MARGIN_S)

    def _data_file(self) -> Path | None:
        """The `.npz` to ship; a CIFAR-10 folder is too large and must be on the image already."""
        kind, _, path = self.data.partition(":")
        if kind == "cifar10" and path:
            if not path.startswith("/"):
                raise BundleError(
                    f"--data {self.data}: in a bundle, cifar10:PATH names a folder "
                    "on the Gradescope image; give its absolute path"
                )
            return None
        try:
            source = parse_source(self.data)
        except DataError as exc:
            raise BundleError(str(exc)) from None
        return Path(source.path) if source.kind == "npz" else None


def build_gradescope_bundle(
    out_zip: Path, *, project_source: Path | None = None, options: BundleOptions = BundleOptions()
) -> Path:
    """Write the autograder zip to `out_zip` (atomically) and return its path."""
    source = Path(project_source) if project_source is not None else default_project_source()
    if not source.is_dir():
        raise ValueError(f"project source {source} is not a directory")
    extra = options.travelling_files()
    settings = {"grader_args": options.grader_args(), "timeout_s": options.autograder_timeout_s()}
    files = list(project_files(source))
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_zip.parent, prefix=f".{out_zip.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for script in ("setup.sh", "run_autograder"):
                _add(zf, script, (SCRIPTS / script).read_bytes(), executable=True)
            settings_text = json.dumps(settings, indent=2) + "\n"
            _add(zf, OPTIONS_FILE, settings_text.encode(), executable=False)
            for name, path in extra.items():
                _add(zf, name, path.read_bytes(), executable=False)
            for path in files:
                _add(
                    zf,
                    f"source/{path.relative_to(source).as_posix()}",
                    path.read_bytes(),
                    executable=os.access(path, os.X_OK),
                )
        os.replace(tmp, out_zip)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_zip


def _add(zf: zipfile.ZipFile, name: str, data: bytes, *, executable: bool) -> None:
    """Fixed timestamps and explicit modes: the same tree gives the same zip, scripts stay
    executable."""
    info = zipfile.ZipInfo(name, _FIXED_TIME)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)
