"""The rule of grader/sandboxed/: what runs on the far side imports nothing of the grader.

Its files run under the course's interpreter (Python 3.8+, NumPy 1.x or 2.x) with `grader` and
`reference` blocked, so an import of either, a relative import or newer syntax would only fail
there, at grading time.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from grader import sandboxed

ALLOWED = set(sys.stdlib_module_names) | {"numpy", "nbformat", "nbclient"}
FILES = sorted(sandboxed.DIRECTORY.glob("*.py"))


def imported_roots(tree: ast.Module) -> list[str]:
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            roots.append("." * node.level + (node.module or "").split(".")[0])
    return roots


def test_the_rule_covers_every_file():
    assert {f.name for f in FILES} >= {
        "__init__.py",
        "server.py",
        "notebook_runner.py",
        "explain_import.py",
        "notebook_data_utils.py",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_imports_only_the_standard_library_and_numpy(path: Path):
    found = imported_roots(ast.parse(path.read_text()))
    assert found, "the parse found no imports at all"
    assert [name for name in found if name not in ALLOWED] == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_parses_as_python_3_8(path: Path):
    ast.parse(path.read_text(), feature_version=(3, 8))


def test_the_checker_sees_forbidden_imports():
    source = "import grader.sandbox\nfrom reference import layers\nfrom . import x\nimport numpy\n"
    assert [n for n in imported_roots(ast.parse(source)) if n not in ALLOWED] == [
        "grader",
        "reference",
        ".",
    ]
