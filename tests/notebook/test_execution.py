"""Notebooks built from the seed's cells, executed in the sandbox and graded end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import nbformat
import numpy as np
import pytest

from grader.checks.notebook import NotebookGrade, grade_notebook
from grader.notebook.execute import NotebookOptions, _clean_summary
from grader.results import CheckResult
from grader.sandbox import Sandbox
from grader.sandbox.steps import Program, call, ref, ret

SMALL = NotebookOptions(
    cell_timeout_s=60, total_timeout_s=240, num_training=200, num_validation=50, num_test=50
)


def _grade(
    notebooks,
    tmp_path: Path,
    cells: list,
    package: Path | None = None,
    options: NotebookOptions = SMALL,
    grade_modules=None,
) -> NotebookGrade:
    path = notebooks.write(notebooks.build(cells), tmp_path / "ConvolutionalNetworks.ipynb")
    return grade_notebook(
        path, package, "ie590", tmp_path / "report", options=options, grade_modules=grade_modules
    )


def _check(grade: NotebookGrade, check_id: str) -> CheckResult:
    return next(c for c in grade.checks if c.id == check_id)


def _cells(grade: NotebookGrade) -> dict[int, dict]:
    return {c["index"]: c for c in grade.details["notebook_execution"]["cells"]}


@pytest.fixture
def layer_cells(notebooks, seed_cells) -> list:
    """The seed up to the fast layers, with the aside's filters filled in."""
    return notebooks.with_filled_aside(notebooks.layer_cells(seed_cells))


@pytest.mark.slow
def test_complete_correct_notebook(tmp_path: Path, notebooks, seed_cells) -> None:
    cells = notebooks.with_filled_aside(seed_cells)
    options = NotebookOptions(
        cell_timeout_s=120, total_timeout_s=400, num_training=300, num_validation=100, num_test=100
    )
    grade = _grade(notebooks, tmp_path, cells, notebooks.student_package(tmp_path / "sub"), options)
    failed = {c["index"]: c for c in _cells(grade).values() if c["status"] != "ok"}
    vis = notebooks.code_index(cells, "visualize_grid")
    assert set(failed) <= {vis}, failed  # vis_utils may be missing from the course's modules
    assert _check(grade, "notebook.aside.vertical_edge").status == "passed"
    assert _check(grade, "notebook.aside.gaussian").status == "passed"
    assert [a["status"] for a in grade.details["inline_answers"]] == ["answered"] * 3
    assert grade.details["review"] == []
    assert len(grade.details["consistency"]) == 14
    assert all(row["recomputed"] < 1e-9 for row in grade.details["consistency"])
    training = grade.details["notebook_training"]
    assert [t["iterations"] for t in training] == [30, 3]
    assert training[0]["final_train_acc"] == training[0]["train_acc_history"][-1]
    assert all(o["from"] == "package" for o in grade.details["graded_functions"].values())
    executed = json.loads(Path(grade.details["notebook"]).read_text())
    assert any(
        o.get("output_type") == "display_data"
        for c in executed["cells"]
        for o in c.get("outputs", [])
    )


def test_buggy_layer_and_a_faked_print_are_flagged(tmp_path: Path, layer_cells, notebooks) -> None:
    cells = layer_cells
    nb = notebooks.build(cells)
    forward = notebooks.code_index(cells, "Testing conv_forward_naive")
    nb.cells[forward].outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stdout",
            text="Testing conv_forward_naive\ndifference:  2.2121476417505994e-08\n",
        )
    ]
    path = notebooks.write(nb, tmp_path / "ConvolutionalNetworks.ipynb")
    package = notebooks.student_package(tmp_path / "sub", bug="conv_bias")
    grade = grade_notebook(path, package, "ie590", tmp_path / "report", options=SMALL)
    flags = grade.details["review"]
    assert [(f["case"], f["label"], f["outputs"]) for f in flags] == [
        ("conv_forward", "difference", "submitted")
    ]
    assert (
        flags[0]["printed"] == pytest.approx(2.2121476417505994e-08)
        and flags[0]["recomputed"] > 0.01
    )
    executed = [
        r
        for r in grade.details["consistency"]
        if r["outputs"] == "executed" and r["case"] == "conv_forward"
    ]
    assert executed[0]["printed"] > 0.01 and not executed[0]["disagrees"]
    assert _check(grade, "notebook.aside.gaussian").status == "passed"


def test_untouched_aside_filters(tmp_path: Path, notebooks, seed_cells) -> None:
    grade = _grade(
        notebooks,
        tmp_path,
        notebooks.layer_cells(seed_cells),
        notebooks.student_package(tmp_path / "sub"),
    )
    for check_id in ("notebook.aside.vertical_edge", "notebook.aside.gaussian"):
        check = _check(grade, check_id)
        assert check.status == "failed" and "TODO was left untouched" in check.message


def test_error_in_a_middle_cell_does_not_stop_the_rest(
    tmp_path: Path, layer_cells, notebooks
) -> None:
    cells = notebooks.insert_code(
        layer_cells, "conv_backward_naive(", "raise ValueError('half done')"
    )
    grade = _grade(notebooks, tmp_path, cells, notebooks.student_package(tmp_path / "sub"))
    bad = notebooks.code_index(cells, "half done")
    ran = _cells(grade)
    assert ran[bad]["status"] == "error" and ran[bad]["error"]["name"] == "ValueError"
    assert all(c["status"] == "ok" for i, c in ran.items() if i != bad)
    assert "ValueError: half done" in _check(grade, "notebook.execution").message
    assert _check(grade, "notebook.aside.gaussian").status == "passed"


@pytest.mark.slow
def test_infinite_loops_time_out(tmp_path: Path, layer_cells, notebooks) -> None:
    cells = notebooks.insert_code(layer_cells, "conv_backward_naive(", "while True:\n    pass")
    stubborn = (
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except"
        " KeyboardInterrupt:\n        pass"
    )
    cells = notebooks.insert_code(cells, "max_pool_backward_naive(", stubborn)
    options = NotebookOptions(
        cell_timeout_s=3, total_timeout_s=120, num_training=200, num_validation=50, num_test=50
    )
    grade = _grade(notebooks, tmp_path, cells, notebooks.student_package(tmp_path / "sub"), options)
    ran = _cells(grade)
    loop, swallow = (
        notebooks.code_index(cells, "while True:\n    pass"),
        notebooks.code_index(cells, "KeyboardInterrupt"),
    )
    assert ran[loop]["status"] == "timeout" and "interrupted" in ran[loop]["message"]
    assert ran[notebooks.code_index(cells, "conv_backward_naive(")]["status"] == "ok"
    assert (
        ran[swallow]["status"] == "timeout" and "ignored the interrupt" in ran[swallow]["message"]
    )
    assert all(c["status"] == "not_run" for i, c in ran.items() if i > swallow)
    assert grade.details["notebook_execution"]["kernel_restarts"] == 1
    assert _check(grade, "notebook.aside.gaussian").status == "passed"


def test_a_cell_that_kills_its_kernel(tmp_path: Path, layer_cells, notebooks) -> None:
    cells = notebooks.insert_code(layer_cells, "conv_backward_naive(", "import os\nos._exit(3)")
    grade = _grade(notebooks, tmp_path, cells, notebooks.student_package(tmp_path / "sub"))
    ran = _cells(grade)
    killer = notebooks.code_index(cells, "os._exit")
    assert ran[killer]["status"] == "died"
    assert all(c["status"] == "not_run" for i, c in ran.items() if i > killer)
    summary = grade.details["notebook_execution"]
    assert summary["kernel_restarts"] == 1
    assert {p["tag"] for p in summary["probes"]} >= {
        "aside." + str(notebooks.code_index(cells, "w[3, 0"))
    }
    assert _check(grade, "notebook.aside.vertical_edge").status == "passed"


def test_malformed_notebook_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "ConvolutionalNetworks.ipynb"
    path.write_text('{"cells": [{"cell_type": "code", "source": "print(1)"')
    grade = grade_notebook(path, None, "ie590", tmp_path / "report")
    assert grade.error and "not valid notebook JSON" in grade.error
    assert _check(grade, "notebook.execution").status == "failed"


def test_notebook_without_code(tmp_path: Path, notebooks) -> None:
    grade = _grade(
        notebooks, tmp_path, [("markdown", "# Convolutional Networks\nNothing done yet.")]
    )
    assert grade.error is None
    assert _check(grade, "notebook.execution").status == "passed"
    assert "no aside cell" in _check(grade, "notebook.aside.vertical_edge").message
    assert [a["status"] for a in grade.details["inline_answers"]] == ["missing"] * 3
    assert Path(grade.details["notebook"]).is_file()


def _conv_forward_error(root: Path, modules: Mapping[str, str]) -> list[CheckResult]:
    """A minimal layer check through the real sandbox: the used conv_forward_naive vs reference."""
    from reference.layers import conv_forward_naive

    x, w, b = np.random.RandomState(0).randn(2, 3, 6, 6), np.ones((2, 3, 3, 3)), np.arange(2.0)
    param = {"stride": 1, "pad": 1}
    with Sandbox(root) as sandbox:
        forward = call(
            f"{modules['layers']}:conv_forward_naive", ref("x"), ref("w"), ref("b"), param, as_="r"
        )
        reply = sandbox.run(Program([forward, ret(out=ref("r", 0))], {"x": x, "w": w, "b": b}))
    ok = reply.ok and np.allclose(reply.values["out"], conv_forward_naive(x, w, b, param)[0])
    return [
        CheckResult(
            id="layers.conv_forward",
            target=modules["layers"],
            name="conv forward",
            status="passed" if ok else "failed",
            score=float(ok),
            max_score=1.0,
        )
    ]


def test_functions_defined_in_cells_are_the_ones_graded(
    tmp_path: Path, layer_cells, notebooks
) -> None:
    source = Path(__import__("reference.layers", fromlist=["x"]).__file__).read_text()
    start = source.index("def conv_forward_naive(")
    helpers = source[
        source.index(
            "# ---------------------------------------------------------------- validation"
        ) : source.index("def affine_forward(")
    ]
    cells = layer_cells
    setup = notebooks.code_index(cells, "As usual") + 1
    cells = (
        cells[:setup]
        + [
            ("code", "from typing import Callable, Iterator, Optional\n" + helpers),
            ("code", source[start : source.index("def conv_backward_naive(")]),
        ]
        + cells[setup:]
    )
    grade = _grade(notebooks, tmp_path, cells, None, grade_modules=_conv_forward_error)
    assert grade.details["graded_functions"]["conv_forward_naive"]["from"] == "notebook cells"
    assert grade.details["graded_functions"]["conv_backward_naive"]["from"] == "package"
    assert _check(grade, "layers.conv_forward").status == "passed"
    assert _check(grade, "layers.conv_forward").target == "ie590.notebook_cells"
    forward = [r for r in grade.details["consistency"] if r["case"] == "conv_forward"]
    assert forward and forward[0]["recomputed"] < 1e-12


def test_runner_summary_is_reduced_to_known_fields() -> None:
    assert _clean_summary("not a dict") == {}
    summary = _clean_summary(
        {
            "cells": [
                {"index": 1, "status": "error", "error": {"name": "E", "value": "x" * 900}},
                {"index": "2", "status": "ok"},
                {"index": 3, "status": "hacked"},
                7,
            ],
            "kernel_restarts": "many",
            "captures": [{"tag": "aside.4", "status": "ok"}],
        }
    )
    assert [c["index"] for c in summary["cells"]] == [1]
    assert len(summary["cells"][0]["error"]["value"]) == 500
    assert summary["kernel_restarts"] == 0 and summary["probes"][0]["tag"] == "aside.4"


def test_the_runner_reports_its_stage_and_cell_while_it_works(tmp_path: Path, notebooks) -> None:
    stages: list[str] = []
    cells = [("code", "import time\ntime.sleep(1.5)")] * 3
    options = NotebookOptions(cell_timeout_s=60, total_timeout_s=240, on_progress=stages.append)
    grade = _grade(notebooks, tmp_path, cells, options=options)
    assert grade.error is None
    assert {"executing cell 1 of 3", "executing cell 2 of 3", "executing cell 3 of 3"} <= set(
        stages
    ), stages
