"""The command line: exit codes, results.json schema, check selection, reports on disk."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from grader.cli import main

QUICK = [
    "--only",
    "forward.conv_forward_naive.*",
    "--only",
    "backward.conv_backward_naive.public",
    "--timeout",
    "20",
]


@pytest.fixture
def small_class(tmp_path, submissions):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("correct_folder", "bug_conv_no_bias"):
        shutil.copytree(submissions / name, folder / name)
    (folder / "empty").mkdir()
    return folder


def test_run_writes_results_json_with_the_documented_schema(small_class, tmp_path, capsys):
    out = tmp_path / "reports"
    assert (
        main(
            ["run", str(small_class), "--out", str(out), "--seed", "42", "--format", "json", *QUICK]
        )
        == 0
    )
    data = json.loads((out / "results.json").read_text())
    assert {"grader_version", "assignment", "seed", "created", "submissions"} <= set(data)
    assert data["seed"] == 42
    subs = {s["id"]: s for s in data["submissions"]}
    assert set(subs) == {"correct_folder", "bug_conv_no_bias", "empty"}
    for sub in subs.values():
        assert {
            "id",
            "path",
            "sha256",
            "status",
            "error",
            "score",
            "max_score",
            "duration_s",
            "checks",
        } <= set(sub)
        for check in sub["checks"]:
            assert {
                "id",
                "target",
                "name",
                "status",
                "score",
                "max_score",
                "visibility",
                "message",
                "hint",
                "details",
            } <= set(check)
    assert (
        subs["empty"]["status"] == "error"
        and subs["empty"]["score"] == 0
        and "empty" in subs["empty"]["error"]
    )
    correct = subs["correct_folder"]
    assert correct["score"] == correct["max_score"] == 4 + 6 + 6
    skipped = [c for c in correct["checks"] if c["status"] == "skipped"]
    assert skipped and all("--only" in c["message"] for c in skipped)
    assert subs["bug_conv_no_bias"]["score"] == 6
    assert "bug_conv_no_bias" in capsys.readouterr().out


def test_the_seed_is_fresh_by_default_and_recorded(small_class, tmp_path):
    seeds = set()
    for run in range(2):
        out = tmp_path / f"r{run}"
        main(
            [
                "run",
                str(small_class),
                "--out",
                str(out),
                "--format",
                "json",
                "--only",
                "forward.relu_forward.*",
            ]
        )
        seeds.add(json.loads((out / "results.json").read_text())["seed"])
    assert len(seeds) == 2


def test_check_exit_codes(tmp_path, capsys, submissions):
    assert main(["check", str(submissions / "correct_folder"), *QUICK]) == 0
    assert main(["check", str(submissions / "bug_conv_no_bias"), *QUICK]) == 1
    printed = capsys.readouterr().out
    assert (
        "hint: Your output equals the convolution without the bias: add b[f] to every output"
        in printed
    )
    assert "FAIL" in printed and "PASS" in printed


@pytest.mark.parametrize(
    "argv, says",
    [
        (["run", "/nonexistent/folder"], "not a folder"),
        (["check", "/nonexistent/file.py"], "does not exist"),
        (["run", ".", "--format", "pdf"], "unknown format pdf"),
        (["run", ".", "--timeout", "0"], "must be positive"),
        (["run", "{submissions}", "--only", "forwrd.*"], "--only 'forwrd.*' matches no check"),
        (
            [
                "check",
                "{submissions}/correct_folder",
                "--only",
                "forward.conv_forward_naive.*",
                "--only",
                "backwards.*",
            ],
            "--only 'backwards.*' matches no check",
        ),
        (
            ["check", "{submissions}/correct_folder", "--only", "forward.*", "--skip", "forward.*"],
            "leave no check to grade",
        ),
        (["check", "{submissions}/correct_folder", "--format", "junit,json"], "give --out DIR"),
    ],
)
def test_usage_errors_exit_2_with_a_message(argv, says, capsys, submissions):
    assert main([a.format(submissions=submissions) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and says in err and "Traceback" not in err


def test_bad_assignment_file_is_a_usage_error(tmp_path, capsys, submissions):
    bad = tmp_path / "a.toml"
    bad.write_text("[[checks]]\nid = 'forward.x.y'\nkind = 'forward'\n")
    assert main(["check", str(submissions / "correct_folder"), "--assignment", str(bad)]) == 2
    assert "points" in capsys.readouterr().err


def test_skip_reports_checks_as_skipped_not_failed(tmp_path, submissions):
    out = tmp_path / "r"
    main(
        [
            "run",
            str(submissions),
            "--out",
            str(out),
            "--format",
            "json",
            "--only",
            "forward.conv_*",
            "--skip",
            "*.hidden",
        ]
    )
    data = json.loads((out / "results.json").read_text())
    correct = next(s for s in data["submissions"] if s["id"] == "correct_zip")
    statuses = {c["id"]: c["status"] for c in correct["checks"]}
    assert statuses["forward.conv_forward_naive.public"] == "passed"
    assert statuses["forward.conv_forward_naive.hidden"] == "skipped"
    # the public forward checks of conv_* (the layer and the two sandwiches it starts)
    assert correct["max_score"] == sum(
        c["max_score"] for c in correct["checks"] if c["status"] != "skipped"
    )
    assert {c["id"] for c in correct["checks"] if c["status"] == "passed"} == {
        "forward.conv_forward_naive.public",
        "forward.conv_relu_forward.public",
        "forward.conv_relu_pool_forward.public",
    }


@pytest.mark.parametrize(
    "edit, says",
    [
        (
            ('aspect = "construction"', 'aspect = "constructoin"'),
            "aspect 'constructoin' is not one of",
        ),
        (
            (
                (
                    'id = "forward.relu_forward.hidden"\nname = "ReLU forward (used by the'
                    ' network)"\nkind = "forward"\nfamily = "relu"'
                ),
                (
                    'id = "forward.relu_forward.hidden"\nname = "ReLU forward (used by the'
                    ' network)"\nkind = "forward"\nfamily = "rleu"'
                ),
            ),
            "case rleu.random is not defined",
        ),
    ],
)
def test_a_typo_in_the_assignment_stops_the_run_before_grading(
    tmp_path, capsys, edit, says, submissions
):
    from importlib import resources

    text = resources.files("grader.assignments").joinpath("convnets.toml").read_text()
    assert edit[0] in text
    bad = tmp_path / "a.toml"
    bad.write_text(text.replace(edit[0], edit[1]))
    code = main(
        [
            "run",
            str(submissions),
            "--assignment",
            str(bad),
            "--out",
            str(tmp_path / "r"),
            "--only",
            "model.*",
        ]
    )
    assert code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "r" / "results.json").exists()


def test_ctrl_c_leaves_every_completed_grade_on_disk(tmp_path, submissions):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "r"
    folder = tmp_path / "class"
    for i in range(4):  # complete packages: each takes several seconds of training
        shutil.copytree(submissions / "correct_package", folder / f"s{i}")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "run",
            str(folder),
            "--out",
            str(out),
            "--format",
            "json",
            "--jobs",
            "2",
        ],
        cwd=submissions.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = out / "results.json"
    deadline = time.monotonic() + 300
    while not results.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert time.monotonic() - interrupted < 10, "submissions in progress stop at their next check"
    graded = json.loads(results.read_text())["submissions"]
    assert 1 <= len(graded) < 4
    assert all(s["status"] == "graded" and s["checks"] for s in graded)
    assert "results.json" in err


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--python", "/nonexistent/python"], "/nonexistent/python"),
        (["--data", "npz:/nonexistent/photos.npz"], "photos.npz"),
        (["--data", "npz:{tmp}/corrupt.npz"], "corrupt.npz"),
    ],
)
def test_setup_problems_stop_the_run_with_a_usage_error(tmp_path, capsys, argv, says, submissions):
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip archive")
    argv = [a.format(tmp=tmp_path) for a in argv]
    code = main(["run", str(submissions), "--out", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and says in err and "Traceback" not in err
    assert not (tmp_path / "r" / "results.json").exists()


@pytest.fixture
def broken_layers(tmp_path, submissions):
    """A copy of the correct folder whose layers.py has a syntax error: (folder, its line)."""
    folder = tmp_path / "student"
    shutil.copytree(submissions / "correct_folder", folder)
    layers = folder / "layers.py"
    text = layers.read_text()
    layers.write_text(text.replace("    cache = x\n", "    cache = x (((\n", 1))
    return folder, text[: text.index("    cache = x\n")].count("\n") + 1


def test_a_syntax_error_is_shown_once_and_the_checks_it_stopped_as_not_run(broken_layers, capsys):
    folder, line = broken_layers
    assert main(["check", str(folder), "--seed", "5", *QUICK]) == 1
    out = capsys.readouterr().out
    assert out.count("SyntaxError: '(' was never closed") == 2, (
        "the excerpt once, the summary line once"
    )
    assert out.count(f'File "ie590/layers.py", line {line}') == 1 and out.count("^\n") == 1
    assert "importlib" not in out and "Traceback" not in out
    stopped = [ln for ln in out.splitlines() if ln.lstrip().startswith("NOT RUN")]
    assert len(stopped) == 4 and all("ie590/layers.py does not import" in ln for ln in stopped[:3])
    assert stopped[-1].startswith("NOT RUN  3 checks, because ie590/layers.py does not import")
    assert len(out.splitlines()) < 25


def test_quiet_prints_only_the_summary_failures_first(tmp_path, capsys, submissions):
    assert main(["check", str(submissions / "bug_conv_no_bias"), "-q", "--seed", "5", *QUICK]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "summary" in lines[0] and not any(
        ln.lstrip().startswith(("PASS", "SKIP")) for ln in lines
    )
    assert lines[1].lstrip().startswith("FAIL  forward.conv_forward_naive.public (0/4)")
    assert lines[2].strip().startswith("hint: Your output equals the convolution without the bias")
    assert lines[-2].startswith("score 6 / 16 (38%): 1 passed, 2 failed, ")
    assert lines[-1] == (
        f"seed 5; to reproduce this run: grader check {submissions / 'bug_conv_no_bias'} -q "
        + " ".join(QUICK)
        + " --seed 5"
    ).replace("forward.conv_forward_naive.*", "'forward.conv_forward_naive.*'")


def test_the_seed_and_the_command_that_reproduces_the_run_are_printed_off_a_terminal(
    capsys, submissions
):
    assert (
        main(["check", str(submissions / "correct_folder"), "--only", "forward.relu_forward.*"])
        == 0
    )
    out = capsys.readouterr().out
    seed = re.search(r"^checking .* with seed (\d+)$", out, re.M).group(1)
    assert (
        out.splitlines()[-1] == f"seed {seed}; to reproduce this run: grader check "
        f"{submissions / 'correct_folder'} --only 'forward.relu_forward.*' --seed {seed}"
    )


def test_skipped_checks_do_not_read_like_lost_points(capsys, submissions):
    assert (
        main(
            [
                "check",
                str(submissions / "correct_folder"),
                "--seed",
                "1",
                *QUICK,
                "--only",
                "forward.conv_relu_forward.*",
                "--only",
                "speed.conv_forward_fast.*",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    skips = [ln for ln in out.splitlines() if ln.lstrip().startswith("SKIP")]
    assert skips and not any(re.search(r"\b0/\d", ln) for ln in skips)
    assert any(
        "1 point not counted: not handed in: fast_layers.py (fast_layers is optional" in ln
        for ln in skips
    )
    assert re.search(r"SKIP  \d+ checks not selected by --only/--skip", out)
    assert re.search(
        r"score \d+ / \d+ \(100%\): \d+ passed, 1 skipped \(not counted\), \d+ not selected", out
    )


def test_a_submission_that_cannot_be_graded_exits_4(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["check", str(tmp_path / "empty"), "--only", "forward.relu_forward.*"]) == 4
    assert "cannot grade empty: the submission is empty" in capsys.readouterr().out


def test_a_notebook_alone_says_at_once_what_to_pass_instead(tmp_path, capsys, submissions):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("nothing to run")]
    notebook = tmp_path / "ConvolutionalNetworks.ipynb"
    notebook.write_text(nbformat.writes(nb))
    shutil.copytree(submissions / "correct_package" / "ie590", tmp_path / "ie590")
    main(["check", str(notebook), "--only", "notebook.execution", "--timeout", "60"])
    lines = capsys.readouterr().out.splitlines()
    advice = f"pass the folder that holds them: grader check {tmp_path}"
    assert lines[1].startswith("assignment: "), "the seed and the assignment come first"
    assert advice in lines[2] and "the ie590/ package beside it is not included" in lines[2]
    assert sum(advice in ln for ln in lines) == 2, "at once, and again in the summary"


def test_runs_off_a_terminal_log_a_line_per_submission(small_class, tmp_path, capsys):
    out = tmp_path / "reports"
    main(
        [
            "run",
            str(small_class),
            "--out",
            str(out),
            "--seed",
            "3",
            "--format",
            "json",
            "--only",
            "forward.conv_forward_naive.public",
        ]
    )
    err = capsys.readouterr().err
    logged = re.findall(r"^\[(\d)/3\] (\S+): (\S+)/(\S+) \((.*)\) in (\d+\.\d) s$", err, re.M)
    assert sorted(n for n, *_ in logged) == ["1", "2", "3"]
    assert {sub: (score, status) for _, sub, score, _, status, _ in logged} == {
        "correct_folder": ("4", "graded"),
        "bug_conv_no_bias": ("0", "graded"),
        "empty": ("0", "error: the submission is empty"),
    }
    assert "to reproduce this run: grader run" in err and "--seed 3" in err


def test_a_new_run_removes_the_reports_an_earlier_run_left(small_class, tmp_path):
    out = tmp_path / "reports"
    quick = ["--only", "forward.relu_forward.*"]
    main(
        [
            "run",
            str(small_class),
            "--out",
            str(out),
            "--seed",
            "1",
            "--format",
            "csv,junit,gradescope",
            *quick,
        ]
    )
    assert (out / "gradebook.csv").exists() and (out / "gradescope").is_dir()
    (out / "mine.txt").write_text("the instructor's")
    main(["run", str(small_class), "--out", str(out), "--seed", "2", "--format", "html", *quick])
    names = {
        p.relative_to(out).as_posix() for p in out.rglob("*") if ".grades" not in p.parts
    }  # the stored grades (grader.cache) are kept for the next run, by design
    assert names == {
        "mine.txt",
        "grader-manifest.json",
        "results.json",
        "index.html",
        "correct_folder.html",
        "bug_conv_no_bias.html",
        "empty.html",
    }
    assert json.loads((out / "results.json").read_text())["seed"] == 2


def test_report_renders_a_results_file_again_without_grading(small_class, tmp_path, capsys):
    out = tmp_path / "reports"
    main(
        [
            "run",
            str(small_class),
            "--out",
            str(out),
            "--seed",
            "4",
            "--format",
            "json",
            "--only",
            "forward.relu_forward.*",
        ]
    )
    again = tmp_path / "again"
    assert (
        main(["report", str(out / "results.json"), "--out", str(again), "--format", "junit,csv"])
        == 0
    )
    assert {p.name for p in again.iterdir()} == {
        "junit.xml",
        "gradebook.csv",
        "grader-manifest.json",
    }
    assert "correct_folder" in (again / "gradebook.csv").read_text()
    assert main(["report", str(out / "results.json"), "--format", "html"]) == 0
    assert {"index.html", "results.json", "empty.html"} <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize(
    "content, says",
    [
        (None, "does not exist"),
        ("<html>", "is not JSON"),
        ('{"checks": []}', "is not a grader results file"),
    ],
)
def test_report_refuses_what_is_not_a_results_file(tmp_path, capsys, content, says):
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    assert main(["report", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
