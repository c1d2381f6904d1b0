"""Assembling the folder a notebook runs in: notebook, package, data, images, runner script.

The package is the student's own files where present; the course's provided modules come from
`reference` where missing, and the infrastructure the notebook needs to run at all (fast layers
with the compiled im2col, the data loader) always does. Modules students must write but did not
hand in are replaced by stubs that raise, so the notebook's imports still work and the grader
sees plainly that the function was not submitted.

This is the notebook's own minimal assembly; it is meant to give way to `grader.workspace`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping

import numpy as np
from PIL import Image

from grader.oracle import COURSE_DIR
from grader import sandboxed
from grader.notebook.captures import GRADED_FUNCTIONS

ALWAYS_PROVIDED = ("fast_layers.py", "im2col.py", "im2col_cython.pyx")
PROVIDED_IF_MISSING = ("__init__.py", "solver.py", "optim.py", "gradient_check.py", "vis_utils.py",
                       "layer_utils.py")
STUDENT_MODULES = {"layers.py": GRADED_FUNCTIONS, "classifiers/cnn.py": ("FourLayerConvNet",)}
SKIPPED = ("__pycache__", "*.pyc", "*.so", "*.c", "build", "datasets", "*.npz", "*.ipynb")
NOTEBOOK_NAME = "ConvolutionalNetworks.ipynb"


def _skipped(directory: str, names: list[str]) -> set[str]:
    """Symlinks (they could point anywhere), caches, binaries and data sets are not copied."""
    skipped = set(shutil.ignore_patterns(*SKIPPED)(directory, names))
    return skipped | {n for n in names if (Path(directory) / n).is_symlink()}


def copy_package(student: Path | None, dest: Path) -> list[str]:
    """Fill `dest` with the package; returns the modules substituted from the course."""
    if student is not None:
        shutil.copytree(student, dest, ignore=_skipped)
    dest.mkdir(parents=True, exist_ok=True)
    ref = COURSE_DIR
    substituted = []
    for name in ALWAYS_PROVIDED + PROVIDED_IF_MISSING:
        if (ref / name).is_file() and (name in ALWAYS_PROVIDED or not (dest / name).exists()):
            shutil.copyfile(ref / name, dest / name)
            substituted.append(name)
    for compiled in ref.glob("im2col_cython*.so"):
        shutil.copyfile(compiled, dest / compiled.name)
    shutil.copyfile(sandboxed.DIRECTORY / "notebook_data_utils.py", dest / "data_utils.py")
    substituted.append("data_utils.py")
    for relative, names in STUDENT_MODULES.items():
        if not (dest / relative).exists():
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            (dest / relative).write_text(missing_module_source(names))
            substituted.append(f"{relative} (not submitted: stubs that raise)")
    (dest / "classifiers" / "__init__.py").touch()
    return substituted


def missing_module_source(names: tuple[str, ...]) -> str:
    """A module whose every name raises NotImplementedError saying it was not submitted."""
    lines = ['"""Not submitted: every name raises, so the notebook still imports."""', ""]
    for name in names:
        lines += [f"def {name}(*args, **kwargs):",
                  f"    raise NotImplementedError({name + ' was not submitted'!r})", "", ""]
    return "\n".join(lines)


def write_images(dest: Path) -> None:
    """Two synthetic photos for the image-processing aside: a wide 'wolf' and a square 'raccoon'.

    Smooth colour ramps with a few sharp-edged shapes, so that every filter of the aside
    (grayscale, edges, smoothing) produces something visible.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name, (height, width), seed in (("wolf.jpg", (240, 320), 1), ("raccoon.jpg", (256, 256), 2)):
        rng = np.random.RandomState(seed)
        rows, cols = np.mgrid[0:height, 0:width]
        image = np.stack([255 * cols / width, 255 * rows / height, 128 + 0 * rows], axis=-1)
        for _ in range(6):
            top, left = rng.randint(0, height // 2), rng.randint(0, width // 2)
            image[top:top + height // 3, left:left + width // 4] = rng.randint(0, 256, size=3)
        Image.fromarray(image.astype(np.uint8)).save(dest / name, quality=95)


def assemble(workspace: Path, nb_text: str, student_package: Path | None, package_name: str,
             data: Mapping[str, np.ndarray]) -> list[str]:
    """Build the notebook's workspace; returns the substituted modules for the report."""
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / NOTEBOOK_NAME).write_text(nb_text, encoding="utf-8")
    shutil.copyfile(sandboxed.DIRECTORY / "notebook_runner.py", workspace / "notebook_runner.py")
    package = workspace / package_name
    substituted = copy_package(student_package, package)
    np.savez(package / "grading_data.npz", **data)
    write_images(workspace / "notebook_images")
    return substituted
