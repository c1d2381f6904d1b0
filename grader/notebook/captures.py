"""Kernel captures: code the runner runs in the kernel to capture its state, and the parent's
readers.

A capture is the body of a function `(out_dir, tag)` run in the kernel's namespace, either after
every cell whose source matches `after` (tagged `name.<cell index>`) or once at the end. It
writes `.npy`/`.npz`/`.json` files under `out_dir`; the parent reads them back with
`allow_pickle=False` and `json` only, as untrusted data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from grader.errors import CaptureFileError

GRADED_FUNCTIONS = (
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "avg_pool_forward_naive",
    "avg_pool_backward_naive",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
)
MAX_CAPTURE_BYTES = 20 * 1024 * 1024
ASIDE_CELL = r"\bw\s*\[\s*3\s*,"
TRAINING_CELL = r"\bsolver\s*\.\s*train\s*\(\s*\)"

_ASIDE = """
import os, numpy as np
np.save(os.path.join(out_dir, tag + ".npy"), np.array(globals()["w"], dtype=np.float64))
"""

_SOLVER = """
import json, os
solver = globals()["solver"]
found = {key: [float(v) for v in list(getattr(solver, key, []))[:100000]]
         for key in ("loss_history", "train_acc_history", "val_acc_history")}
for key in ("num_epochs", "batch_size"):
    value = getattr(solver, key, None)
    found[key] = value if isinstance(value, (int, float)) else None
with open(os.path.join(out_dir, tag + ".json"), "w") as fh:
    json.dump(found, fh)
"""

_ORIGINS = """
import json, os
found = {}
for name in NAMES:
    obj = globals().get(name)
    if obj is None:
        continue
    module = getattr(obj, "__module__", None)
    code = getattr(obj, "__code__", None)
    found[name] = {"module": module if isinstance(module, str) else None,
                   "file": os.path.relpath(code.co_filename) if code is not None else None}
with open(os.path.join(out_dir, tag + ".json"), "w") as fh:
    json.dump(found, fh)
"""

_RECOMPUTE = """
import json, os, traceback, numpy as np
with open(MANIFEST) as fh:
    cases = json.load(fh)
errors = {}
for case in cases:
    try:
        with np.load(case["inputs"], allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        inputs = [arrays[k] for k in case["arrays"]]
        out, cache = globals()[case["forward"]](*inputs, *case["params"])
        results = [out]
        if case["backward"]:
            grads = globals()[case["backward"]](arrays["dout"], cache)
            results = list(grads) if isinstance(grads, tuple) else [grads]
        np.savez(os.path.join(out_dir, tag + "." + case["name"] + ".npz"),
                 *[np.array(r, dtype=np.float64) for r in results])
    except Exception as exc:
        errors[case["name"]] = f"{type(exc).__name__}: {exc}"[:500]
with open(os.path.join(out_dir, tag + ".errors.json"), "w") as fh:
    json.dump(errors, fh)
"""


def kernel_captures(recompute_manifest: str | None) -> list[dict[str, Any]]:
    """The captures the notebook grading needs, in the runner's format."""
    captures = [
        {"name": "aside", "after": ASIDE_CELL, "code": _ASIDE},
        {"name": "solver", "after": TRAINING_CELL, "code": _SOLVER},
        {
            "name": "origins",
            "after": None,
            "code": f"NAMES = {list(GRADED_FUNCTIONS)!r}\n" + _ORIGINS,
        },
    ]
    if recompute_manifest:
        captures.append(
            {
                "name": "recompute",
                "after": None,
                "code": f"MANIFEST = {recompute_manifest!r}\n" + _RECOMPUTE,
            }
        )
    return captures


def _checked(path: Path) -> Path:
    if path.is_symlink() or not path.is_file():
        raise CaptureFileError(f"{path.name}: missing or not a regular file")
    if path.stat().st_size > MAX_CAPTURE_BYTES:
        raise CaptureFileError(f"{path.name}: larger than {MAX_CAPTURE_BYTES} bytes")
    return path


def read_json(path: Path) -> Any:
    try:
        return json.loads(_checked(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CaptureFileError(f"{path.name}: not JSON ({exc})") from None


def read_arrays(path: Path) -> list[np.ndarray]:
    """The arrays of a `.npy` file, or of a `.npz` file in the order they were saved."""
    try:
        with open(_checked(path), "rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            if isinstance(loaded, np.ndarray):
                return [loaded]
            with loaded:
                return [loaded[f"arr_{i}"] for i in range(len(loaded.files))]
    except (ValueError, OSError, KeyError) as exc:
        raise CaptureFileError(f"{path.name}: not a numpy array file ({exc})") from None


def tagged(capture_dir: Path, name: str, suffix: str) -> dict[int, Path]:
    """Files of an after-cell capture, keyed by the cell index in their tag."""
    found = {}
    for path in capture_dir.glob(f"{name}.*{suffix}"):
        index = path.name[len(name) + 1 : -len(suffix)]
        if index.isdigit():
            found[int(index)] = path
    return dict(sorted(found.items()))
