"""Reports rendered from a RunResult: HTML pages, results.json, Gradescope, JUnit and a CSV
gradebook.

Every renderer reads the result model only; none recomputes or changes a grade. The CLI
calls `render` after grading, `rerender` for a results.json on disk (`grader report`), and
`build_gradescope_bundle`. Each render lists its files in the folder's manifest and removes
what an earlier run left there (grader.report.manifest).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Iterable, Sequence

from grader.report.bundle import build_gradescope_bundle
from grader.report.gradebook import gradebook_csv
from grader.report.gradescope import check_visibility, gradescope_json
from grader.report.html import render_html
from grader.report.junit import junit_xml
from grader.report.manifest import MANIFEST, replace_manifest, safe_relative
from grader.report.formatting import page_stems
from grader.results import RunResult, write_text_atomic

FORMATS = ("html", "json", "gradescope", "junit", "csv")

__all__ = ["FORMATS", "MANIFEST", "render", "rerender", "build_gradescope_bundle", "page_stems"]


def render(
    run: RunResult,
    out_dir: Path,
    formats: Sequence[str] | str = ("html", "json"),
    *,
    show_hidden: bool = False,
    gradescope_hidden_visibility: str = "after_published",
    keep: Iterable[Path] = (),
) -> list[Path]:
    """Write the requested formats into `out_dir` (each file replaced atomically); return the paths.

    `formats` may also be one comma-separated string ("html,junit"). Hidden checks' inputs
    appear only with `show_hidden`; in Gradescope, hidden checks get
    `gradescope_hidden_visibility`. The folder's manifest then lists the written files, the
    executed notebooks the run links to and `keep` (say, the results.json grading wrote), and
    files an earlier run wrote that are none of these are removed.
    """
    wanted = _formats(formats)
    check_visibility(gradescope_hidden_visibility)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Callable[[], list[Path]]] = {
        "html": lambda: render_html(run, out_dir, show_hidden=show_hidden),
        "json": lambda: _write_json(run, out_dir),
        "gradescope": lambda: _write_gradescope(
            run, out_dir, show_hidden, gradescope_hidden_visibility
        ),
        "junit": lambda: _write_text(
            out_dir / "junit.xml", junit_xml(run, show_hidden=show_hidden)
        ),
        "csv": lambda: _write_text(out_dir / "gradebook.csv", gradebook_csv(run)),
    }
    written = [path for fmt in dict.fromkeys(wanted) for path in writers[fmt]()]
    replace_manifest(out_dir, run, [*written, *_notebooks(run, out_dir), *keep])
    return written


def rerender(
    results: Path,
    out_dir: Path | None = None,
    formats: Sequence[str] | str = ("html", "json"),
    *,
    show_hidden: bool = False,
) -> list[Path]:
    """Render a results.json again, without grading: after editing a template, or to add a format.

    `out_dir` defaults to the file's own folder. The executed notebooks the pages link to are
    copied along when the reports go elsewhere. Raises ResultsFileError for a file that is not
    a grader's results.
    """
    results = Path(results)
    _formats(formats)
    run = RunResult.read(results)
    out_dir = results.parent if out_dir is None else Path(out_dir)
    for name in _notebook_names(run):
        source, target = results.parent / name, out_dir / name
        if source.is_file() and not source.is_symlink() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return render(run, out_dir, formats, show_hidden=show_hidden, keep=[results])


def _formats(formats: Sequence[str] | str) -> list[str]:
    wanted = [f.strip() for f in formats.split(",")] if isinstance(formats, str) else list(formats)
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(
            f"unknown report format {', '.join(map(repr, unknown))}; "
            f"valid formats: {', '.join(FORMATS)}"
        )
    return wanted


def _notebook_names(run: RunResult) -> list[str]:
    """The executed notebooks' paths, relative to the report folder, that stay inside it."""
    names = [s.details.get("notebook") for s in run.submissions]
    return [n for n in names if isinstance(n, str) and safe_relative(n)]


def _notebooks(run: RunResult, out_dir: Path) -> list[Path]:
    """The executed notebooks the run's pages link to, where they are in the folder."""
    return [out_dir / name for name in _notebook_names(run) if (out_dir / name).is_file()]


def _write_text(path: Path, text: str) -> list[Path]:
    write_text_atomic(path, text)
    return [path]


def _write_json(run: RunResult, out_dir: Path) -> list[Path]:
    path = out_dir / "results.json"
    run.write(path)
    return [path]


def _write_gradescope(
    run: RunResult, out_dir: Path, show_hidden: bool, visibility: str
) -> list[Path]:
    """gradescope/<stem>.json per submission, and gradescope.json when there is exactly one."""
    options = {"show_hidden": show_hidden, "hidden_visibility": visibility}
    paths = [
        _write_text(out_dir / "gradescope" / f"{stem}.json", gradescope_json(sub, **options))[0]
        for sub, stem in zip(run.submissions, page_stems(run))
    ]
    if len(run.submissions) == 1:
        paths += _write_text(
            out_dir / "gradescope.json", gradescope_json(run.submissions[0], **options)
        )
    return paths
