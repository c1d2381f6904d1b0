"""The report folder's manifest: a new run replaces the old run's files and touches nothing else."""

from __future__ import annotations

import json

from grader.report import FORMATS, MANIFEST, render
from grader.report.formatting import page_stems


def listed(out) -> set[str]:
    return set(json.loads((out / MANIFEST).read_text())["files"])


def on_disk(out) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def test_the_manifest_lists_every_file_the_run_wrote(tmp_path, sample_run):
    run = sample_run()
    notebook = tmp_path / "notebooks" / "alice" / "ConvolutionalNetworks.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("{}")
    run.submissions[0].details["notebook"] = "notebooks/alice/ConvolutionalNetworks.ipynb"
    render(run, tmp_path, FORMATS)
    assert listed(tmp_path) == on_disk(tmp_path) - {MANIFEST}
    assert "notebooks/alice/ConvolutionalNetworks.ipynb" in listed(tmp_path)
    assert {"junit.xml", "gradebook.csv", "index.html", "results.json"} <= listed(tmp_path)


def test_a_new_run_removes_the_old_runs_files_and_nothing_else(tmp_path, sample_run, single_run):
    old = sample_run()
    old.seed = 1
    old.submissions[0].details["notebook"] = "notebooks/alice/ConvolutionalNetworks.ipynb"
    (tmp_path / "notebooks" / "alice").mkdir(parents=True)
    (tmp_path / "notebooks" / "alice" / "ConvolutionalNetworks.ipynb").write_text("{}")
    render(old, tmp_path, FORMATS)
    (tmp_path / "notes.txt").write_text("the instructor's own file")
    (tmp_path / "gradescope" / "README").write_text("not the grader's")

    new = single_run()  # bob alone, another seed, html and json only
    new.seed = 2
    render(new, tmp_path, ["html", "json"])

    assert on_disk(tmp_path) == {
        MANIFEST,
        "notes.txt",
        "gradescope/README",
        "index.html",
        f"{page_stems(new)[0]}.html",
        "results.json",
    }
    assert listed(tmp_path) == {"index.html", f"{page_stems(new)[0]}.html", "results.json"}
    assert not (tmp_path / "notebooks").exists(), "folders the removal emptied go too"
    assert json.loads((tmp_path / "results.json").read_text())["seed"] == 2


def test_files_grading_wrote_are_kept_when_not_rendered_again(tmp_path, single_run):
    run = single_run()
    render(run, tmp_path, ["html", "json", "junit"])
    render(run, tmp_path, ["html"], keep=[tmp_path / "results.json"])
    assert (tmp_path / "results.json").exists() and not (tmp_path / "junit.xml").exists()
    assert "results.json" in listed(tmp_path)


def test_a_hostile_manifest_cannot_remove_anything_outside_the_folder(tmp_path, single_run):
    out = tmp_path / "reports"
    out.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.csv").write_text("keep me too")
    (out / "link").symlink_to(elsewhere)
    (out / "linked.txt").symlink_to(outside)
    names = ["../precious.txt", str(outside), "link/data.csv", "linked.txt", "", ".", 7, None]
    (out / MANIFEST).write_text(json.dumps({"files": names}))
    render(single_run(), out, ["json"])
    assert (
        outside.read_text() == "keep me" and (elsewhere / "data.csv").read_text() == "keep me too"
    )
    assert (out / "linked.txt").is_symlink() and (out / "link").is_symlink()
    assert listed(out) == {"results.json"}


def test_an_unreadable_manifest_removes_nothing(tmp_path, single_run):
    (tmp_path / MANIFEST).write_text("not json")
    (tmp_path / "junit.xml").write_text("<old/>")
    render(single_run(), tmp_path, ["json"])
    assert (tmp_path / "junit.xml").read_text() == "<old/>"
