"""A notebook submission goes through `grader run` like any other: executed, then graded."""

from __future__ import annotations

import json

from grader.cli import main


def test_notebook_with_its_package_is_executed_and_graded(tmp_path, notebooks, seed_cells):
    folder = tmp_path / "class" / "alice"
    folder.mkdir(parents=True)
    notebooks.write(
        notebooks.build(notebooks.with_filled_aside(seed_cells)),
        folder / "ConvolutionalNetworks.ipynb",
    )
    notebooks.student_package(folder / "ie590")
    out = tmp_path / "reports"
    argv = [
        "run",
        str(folder.parent),
        "--out",
        str(out),
        "--seed",
        "4",
        "--format",
        "json,html",
        "--only",
        "notebook.*",
        "--only",
        "forward.conv_*",
        "--only",
        "backward.spatial_groupnorm_*",
        "--only",
        "model.FourLayerConvNet.loss_api",
        "--only",
        "forward.conv_relu_forward.*",
    ]
    assert main(argv) == 0
    sub = json.loads((out / "results.json").read_text())["submissions"][0]
    assert sub["status"] == "graded", sub["error"]
    checks = {c["id"]: c for c in sub["checks"]}
    assert checks["forward.conv_forward_naive.public"]["status"] == "passed"
    assert checks["backward.spatial_groupnorm_backward.hidden"]["status"] == "passed"
    assert checks["notebook.aside.vertical_edge"]["status"] == "passed"
    assert checks["notebook.execution"]["status"] == "passed"
    assert checks["backward.conv_backward_naive.public"]["status"] == "skipped"
    # the package handed in beside the notebook is graded for the rest: network and sandwiches
    assert checks["model.FourLayerConvNet.loss_api"]["status"] == "passed"
    assert checks["forward.conv_relu_forward.public"]["status"] == "passed"
    ids = [c["id"] for c in sub["checks"]]
    assert len(ids) == len(set(ids)), "every check is reported once"
    assert (out / sub["details"]["notebook"]).is_file()
    assert len(sub["details"]["inline_answers"]) == 3
