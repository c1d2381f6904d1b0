"""What students read: a module that does not import is located once, hidden cases stay hidden."""

from __future__ import annotations

import shutil

import pytest

from grader.import_errors import ImportProblem

CONV = ("forward.conv_forward_naive.*", "backward.conv_backward_naive.public")


@pytest.fixture
def broken_copy(tmp_path, submissions):
    """The correct folder with `old` replaced by `new` in layers.py -> (folder, changed line)."""

    def make(old: str, new: str):
        folder = tmp_path / "student"
        shutil.copytree(submissions / "correct_folder", folder)
        layers = folder / "layers.py"
        text = layers.read_text()
        assert old in text
        layers.write_text(text.replace(old, new, 1))
        line = text[: text.index(old)].count("\n") + 1
        return folder, line

    return make


def test_a_syntax_error_is_located_in_the_students_file(broken_copy, grading):
    folder, line = broken_copy("    cache = x\n", "    cache = x (((\n")
    result = grading.one(folder, grading.options(only=CONV))
    (problem,) = result.details["import_errors"]
    assert problem["file"] == "ie590/layers.py" and problem["line"] == line
    assert problem["message"] == "SyntaxError: '(' was never closed"
    assert problem["text"].strip() == "cache = x (((" and problem["offset"] is not None
    stopped = [c for c in result.checks if c.status != "skipped"]
    assert stopped and all(
        c.status == "error" and c.details["import_error"] == problem for c in stopped
    )
    for check in stopped:
        assert (
            f"ie590/layers.py does not import: SyntaxError: '(' was never closed (line {line})"
            in check.message
        )
        assert "importlib" not in check.details["traceback"]
        assert check.details["traceback"].splitlines()[:2] == [
            f'  File "ie590/layers.py", line {line}',
            "    cache = x (((",
        ]


def test_an_error_raised_on_import_points_at_the_students_line(broken_copy, grading):
    folder, line = broken_copy(
        "import numpy as np\n", "import numpy as np\nscale = undefined_name\n"
    )
    result = grading.one(folder, grading.options(only=["forward.conv_forward_naive.public"]))
    (problem,) = result.details["import_errors"]
    assert (problem["file"], problem["line"]) == ("ie590/layers.py", line + 1)
    assert problem["message"] == "NameError: name 'undefined_name' is not defined"
    assert problem["text"] == "scale = undefined_name" and problem["offset"] is None


def test_a_module_that_imports_has_no_import_errors(grading, submissions):
    result = grading.one(
        submissions / "correct_folder", grading.options(only=["forward.relu_forward.*"])
    )
    assert result.details["import_errors"] == []


def test_the_excerpt_reads_like_pythons_own():
    problem = ImportProblem(
        "ie590.layers", "SyntaxError: invalid syntax", "ie590/layers.py", 12, 9, "    x = = 1\n"
    )
    assert problem.excerpt() == (
        '  File "ie590/layers.py", line 12\n    x = = 1\n        ^\nSyntaxError: invalid syntax'
    )
    assert problem.where() == "ie590/layers.py, line 12"


@pytest.mark.parametrize("data", [None, [], {"file": "x.py"}, {"message": 3}])
def test_malformed_replies_are_no_problem_at_all(data):
    assert ImportProblem.from_json(data) is None


def test_only_the_expected_types_come_back_from_the_sandbox():
    problem = ImportProblem.from_json(
        {
            "message": "E" * 2000,
            "file": ["a"],
            "line": "3",
            "offset": True,
            "text": 7,
            "module": "m",
        }
    )
    assert problem == ImportProblem("m", "E" * 500, None, None, None, None)


def test_a_hidden_checks_student_message_names_no_case(tmp_path, grading, submissions):
    result = grading.one(
        submissions / "bug_conv_no_bias",
        grading.options(seed=3, only=["forward.conv_forward_naive.*"]),
    )
    checks = {c.id: c for c in result.checks}
    public, hidden = (
        checks["forward.conv_forward_naive.public"],
        checks["forward.conv_forward_naive.hidden"],
    )
    assert public.status == hidden.status == "failed"
    assert public.student_message is None, "a public check's message is for everyone"
    from grader.assignment import load_assignment

    spec = next(s for s in load_assignment().checks if s.id == hidden.id)
    assert spec.cases[0] in hidden.message and "expected" in hidden.message
    n = len(spec.cases)
    assert hidden.student_message == f"0/{n} cases passed; out has wrong values"
    assert hidden.hint and "bias" in hidden.hint


def test_a_hidden_checks_exception_is_named_without_its_text(broken_copy, grading):
    folder, _ = broken_copy(
        "    out = np.maximum(0, x)\n",
        "    out = np.maximum(0, x)\n    raise IndexError(f'index {x.shape} out of range')\n",
    )
    result = grading.one(folder, grading.options(only=["forward.relu_forward.hidden"]))
    (check,) = [c for c in result.checks if c.status != "skipped"]
    assert check.status == "error" and "out of range" in check.message
    assert check.student_message == "0/1 cases passed; relu_forward: raised IndexError"
