"""Only grader.oracle imports the course's solution; what must work without it does."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np

from grader.assignment import load_assignment
from grader.cases import CaseBook
from grader.oracle import answer

GRADER = Path(__file__).resolve().parents[1] / "grader"
WITHOUT_REFERENCE = (
    "grader.sandbox",
    "grader.sandbox.steps",
    "grader.compare",
    "grader.layer_table",
    "grader.run_case",
    "grader.results",
    "grader.cases",
    "grader.errors",
    "grader.workspace",
    "grader.course_layers",
    "grader.grading",
    "grader.checks.layers",
    "grader.kit.runtime",
)
BLOCKER = """
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name == "reference" or name.startswith("reference."):
            raise ImportError("reference is blocked")

sys.meta_path.insert(0, Refuse())
import importlib
for module in sys.argv[1:]:
    importlib.import_module(module)
print("imported", len(sys.argv) - 1)
"""


def import_without_reference(*modules: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, *modules], capture_output=True, text=True, timeout=120
    )


def test_the_kits_modules_import_with_reference_blocked():
    done = import_without_reference(*WITHOUT_REFERENCE)
    assert done.returncode == 0, done.stderr
    assert f"imported {len(WITHOUT_REFERENCE)}" in done.stdout


def test_the_blocker_blocks():
    done = import_without_reference("grader.oracle")
    assert done.returncode != 0 and "reference is blocked" in done.stderr


def test_only_the_oracle_imports_reference():
    importers = set()
    for path in GRADER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "reference" or n.startswith("reference.") for n in names):
                importers.add(str(path.relative_to(GRADER)))
    assert importers == {"oracle.py"}


def test_case_inputs_are_drawn_without_answers_and_answered_on_demand():
    assignment = load_assignment()
    answered = []
    book = CaseBook(assignment, 0, lambda case, rng: answered.append(case.key))
    case = book.get("conv", "stride2_pad1_nonsquare")
    assert answered == ["conv.stride2_pad1_nonsquare"] and case.ref_out is None
    assert book.get("conv", "stride2_pad1_nonsquare") is case and len(answered) == 1
    graded = CaseBook(assignment, 0, answer).get("conv", "stride2_pad1_nonsquare")
    np.testing.assert_array_equal(graded.arrays["x"], case.arrays["x"])
    assert graded.ref_out.shape == (2, 3, 4, 5) and graded.dout.shape == graded.ref_out.shape
    assert len(graded.ref_grads) == 3
