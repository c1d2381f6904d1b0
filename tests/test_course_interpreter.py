"""Student code runs under the course's interpreter and NumPy (`--python`), not necessarily the
grader's.

CI provides an interpreter with NumPy 1.x in GRADER_TEST_COURSE_PYTHON; elsewhere the test skips.
"""

from __future__ import annotations

import os
import subprocess

import pytest

COURSE_PYTHON = os.environ.get("GRADER_TEST_COURSE_PYTHON")
pytestmark = pytest.mark.skipif(
    not COURSE_PYTHON, reason="GRADER_TEST_COURSE_PYTHON (NumPy 1.x) is not set"
)

# Written for NumPy 1.x: NumPy 2 rejects `newshape=` and int() of a one-element array.
NUMPY1_CONV = """
    stride, pad = int(np.array([conv_param['stride']])), conv_param['pad']
    F, C, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    kernels = np.reshape(w, newshape=w.shape)
    out = np.einsum('nchwij,fcij->nfhw', windows, kernels) + b[None, :, None, None]
"""
CONV_BODY = """
    stride, pad = conv_param['stride'], conv_param['pad']
    F, C, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum('nchwij,fcij->nfhw', windows, w) + b[None, :, None, None]
"""


@pytest.fixture
def numpy1_submission(tmp_path, submissions):
    source = (submissions / "correct_folder" / "layers.py").read_text()
    assert CONV_BODY in source
    (tmp_path / "layers.py").write_text(source.replace(CONV_BODY, NUMPY1_CONV))
    return tmp_path


def test_the_course_interpreter_has_numpy_1():
    version = subprocess.run(
        [COURSE_PYTHON, "-c", "import numpy; print(numpy.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version.startswith("1.")


def test_numpy1_code_passes_under_the_course_interpreter(numpy1_submission, grading):
    only = ("forward.conv_forward_naive.*",)
    assert (
        grading.failing(
            grading.one(numpy1_submission, grading.options(only=only, python=COURSE_PYTHON))
        )
        == {}
    )
    under_grader = grading.failing(grading.one(numpy1_submission, grading.options(only=only)))
    assert set(under_grader) == {
        "forward.conv_forward_naive.public",
        "forward.conv_forward_naive.hidden",
    }


def test_a_full_package_grades_under_the_course_interpreter(grading, submissions):
    result = grading.one(
        submissions / "correct_package",
        grading.options(only=(), skip=("training.*", "speed.*"), python=COURSE_PYTHON),
    )
    assert grading.failing(result) == {}
    assert result.score == result.max_score > 90
