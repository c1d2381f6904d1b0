"""The one workspace builder: one filter, one list of provided modules, any source of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.errors import UnsafeArchive
from grader.oracle import COURSE, COURSE_DIR
from grader.workspace import (
    MAX_FILE_BYTES,
    PROVIDED,
    PROVIDED_IF_MISSING,
    CourseModules,
    build_workspace,
    copy_tree,
    package_files,
    skipped,
)

NO_COURSE = CourseModules(None)


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def student(tmp_path: Path) -> Path:
    """A package as students hand it in: code, a loose cnn.py, and everything that is not code."""
    package = tmp_path / "ie590"
    for relative, text in {
        "layers.py": "def f(): pass\n",
        "cnn.py": "class FourLayerConvNet: pass\n",
        "solver.py": "# the student's own solver\n",
        "im2col_cython.pyx": "# cython\n",
        "__pycache__/layers.cpython-311.pyc": "stale",
        "old.pyc": "stale",
        ".ipynb_checkpoints/layers-checkpoint.py": "old",
        ".secret": "x",
        "datasets/cifar.txt": "data",
        "notes/readme.md": "hello",
    }.items():
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(text)
    (package / "link.py").symlink_to(package / "layers.py")
    os.mkfifo(package / "pipe")
    with open(package / "checkpoint.npy", "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    return package


def test_the_filter_names_what_is_never_copied():
    assert all(
        skipped(n) for n in ("__pycache__", ".git", "__MACOSX", ".hidden", "datasets", "x.pyc")
    )
    assert not any(skipped(n) for n in ("layers.py", "classifiers", "im2col_cython.so", "data.npz"))


def test_a_package_is_read_through_the_filter(student: Path):
    files = package_files(student)
    assert sorted(files) == [
        "cnn.py",
        "im2col_cython.pyx",
        "layers.py",
        "notes/readme.md",
        "solver.py",
    ]
    assert files["layers.py"] == b"def f(): pass\n"


def test_missing_provided_modules_come_from_the_course(student: Path):
    ws = build_workspace(package_files(student), "ie590", COURSE)
    try:
        assert ws.student_modules == {"layers", "classifiers.cnn", "solver"}
        expected = [m for m in (*PROVIDED, *PROVIDED_IF_MISSING) if m != "solver"]
        assert ws.substituted == expected and ws.missing == []
        package = ws.package_dir
        assert (package / "classifiers" / "cnn.py").is_file() and not (package / "cnn.py").exists()
        assert (package / "__init__.py").is_file() and (
            package / "classifiers" / "__init__.py"
        ).is_file()
        assert (package / "solver.py").read_text() == "# the student's own solver\n"
        assert (package / "im2col.py").read_bytes() == (COURSE_DIR / "im2col.py").read_bytes()
        assert not (package / "im2col_cython.pyx").exists(), (
            "a stale .pyx beside the course's binary"
        )
        assert list(package.glob("im2col_cython*.so")) == [
            package / p.name for p in COURSE_DIR.glob("im2col_cython*.so")
        ]
        assert ws.modules["cnn"] == "ie590.classifiers.cnn"
    finally:
        ws.cleanup()
    assert not ws.root.exists()


def test_without_the_course_missing_modules_are_reported_not_substituted(student: Path):
    ws = build_workspace(package_files(student), "ie590", NO_COURSE)
    try:
        assert ws.substituted == []
        assert ws.missing == [m for m in (*PROVIDED, *PROVIDED_IF_MISSING) if m != "solver"]
        assert sorted(p.name for p in ws.package_dir.iterdir()) == [
            "__init__.py",
            "classifiers",
            "im2col_cython.pyx",
            "layers.py",
            "notes",
            "solver.py",
        ]
        assert ws.substitute("fast_layers") is False and ws.missing.count("fast_layers") == 1
    finally:
        ws.cleanup()


def test_a_workspace_is_rebuilt_from_the_submissions_bytes(student: Path):
    as_bytes = dict(package_files(student))
    from_folder = build_workspace(package_files(student), "ie590", COURSE)
    from_bytes = build_workspace(as_bytes, "ie590", COURSE)
    try:
        assert tree(from_bytes.root) == tree(from_folder.root)
        assert from_bytes.substituted == from_folder.substituted
    finally:
        from_folder.cleanup()
        from_bytes.cleanup()


@pytest.mark.parametrize("name", ["../escape.py", "/etc/passwd", "", ".", "ie590\\..\\x.py"])
def test_names_that_leave_the_package_are_refused(name: str):
    with pytest.raises(UnsafeArchive, match="outside the submission"):
        build_workspace({name: b"x"}, "ie590", NO_COURSE)


def test_junk_and_oversize_files_in_bytes_are_dropped_too():
    ws = build_workspace(
        {"layers.py": b"", "__pycache__/x.pyc": b"", "big.npy": b"0" * (MAX_FILE_BYTES + 1)},
        "ie590",
        NO_COURSE,
    )
    try:
        assert sorted(p.name for p in ws.package_dir.iterdir()) == ["__init__.py", "layers.py"]
    finally:
        ws.cleanup()


def test_always_and_replacements_override_the_students_copy(tmp_path: Path):
    stand_in = tmp_path / "stand_in.py"
    stand_in.write_text("# reads the grading data\n")
    course = CourseModules(COURSE_DIR, {"data_utils": stand_in})
    files = {"fast_layers.py": b"# mine\n", "data_utils.py": b"# mine\n", "layers.py": b""}
    ws = build_workspace(files, "cs231n", course, always=("fast_layers", "data_utils"))
    try:
        assert (ws.package_dir / "fast_layers.py").read_bytes() == (
            COURSE_DIR / "fast_layers.py"
        ).read_bytes()
        assert (ws.package_dir / "data_utils.py").read_text() == "# reads the grading data\n"
        assert ws.substituted[-2:] == ["fast_layers", "data_utils"]
    finally:
        ws.cleanup()


def test_grader_modules_are_added_as_packages_expect(tmp_path: Path):
    ws = build_workspace({}, "ie590", NO_COURSE)
    try:
        ws.add_module("classifiers.cnn", "X = 1\n")
        assert (ws.package_dir / "classifiers" / "__init__.py").is_file()
        assert (ws.package_dir / "classifiers" / "cnn.py").read_text() == "X = 1\n"
    finally:
        ws.cleanup()


def test_copy_tree_uses_the_same_filter(student: Path, tmp_path: Path):
    copy_tree(student, tmp_path / "copy")
    assert sorted(tree(tmp_path / "copy")) == [
        "checkpoint.npy",
        "cnn.py",
        "im2col_cython.pyx",
        "layers.py",
        "notes/readme.md",
        "solver.py",
    ]
