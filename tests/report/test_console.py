"""The terminal output of `grader check` and `grader run`, from results alone."""

from __future__ import annotations

import io

from rich.console import Console

from grader.report.console import class_table, failed, outcome, print_check, progress_line
from grader.submission import lone_notebook_advice


def printed(sub, **options) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    print_check(
        console,
        sub,
        seed=9,
        reproduce="grader check x --seed 9",
        **{"show_hidden": False, "quiet": False, **options},
    )
    return buffer.getvalue()


def test_a_check_worth_no_points_is_a_note_not_a_failure(make_check, make_submission):
    checks = [
        make_check("forward.conv_forward_naive.public", "passed", 4),
        make_check(
            "notebook.execution", "failed", 0, message="cell 4: error (NameError: name 'x')"
        ),
    ]
    sub = make_submission("nb", checks)
    assert [outcome(c) for c in sub.checks] == ["passed", "note"] and not failed(sub)
    out = printed(sub)
    assert "FAIL" not in out
    assert "NOTE          -  notebook.execution: worth no points: cell 4: error (NameError" in out
    assert "NOTE  notebook.execution, worth no points: cell 4" in out.split("summary")[1]
    assert out.splitlines()[-2] == "score 4 / 4 (100%): 1 passed, 1 note"


def test_hidden_cases_stay_out_of_the_console_unless_asked(bob, hidden_mark):
    sub = bob()
    student = printed(sub)
    assert hidden_mark not in student and "0/1 cases passed; out has the wrong shape" in student
    assert hidden_mark in printed(sub, show_hidden=True)


def test_failures_come_first_in_the_summary_with_their_hints(bob):
    summary = printed(bob()).split("summary", 1)[1].splitlines()[1:]
    kinds = [line.split()[0] for line in summary if line.strip() and not line.startswith(" " * 9)]
    assert kinds[:6] == ["FAIL", "FAIL", "ERROR", "FAIL", "FAIL", "TIMEOUT"]
    assert "hint: compute the output width as 1 + (W + 2 * pad - WW) // stride" in summary[1]
    assert summary[-2].startswith(
        "score 5 / 18 (28%): 2 passed, 4 failed, 1 error, 1 timeout, 1 skipped"
    )
    assert summary[-1] == "seed 9; to reproduce this run: grader check x --seed 9"


def test_quiet_prints_the_summary_alone(bob):
    quiet = printed(bob(), quiet=True)
    assert quiet.lstrip().startswith("─") and "PASS" not in quiet and "FAIL" in quiet


def test_the_class_table_names_where_code_does_not_import(sample_run):
    run = sample_run()
    problem = {
        "module": "ie590.layers",
        "message": "SyntaxError: invalid syntax",
        "file": "ie590/layers.py",
        "line": 12,
        "offset": 5,
        "text": "x = = 1",
    }
    run.submissions[0].details["import_errors"] = [problem]
    buffer = io.StringIO()
    Console(file=buffer, width=250, color_system=None).print(class_table(run))
    assert (
        "error: does not import: ie590/layers.py, line 12: SyntaxError: invalid syntax"
        in buffer.getvalue()
    )
    line = progress_line(run.submissions[0], 3, 12)
    assert line.startswith("[ 3/12] alice: 18/18 (error: does not import: ie590/layers.py, line 12")
    assert line.endswith("in 41.2 s")


def test_a_lone_notebook_gets_advice_only_when_given_as_a_file(tmp_path):
    notebook = tmp_path / "ConvolutionalNetworks.ipynb"
    notebook.write_text("{}")
    alone = lone_notebook_advice(notebook, ("ie590", "cs231n"))
    assert "no ie590/ package is beside it" in alone and f"grader check {tmp_path}" in alone
    (tmp_path / "cs231n").mkdir()
    (tmp_path / "cs231n" / "layers.py").write_text("")
    beside = lone_notebook_advice(notebook, ("ie590", "cs231n"))
    assert "the cs231n/ package beside it is not included" in beside
    assert lone_notebook_advice(tmp_path, ("ie590",)) is None
