"""Fixtures for the notebook tests: notebooks built at test time from the seed's cells.

The seed (../shared/seed, beside the project; tests that need it skip without it) is a text
export of a completed student notebook: code cells are fenced blocks that start with `[N]:`,
split across pages, with wrapped lines marked by arrows; outputs are fenced blocks too.
`seed_cells` recovers the cells; `notebooks` builds the variants the tests grade (correct,
buggy layer, untouched aside, failing/looping/killing cells, ...) and the packages beside them.
"""

from __future__ import annotations

import ast
import re
import shutil
import textwrap
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from grader.oracle import COURSE_DIR

SEED = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "seed"
    / "ConvolutionalNetworks-notebook.txt"
)
CELL_START = re.compile(r"^\s*\[(\d+)\]:\s?")
WRAP = re.compile(r"\n\s*[→↪↳]")
FENCE = re.compile(r"^```\s*$", re.MULTILINE)
# Characters the PDF-to-text export garbled in the seed, restored to what the notebook holds.
EXPORT_FIXES = {"[[[-0.16368421, -0.14894737]": "[[-0.16368421, -0.14894737]"}
SOBEL_VERTICAL = "[[1, 0, -1], [2, 0, -2], [1, 0, -1]]"
GAUSSIAN = "[[1/16, 2/16, 1/16], [2/16, 4/16, 2/16], [1/16, 2/16, 1/16]]"


def _is_code(text: str) -> bool:
    """Code parses (magics blanked) and has no annotations: `Shape: (2, 3)` is printed output."""
    lines = ["" if line.lstrip().startswith("%") else line for line in text.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return False
    return not any(isinstance(node, ast.AnnAssign) for node in ast.walk(tree))


def _blocks(text: str) -> list[tuple[bool, str]]:
    """(fenced, text) chunks of the export, in order; fenced chunks split where a cell starts."""
    chunks = []
    for i, part in enumerate(FENCE.split(text)):
        pieces = re.split(r"\n(?=\s*\[\d+\]:)", part) if i % 2 else [part]
        chunks += [(i % 2 == 1, piece) for piece in pieces if piece.strip()]
    return chunks


def _seed_cells(seed: Path) -> list[tuple[str, str]]:
    """The seed notebook as (cell_type, source) pairs: its code cells and its prose as markdown."""
    cells: list[tuple[str, str]] = []
    code: list[str] | None = None
    text = WRAP.sub(" ", seed.read_text(encoding="utf-8"))
    for garbled, fixed in EXPORT_FIXES.items():
        text = text.replace(garbled, fixed)
    for fenced, chunk in _blocks(text):
        start = CELL_START.match(chunk.lstrip("\n")) if fenced else None
        if start:
            first, _, rest = chunk.lstrip("\n")[start.end() :].partition("\n")
            code = [first.strip() + "\n" + textwrap.dedent(rest)]
            cells.append(("code", ""))
        elif (
            fenced
            and code is not None
            and _is_code("\n".join(code) + "\n" + textwrap.dedent(chunk))
        ):
            code.append(textwrap.dedent(chunk))
        else:
            code = None
            if not fenced:
                cells.append(("markdown", chunk.strip()))
            continue
        cells[-1] = ("code", "\n".join(part.strip("\n") for part in code))
    return [c for c in cells if c[1].strip()]


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
        for kind, src in cells
    ]
    return nb


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def code_index(cells: list[tuple[str, str]], marker: str) -> int:
    """Position of the first code cell whose source contains `marker`."""
    return next(i for i, (kind, src) in enumerate(cells) if kind == "code" and marker in src)


def with_filled_aside(cells: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The seed's cells with the aside's TODO done: Sobel on green, Gaussian on red."""
    i = code_index(cells, "w[3, 0, :, :]")
    src = cells[i][1]
    src = re.sub(r"w\[2, 1, :, :\] = .*", f"w[2, 1, :, :] = {SOBEL_VERTICAL}", src)
    src = re.sub(r"w\[3, 0, :, :\] = .*", f"w[3, 0, :, :] = {GAUSSIAN}", src)
    return cells[:i] + [("code", src)] + cells[i + 1 :]


def layer_cells(cells: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The seed up to the fast layers: setup, naive layers, aside, pools, inline questions."""
    return cells[: code_index(cells, "conv_forward_fast")]


def insert_code(
    cells: list[tuple[str, str]], before_marker: str, source: str
) -> list[tuple[str, str]]:
    i = code_index(cells, before_marker)
    return cells[:i] + [("code", source)] + cells[i:]


def student_package(dest: Path, *, bug: str | None = None) -> Path:
    """An `ie590/` package made of the reference's code (the student wrote it all correctly).

    `bug="conv_bias"` drops the bias from conv_forward_naive, a classic mistake.
    """
    ref = COURSE_DIR
    package = dest / "ie590"
    (package / "classifiers").mkdir(parents=True)
    for name in ("layers.py", "layer_utils.py", "__init__.py"):
        shutil.copyfile(ref / name, package / name)
    shutil.copyfile(ref / "classifiers" / "cnn.py", package / "classifiers" / "cnn.py")
    (package / "classifiers" / "__init__.py").write_text("from .cnn import *\n")
    if bug == "conv_bias":
        layers = package / "layers.py"
        text = layers.read_text()
        text = text.replace("def conv_forward_naive(", "def _correct_conv_forward_naive(")
        text += (
            "\n\ndef conv_forward_naive(x, w, b, conv_param):\n"
            "    out, cache = _correct_conv_forward_naive(x, w, b, conv_param)\n"
            "    return out - b.reshape(1, -1, 1, 1), cache\n"
        )
        layers.write_text(text)
    return package


@pytest.fixture(scope="session")
def seed_cells() -> list[tuple[str, str]]:
    """The seed notebook's cells; the test skips when the seed is not beside the project."""
    if not SEED.is_file():
        pytest.skip(f"the seed notebook {SEED} is not beside the project")
    return _seed_cells(SEED)


@pytest.fixture(scope="session")
def notebooks() -> SimpleNamespace:
    """The builders of test notebooks and of the packages handed in beside them."""
    return SimpleNamespace(
        build=build,
        write=write,
        code_index=code_index,
        is_code=_is_code,
        with_filled_aside=with_filled_aside,
        layer_cells=layer_cells,
        insert_code=insert_code,
        student_package=student_package,
    )
