"""The Gradescope autograder zip: setup.sh, run_autograder and this project's source.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once to build the image,
then run_autograder per submission. The project travels as source (under `source/`) so
the image builds exactly the code that produced the local reports.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

SCRIPTS = Path(__file__).parent / "templates"
EXCLUDED_DIRS = {".git", "build", "dist", "reports", "submissions", "__pycache__", ".pytest_cache",
                 ".mypy_cache", ".ruff_cache", ".venv", "venv", ".tox", "node_modules"}
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
    return (path.name in EXCLUDED_DIRS or path.name.endswith(".egg-info") or path.is_symlink()
            or (path / "pyvenv.cfg").exists())


def _build_output(path: Path) -> bool:
    """Compiled files, archives, and C that Cython generates next to its .pyx."""
    return path.suffix in EXCLUDED_SUFFIXES or (path.suffix == ".c" and path.with_suffix(".pyx").exists())


def build_gradescope_bundle(out_zip: Path, *, project_source: Path | None = None) -> Path:
    """Write the autograder zip to `out_zip` (atomically) and return its path."""
    source = Path(project_source) if project_source is not None else default_project_source()
    if not source.is_dir():
        raise ValueError(f"project source {source} is not a directory")
    files = list(project_files(source))
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_zip.parent, prefix=f".{out_zip.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for script in ("setup.sh", "run_autograder"):
                _add(zf, script, (SCRIPTS / script).read_bytes(), executable=True)
            for path in files:
                _add(zf, f"source/{path.relative_to(source).as_posix()}", path.read_bytes(),
                     executable=os.access(path, os.X_OK))
        os.replace(tmp, out_zip)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_zip


def _add(zf: zipfile.ZipFile, name: str, data: bytes, *, executable: bool) -> None:
    """Fixed timestamps and explicit modes: the same tree gives the same zip, scripts stay executable."""
    info = zipfile.ZipInfo(name, _FIXED_TIME)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)
