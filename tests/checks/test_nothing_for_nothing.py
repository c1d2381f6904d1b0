"""Nothing for nothing: a property (inputs left untouched, a gradient's self-consistency, speed)
earns points only where the function does its job, so layers that return zeros score what stubs
that raise NotImplementedError score there."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

PUBLIC = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss",
    "svm_loss", "batchnorm_forward", "batchnorm_backward", "spatial_batchnorm_forward",
    "spatial_batchnorm_backward", "spatial_groupnorm_forward", "spatial_groupnorm_backward",
    "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive",
    "avg_pool_forward_naive", "max_pool_backward_naive", "avg_pool_backward_naive",
]  # fmt: skip
ZEROS = """
import numpy as np
from . import _shapes


def _zeros(value):
    if isinstance(value, np.ndarray):
        return np.zeros_like(value)
    if isinstance(value, tuple):
        return tuple(_zeros(v) for v in value)
    return 0.0 if isinstance(value, float) else value


def _returning_zeros(name):
    real = getattr(_shapes, name)

    def layer(*args):
        result = real(*args)
        if name.endswith("_forward") or name.endswith("_naive") and "forward" in name:
            return _zeros(result[0]), result[1]  # the cache stays usable by the backward
        return _zeros(result)

    return layer


"""
STUB = "\ndef {name}(*args):\n    raise NotImplementedError\n"
CHECKED = ("inputs.*", "model.*", "speed.*_naive.*")


def _package(tmp_path: Path, reference_package, layers: str) -> Path:
    folder = reference_package(tmp_path)
    package = folder / "ie590"
    shutil.copy(package / "layers.py", package / "_shapes.py")
    (package / "layers.py").write_text(layers)
    return folder


@pytest.fixture
def zeros(tmp_path, reference_package):
    source = ZEROS + "".join(f"{n} = _returning_zeros({n!r})\n" for n in PUBLIC)
    return _package(tmp_path / "zeros", reference_package, source)


@pytest.fixture
def stubs(tmp_path, reference_package):
    return _package(
        tmp_path / "stubs", reference_package, "".join(STUB.format(name=n) for n in PUBLIC)
    )


def test_layers_returning_zeros_keep_only_the_models_construction_and_api(zeros, grading):
    results = grading.checks(zeros, *CHECKED)
    passed = {cid for cid, c in results.items() if c.status == "passed"}
    assert passed == {"model.FourLayerConvNet.construction", "model.FourLayerConvNet.loss_api"}
    for cid, check in results.items():
        if cid.startswith("inputs.") or cid.startswith("speed."):
            assert "not earned" in check.message, (cid, check.message)
    assert "not earned" in results["model.FourLayerConvNet.gradient"].message


def test_zeros_score_what_stubs_score_on_the_properties(zeros, stubs, grading):
    properties = ("inputs.*", "speed.*_naive.*", "model.*.gradient")
    of_zeros = {cid: c.score for cid, c in grading.checks(zeros, *properties).items()}
    of_stubs = {cid: c.score for cid, c in grading.checks(stubs, *properties).items()}
    assert of_zeros == of_stubs and not any(of_zeros.values())
    assert [c for c in of_zeros if re.match(r"inputs\.", c)]
