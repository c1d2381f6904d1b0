"""Assembling the folder a notebook runs in: the notebook, its runner, images, data and package.

The package is built by grader.workspace like any submission's, with a notebook's needs: the
course's fast layers (with the compiled im2col) always replace the student's, `data_utils` is
the stand-in that reads the grading data, and modules students must write but did not hand in
become stubs that raise, so the notebook's imports still work and the grader sees plainly that
the function was not submitted.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping

import numpy as np
from PIL import Image

from grader import sandboxed
from grader.notebook.captures import GRADED_FUNCTIONS
from grader.oracle import COURSE_DIR
from grader.workspace import CourseModules, Workspace, build_workspace, package_files

STUDENT_MODULES = {"layers": GRADED_FUNCTIONS, "classifiers.cnn": ("FourLayerConvNet",)}
ALWAYS_PROVIDED = ("fast_layers", "data_utils")
COURSE = CourseModules(COURSE_DIR, {"data_utils": sandboxed.DIRECTORY / "notebook_data_utils.py"})
NOTEBOOK_NAME = "ConvolutionalNetworks.ipynb"
RUNNER = "notebook_runner"  # module name; the file comes from grader/sandboxed/


def notebook_package(student_package: Path | None, package_name: str) -> Workspace:
    """A workspace holding the package as the notebook imports it; `substituted` lists what
    the course provided and what was stubbed."""
    ws = build_workspace(
        package_files(student_package), package_name, COURSE, always=ALWAYS_PROVIDED
    )
    for module, names in STUDENT_MODULES.items():
        if module not in ws.student_modules:
            ws.add_module(module, missing_module_source(names))
            ws.substituted.append(f"{module} (not submitted: stubs that raise)")
    return ws


def missing_module_source(names: tuple[str, ...]) -> str:
    """A module whose every name raises NotImplementedError saying it was not submitted."""
    lines = ['"""Not submitted: every name raises, so the notebook still imports."""', ""]
    for name in names:
        lines += [
            f"def {name}(*args, **kwargs):",
            f"    raise NotImplementedError({name + ' was not submitted'!r})",
            "",
            "",
        ]
    return "\n".join(lines)


def write_images(dest: Path) -> None:
    """Two synthetic photos for the image-processing aside: a wide 'wolf' and a square 'raccoon'.

    Smooth colour ramps with a few sharp-edged shapes, so that every filter of the aside
    (grayscale, edges, smoothing) produces something visible.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name, (height, width), seed in (
        ("wolf.jpg", (240, 320), 1),
        ("raccoon.jpg", (256, 256), 2),
    ):
        rng = np.random.RandomState(seed)
        rows, cols = np.mgrid[0:height, 0:width]
        image = np.stack([255 * cols / width, 255 * rows / height, 128 + 0 * rows], axis=-1)
        for _ in range(6):
            top, left = rng.randint(0, height // 2), rng.randint(0, width // 2)
            image[top : top + height // 3, left : left + width // 4] = rng.randint(0, 256, size=3)
        Image.fromarray(image.astype(np.uint8)).save(dest / name, quality=95)


def assemble(
    nb_text: str, student_package: Path | None, package_name: str, data: Mapping[str, np.ndarray]
) -> Workspace:
    """The notebook's workspace: its package, the notebook, the runner, the images and the data."""
    ws = notebook_package(student_package, package_name)
    (ws.root / NOTEBOOK_NAME).write_text(nb_text, encoding="utf-8")
    shutil.copyfile(sandboxed.DIRECTORY / f"{RUNNER}.py", ws.root / f"{RUNNER}.py")
    np.savez(ws.package_dir / "grading_data.npz", **data)
    write_images(ws.root / "notebook_images")
    return ws
