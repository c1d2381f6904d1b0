"""The report folder's manifest: the files one run put there, so the next run can tidy up.

A report folder is reused run after run. Without a record, `gradebook.csv`, `junit.xml` and
`gradescope/` of an older run (another seed, other submissions) would sit beside a new
`results.json` and be taken for its reports. Each render writes `grader-manifest.json` listing
every file of its run (reports, `results.json`, executed notebooks) and removes the files the
previous manifest listed that this run did not write again. A file no manifest listed is never
touched: whatever else an instructor keeps in the folder stays.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Iterable

from grader.results import RunResult, write_text_atomic

MANIFEST = "grader-manifest.json"


def listed_files(out_dir: Path) -> set[str]:
    """The files the folder's manifest lists (relative POSIX paths); none without a readable one."""
    try:
        data = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    files = data.get("files") if isinstance(data, dict) else None
    return {f for f in files if safe_relative(f)} if isinstance(files, list) else set()


def replace_manifest(out_dir: Path, run: RunResult, files: Iterable[Path]) -> list[str]:
    """List `files` as the folder's run and remove what the previous run left; return the removed.

    The manifest first lists both runs' files, so an interruption between the two steps
    leaves nothing unlisted behind.
    """
    out_dir = Path(out_dir)
    current = {_relative(out_dir, f) for f in files}
    current.discard(None)
    previous = listed_files(out_dir)
    _write(out_dir, run, previous | current)
    removed = [name for name in sorted(previous - current) if _remove(out_dir, name)]
    _write(out_dir, run, current)
    return removed


def _write(out_dir: Path, run: RunResult, files: set[str]) -> None:
    data = {
        "about": "files written by the grader for this run; the next run replaces them",
        "grader_version": run.grader_version,
        "seed": run.seed,
        "created": run.created,
        "files": sorted(files),
    }
    write_text_atomic(out_dir / MANIFEST, json.dumps(data, indent=1) + "\n")


def _relative(out_dir: Path, path: Path) -> str | None:
    try:
        name = Path(path).resolve().relative_to(out_dir.resolve()).as_posix()
    except ValueError:
        return None
    return name if safe_relative(name) and name != MANIFEST else None


def safe_relative(name: object) -> bool:
    """A plain relative path inside the folder: no absolute paths, no `..`, no empty parts."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    return not PurePosixPath(name).is_absolute() and all(p not in ("", ".", "..") for p in parts)


def _remove(out_dir: Path, name: str) -> bool:
    """Remove a listed regular file (never a link or a folder), then its parents left empty."""
    path = out_dir / name
    parent_chain = [
        out_dir.joinpath(*PurePosixPath(name).parts[:i])
        for i in range(len(PurePosixPath(name).parts) - 1, 0, -1)
    ]
    if any(p.is_symlink() for p in [path, *parent_chain]) or not path.is_file():
        return False
    path.unlink()
    for parent in parent_chain:
        try:
            parent.rmdir()
        except OSError:  # not empty: something else lives there
            break
    return True
