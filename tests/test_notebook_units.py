"""Unit tests of the notebook grading pieces that need no kernel: parsing, filters, answers, prints."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from grader.notebook import answers, consistency, image_filters
from grader.errors import NotebookError
from grader.notebook.cells import cells_module_source, defined_functions, load_notebook
from tests import notebooks

needs_seed = pytest.mark.skipif(not notebooks.SEED.exists(), reason="the seed notebook is not available")


def _filters(vertical: list[list[float]], gaussian: list[list[float]]) -> np.ndarray:
    w = np.zeros((4, 3, 3, 3))
    w[2, 1], w[3, 0] = vertical, gaussian
    return w


SOBEL = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
GAUSS = (np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16).tolist()


def test_correct_filters_pass() -> None:
    checks = image_filters.grade_image_filters(_filters(SOBEL, GAUSS), "", {})
    assert [c.status for c in checks] == ["passed", "passed"]
    assert [c.id for c in checks] == ["notebook.aside.vertical_edge", "notebook.aside.gaussian"]


def test_untouched_filters_say_so() -> None:
    checks = image_filters.grade_image_filters(np.zeros((4, 3, 3, 3)), "", {})
    assert all(c.status == "failed" and "TODO was left untouched" in c.message for c in checks)


@pytest.mark.parametrize("kernel, expected", [
    (np.array(SOBEL).T.tolist(), "horizontal edges"),
    ([[1, 0, -1], [0, 0, 0], [0, 0, 0]], "not symmetric top-bottom"),
    ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], "not antisymmetric"),
])
def test_wrong_vertical_edge_filters_are_explained(kernel: list, expected: str) -> None:
    assert any(expected in p for p in image_filters.vertical_edge_problems(_filters(kernel, GAUSS)[2]))


def test_edge_filter_on_the_wrong_channel() -> None:
    w = _filters(SOBEL, GAUSS)
    w[2, 0] = SOBEL
    assert any("red" in p for p in image_filters.vertical_edge_problems(w[2]))


@pytest.mark.parametrize("kernel, expected", [
    ((np.array(GAUSS) * 16).tolist(), "sums to 16"),
    ([[1 / 9] * 3] * 3, "peak is not (only) at the centre"),
    ([[0, 0, 0], [0, 1, 0], [0, 0, 0]], "does not smooth"),
    ([[0.1, 0.1, 0.1], [0.1, 0.3, -0.1], [0.1, 0.1, 0.1]], "negative"),
])
def test_wrong_gaussians_are_explained(kernel: list, expected: str) -> None:
    assert any(expected in p for p in image_filters.gaussian_problems(_filters(SOBEL, kernel)[3]))


def test_missing_w_gives_the_reason() -> None:
    checks = image_filters.grade_image_filters(None, "the notebook has no aside cell", {"notebook.aside.gaussian": 2.0})
    assert checks[1].message == "the notebook has no aside cell" and checks[1].max_score == 2.0


@needs_seed
def test_seed_cells_parse_into_the_notebooks_24_code_cells() -> None:
    cells = notebooks.seed_cells()
    code = [src for kind, src in cells if kind == "code"]
    assert len(code) == 24
    assert all(notebooks._is_code(src) for src in code)
    assert code[0].startswith("# As usual") and "spatial_groupnorm_backward" in code[-1]


@needs_seed
def test_seed_inline_answers_are_collected() -> None:
    found = answers.collect_answers(notebooks.build(notebooks.seed_cells()))
    assert [a["status"] for a in found] == ["answered"] * 3
    assert "stride = 4" in found[0]["answer"] and "1/4" in found[2]["answer"]


def test_empty_and_missing_answers_are_flagged() -> None:
    nb = notebooks.build([("markdown", "Inline Question #1: Why?\n\nYour Answer: *fill this in*"),
                          ("markdown", "Inline Question #2: How?"), ("markdown", "**Your Answer:**"),
                          ("markdown", "Inline Question #3: What?\n\nYour Answer: max is non-linear")])
    found = answers.collect_answers(nb)
    assert [a["status"] for a in found] == ["empty", "empty", "answered"]
    checks = answers.answer_checks(found + [{"question": "", "answer": "", "status": "missing"}], {})
    assert [c.status for c in checks] == ["failed", "failed", "skipped", "failed"]
    assert checks[2].message == "graded manually"


def test_answers_are_kept_exactly_as_written() -> None:
    answer = "*stride = 4, pool height $HH = 4 + 2P_H$, where P_H and P_W are the padding*"
    question = "If you want to reduce $W \\times H$ to $W/4 \\times H/4$?"
    nb = notebooks.build([("markdown", f"**Inline Question #1:** {question}\n\n**Your Answer:** {answer}\n")])
    (found, *_) = answers.collect_answers(nb)
    assert found == {"question": f"Inline Question #1: {question}", "answer": answer, "status": "answered"}


def test_printed_values_are_parsed() -> None:
    text = "Testing conv_backward_naive function\ndx error:  6.65e-10\ndw error: 7.2e-11\ndb error:  nan\n"
    assert consistency.printed_values(text) == {"dx error": 6.65e-10, "dw error": 7.2e-11,
                                                "db error": pytest.approx(float("nan"), nan_ok=True)}


def test_a_faked_print_is_flagged_for_review() -> None:
    nb = notebooks.build([("code", "out, _ = conv_forward_naive(x, w, b, conv_param)\nprint(...)")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="difference:  2.2e-08\n")]
    case = consistency.PUBLIC_CASES[0]
    student = consistency.reference_results(case)[0] + 1.0
    rows = consistency.compare(nb, "submitted", {case.name: consistency.recomputed_errors(case, [student])})
    flags = consistency.review_flags(rows)
    assert len(flags) == 1 and flags[0]["printed"] == 2.2e-08 and flags[0]["recomputed"] > 0.01
    honest = consistency.compare(nb, "submitted", {case.name: {"difference": 1e-12}})
    assert not consistency.review_flags(honest)


def test_backward_cells_are_not_mistaken_for_forward_cells() -> None:
    src = "out, cache = conv_forward_naive(x, w, b, p)\ndx, dw, db = conv_backward_naive(dout, cache)"
    case = next(c for c in consistency.BACKWARD_FIRST if c.matches(src))
    assert case.name == "conv_backward"


def test_cell_definitions_become_a_module() -> None:
    nb = notebooks.build([("code", "import numpy as np\nimport matplotlib.pyplot as plt\n%matplotlib inline\n"
                                   "def conv_forward_naive(x, w, b, p):\n    return np.zeros(1), None\n"),
                          ("code", "def conv_forward_naive(x, w, b, p):\n    return np.ones(1), None\n"
                                   "def helper():\n    return 1\nprint(helper())")])
    assert set(defined_functions(nb)) == {"conv_forward_naive", "helper"}
    source = cells_module_source(nb, "ie590")
    namespace: dict = {}
    exec(compile(source.replace("from ie590.layers import *", "pass"), "m", "exec"), namespace)
    assert namespace["conv_forward_naive"](0, 0, 0, 0)[0][0] == 1.0
    assert "matplotlib" not in source
    assert "helper" in source and "def conv_forward_naive" not in cells_module_source(
        nb, "ie590", skip=["conv_forward_naive"])


@pytest.mark.parametrize("content, expected", [
    ('{"cells": [', "not valid notebook JSON"),
    ("\xff\xfe", "not valid notebook JSON"),
    ('{"hello": 1}', "not a Jupyter notebook"),
])
def test_malformed_notebooks_get_a_clear_error(tmp_path, content: str, expected: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(NotebookError, match=expected):
        load_notebook(path)


def test_runner_summary_is_reduced_to_known_fields() -> None:
    from grader.notebook.execute import _clean_summary

    assert _clean_summary("not a dict") == {}
    summary = _clean_summary({"cells": [{"index": 1, "status": "error", "error": {"name": "E", "value": "x" * 900}},
                                        {"index": "2", "status": "ok"}, {"index": 3, "status": "hacked"}, 7],
                              "kernel_restarts": "many", "captures": [{"tag": "aside.4", "status": "ok"}]})
    assert [c["index"] for c in summary["cells"]] == [1]
    assert len(summary["cells"][0]["error"]["value"]) == 500
    assert summary["kernel_restarts"] == 0 and summary["probes"][0]["tag"] == "aside.4"
