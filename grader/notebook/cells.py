"""Reading a submitted notebook: its code cells, their printed text, and the `def`s they hold.

Everything here treats the notebook as untrusted data: a malformed file becomes a
`NotebookError` with a message a student can act on, never a traceback.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

import nbformat

from grader.errors import NotebookError

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
SAFE_IMPORT_ROOTS = {"numpy", "math", "itertools", "functools", "collections", "typing"}


def load_notebook(path: Path) -> Any:
    """Parse and validate `path` as a version-4 notebook."""
    path = Path(path)
    if not path.is_file() or path.is_symlink():
        raise NotebookError(f"{path.name}: not a regular file")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{path.name}: larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise NotebookError(f"{path.name}: not valid notebook JSON ({exc})") from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for bad input
        raise NotebookError(
            f"{path.name}: not a Jupyter notebook ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path.name}: the notebook has no list of cells")
    return nb


def code_cells(nb: Any) -> Iterator[tuple[int, str]]:
    """(index, source) of every non-empty code cell, in notebook order."""
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code" and str(cell.get("source", "")).strip():
            yield index, str(cell.source)


def printed_text(cell: Any) -> str:
    """The stdout/stderr text and plain-text results a cell shows."""
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(str(out.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def parse_cell(source: str) -> ast.Module | None:
    """The cell as Python, with IPython magics and shell escapes blanked; None if unparsable."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def defined_functions(nb: Any) -> dict[str, str]:
    """Top-level functions defined in code cells, name -> source; a later definition wins."""
    found: dict[str, str] = {}
    for _, source in code_cells(nb):
        tree = parse_cell(source)
        for node in tree.body if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found[node.name] = ast.unparse(node)
    return found


def safe_imports(nb: Any) -> list[str]:
    """The cells' imports of the numerical standard modules, for a module of extracted `def`s."""
    seen: dict[str, None] = {}
    for _, source in code_cells(nb):
        tree = parse_cell(source)
        for node in tree.body if tree else ():
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            if roots <= SAFE_IMPORT_ROOTS:
                seen[ast.unparse(node)] = None
    return list(seen)


def cells_module_source(nb: Any, package: str, skip: Iterable[str] = ()) -> str:
    """A layers module as the notebook used it: the package's layers, overridden by the cells'
    `def`s.

    Definitions named in `skip` are left out (the kernel used the package's version of them).
    """
    header = [
        '"""Functions defined in the cells of the submitted notebook (extracted by the grader)."""',
        "import numpy as np",
        *safe_imports(nb),
        "try:",
        f"    from {package}.layers import *  # noqa: F401,F403",
        "except Exception:  # a broken layers.py must not hide correct functions defined in cells",
        "    pass",
    ]
    skipped = set(skip)
    defs = [src for name, src in defined_functions(nb).items() if name not in skipped]
    return "\n".join(header) + "\n\n\n" + "\n\n\n".join(defs) + "\n"
