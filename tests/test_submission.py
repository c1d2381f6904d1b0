"""Recognising submissions: layouts, safe unzipping, and clear reasons for what cannot be graded."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader.submission import MAX_UNPACKED_BYTES, discover, load


def _zip(path: Path, entries: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in entries.items():
            zf.writestr(name, text)
    return path


def test_layouts(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "layers.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "cs231n").mkdir(parents=True)
    (tmp_path / "pkg" / "cs231n" / "layers.py").write_text("x = 1\n")
    (tmp_path / "single.py").write_text("x = 1\n")
    _zip(tmp_path / "zipped.zip", {"hw/ie590/layers.py": "x = 1\n", "__MACOSX/._x": "junk"})
    (tmp_path / ".hidden").mkdir()
    subs = {s.id: s for s in discover(tmp_path)}
    assert set(subs) == {"flat", "pkg", "single", "zipped"}
    assert subs["flat"].layout == "folder"
    assert subs["pkg"].layout == "package" and subs["pkg"].package_name == "cs231n"
    assert subs["single"].layout == "file"
    assert subs["zipped"].layout == "package" and subs["zipped"].package_name == "ie590"
    assert all(s.problem is None for s in subs.values())
    assert len({s.sha256 for s in subs.values()}) == 4


@pytest.mark.parametrize(
    "entries, reason",
    [
        ({"../evil.py": "x"}, "points outside"),
        ({"/abs/layers.py": "x"}, "points outside"),
    ],
)
def test_unsafe_zip_is_refused(tmp_path, entries, reason):
    sub = load(_zip(tmp_path / "bad.zip", entries))
    assert reason in sub.problem


def test_zip_with_a_link_is_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("ie590/layers.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    assert "symbolic link" in load(path).problem


def test_zip_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("layers.py", b"0" * (MAX_UNPACKED_BYTES + 1))
    assert "MiB" in load(path).problem


def test_corrupt_zip(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    assert "cannot read" in load(tmp_path / "broken.zip").problem


@pytest.mark.parametrize(
    "files, reason",
    [
        ({}, "empty"),
        ({"README.txt": "hi"}, "no layers.py"),
        ({"a/layers.py": "x=1", "b/layers.py": "x=1"}, "ambiguous"),
        ({"one.ipynb": "{}", "two.ipynb": "{}"}, "ambiguous"),
    ],
)
def test_folder_problems(tmp_path, files, reason):
    folder = tmp_path / "sub"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    assert reason in load(folder).problem


def test_unsupported_and_empty_files(tmp_path):
    (tmp_path / "essay.docx").write_text("x")
    (tmp_path / "empty.py").write_text("  \n")
    assert "unsupported file type .docx" in load(tmp_path / "essay.docx").problem
    assert "empty" in load(tmp_path / "empty.py").problem


def test_problem_submissions_score_zero_with_the_reason(tmp_path, grading):
    (tmp_path / "empty").mkdir()
    result = grading.one(tmp_path / "empty", grading.options())
    assert result.status == "error" and result.score == 0
    assert "empty" in result.error


def test_unreadable_file_gets_a_reason(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = tmp_path / "layers.py"
    path.write_text("x = 1")
    path.chmod(0)
    assert load(path).problem


def test_a_zipped_package_keeps_its_name_and_a_zipped_folder_is_opened(tmp_path):
    package = {"cs231n/__init__.py": "", "cs231n/layers.py": "x = 1\n", "__MACOSX/._x": "."}
    sub = load(_zip(tmp_path / "pkg.zip", package))
    assert (sub.problem, sub.layout, sub.package_name) == (None, "package", "cs231n")
    folder = load(_zip(tmp_path / "folder.zip", {"hw3/layers.py": "x = 1\n"}))
    assert (folder.problem, folder.layout, folder.package_name) == (None, "folder", None)


def test_zip_of_one_python_file_under_any_name(tmp_path):
    sub = load(_zip(tmp_path / "hw.zip", {"my_layers.py": "x = 1\n"}))
    assert sub.problem is None and sub.layout == "file"


def test_notebook_beside_a_cs231n_package_keeps_its_package_name(tmp_path):
    (tmp_path / "sub" / "cs231n").mkdir(parents=True)
    (tmp_path / "sub" / "cs231n" / "layers.py").write_text("x = 1\n")
    (tmp_path / "sub" / "ConvolutionalNetworks.ipynb").write_text("{}")
    sub = load(tmp_path / "sub")
    assert sub.layout == "notebook" and sub.package_name == "cs231n"


def test_notebook_beside_a_folder_that_is_no_package_name_is_still_a_notebook(tmp_path):
    (tmp_path / "sub" / "ie590-main").mkdir(parents=True)
    (tmp_path / "sub" / "ie590-main" / "layers.py").write_text("x = 1\n")
    (tmp_path / "sub" / "ConvolutionalNetworks.ipynb").write_text("{}")
    sub = load(tmp_path / "sub")
    assert sub.layout == "notebook" and sub.package_name is None
    (tmp_path / "sub" / "ConvolutionalNetworks.ipynb").unlink()
    assert load(tmp_path / "sub").layout == "folder"
