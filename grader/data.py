"""Training data for the training checks: the `--data` value resolved into plain arrays.

`builtin` (the default) is the course's synthetic shapes set, `cifar10:PATH` an extracted
`cifar-10-batches-py` folder, `npz:PATH` a file with `x` uint8 (N, 32, 32, 3) and `y` (N,).
The value is checked when grading options are made, so a typo stops the run at once with a
clear message; the images are loaded on first use and cached, once per run, for every thread.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from grader.errors import DataError

USAGE = "use builtin, cifar10:PATH (the extracted cifar-10-batches-py folder) or npz:PATH"
CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
IMAGE_SHAPE = (32, 32, 3)
_lock = threading.Lock()


@dataclass(frozen=True)
class DataSource:
    kind: str
    path: str | None = None

    @property
    def label(self) -> str:
        return self.kind if self.path is None else f"{self.kind}:{self.path}"


def parse_source(value: str) -> DataSource:
    """Validate a --data value without loading it (cheap enough to run on every option object)."""
    kind, sep, path = value.partition(":")
    if value == "builtin":
        return DataSource("builtin")
    if kind not in ("cifar10", "npz") or not sep or not path:
        raise DataError(f"--data {value!r} is not understood: {USAGE}")
    path = os.path.abspath(os.path.expanduser(path))
    if kind == "cifar10":
        missing = [name for name in CIFAR_BATCHES if not os.path.isfile(os.path.join(path, name))]
        if not os.path.isdir(path) or missing == list(CIFAR_BATCHES):
            raise DataError(
                f"--data cifar10:{path}: no CIFAR-10 batches there; point it at the extracted "
                "cifar-10-batches-py folder (with data_batch_1 ... data_batch_5)"
            )
    elif not os.path.isfile(path):
        raise DataError(f"--data npz:{path}: no such file")
    return DataSource(kind, path)


def training_data(source: DataSource, num_train: int, num_val: int) -> dict[str, np.ndarray]:
    """X_train, y_train, X_val, y_val as float32 (N, 3, 32, 32) minus the training mean.

    Smaller datasets give what they have: validation images first, then training images.
    """
    with _lock:
        return _split(source, int(num_train), int(num_val))


@lru_cache(maxsize=8)
def _split(source: DataSource, num_train: int, num_val: int) -> dict[str, np.ndarray]:
    if source.kind == "builtin":
        from grader.oracle import get_builtin_data  # the course's loader (not in a student kit)

        data = get_builtin_data(num_training=num_train, num_validation=num_val, num_test=0)
        return _as_float32(data)
    x, y = _images(source, num_train + num_val)
    num_val = min(num_val, len(y) // 2)
    num_train = min(num_train, len(y) - num_val)
    if num_train < 1:
        raise DataError(f"--data {source.label}: too few images ({len(y)})")
    order = (
        np.random.RandomState(0).permutation(len(y)) if source.kind == "npz" else np.arange(len(y))
    )
    x, y = x[order], y[order]
    mean = x[:num_train].mean(axis=0, dtype=np.float64)
    parts = {"train": slice(0, num_train), "val": slice(num_train, num_train + num_val)}
    data = {}
    for name, part in parts.items():
        data[f"X_{name}"] = (x[part] - mean).transpose(0, 3, 1, 2).astype(np.float32)
        data[f"y_{name}"] = y[part].astype(np.int64)
    return data


def _images(source: DataSource, wanted: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8-range (N, 32, 32, 3) images and labels; CIFAR-10 batches are read only as needed."""
    if source.kind == "npz":
        return _npz_images(source.path)
    try:
        xs, ys = [], []
        for name in CIFAR_BATCHES:
            path = Path(source.path) / name
            if sum(len(y) for y in ys) >= wanted or not path.is_file():
                break
            from grader.oracle import load_CIFAR_batch

            x, y = load_CIFAR_batch(str(path))
            xs.append(x.astype(np.float32))
            ys.append(y)
        return np.concatenate(xs), np.concatenate(ys)
    except (OSError, ValueError) as exc:
        raise DataError(f"--data {source.label}: {exc}") from None


def _npz_images(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"--data npz:{path}: not a readable npz file ({exc})") from None
    if "x" not in arrays or "y" not in arrays:
        raise DataError(f"--data npz:{path}: expected arrays 'x' and 'y', found {sorted(arrays)}")
    x, y = arrays["x"], arrays["y"]
    if (
        x.ndim != 4
        or x.shape[1:] != IMAGE_SHAPE
        or y.shape != (len(x),)
        or y.dtype.kind not in "iu"
    ):
        raise DataError(
            f"--data npz:{path}: expected 'x' of shape (N, 32, 32, 3) and integer 'y' of shape"
            f" (N,), got {x.shape} and {y.shape} {y.dtype}"
        )
    return x.astype(np.float32), y


def _as_float32(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        k: v.astype(np.float32) if k.startswith("X_") else v
        for k, v in data.items()
        if not k.endswith("_test")
    }
