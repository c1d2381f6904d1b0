"""Printed versus recomputed: does what a cell prints agree with what its functions compute?

The notebook's test cells print errors (`difference:  2.2e-08`, `dx error: ...`). The grader
never trusts them: the kernel's own functions are re-run on the cells' exact inputs (a kernel
capture), the reference answers are computed here, and a printed value that says "fine" where the
recomputed one says "broken" flags the submission for review.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from grader.compare import rel_error
from grader.notebook.cells import printed_text
from grader.oracle import LAYER_FUNCTIONS

LOOKS_RIGHT = 1e-5
LOOKS_WRONG = 1e-2
PRINTED_VALUE = re.compile(
    r"^\s*(?P<label>[A-Za-z][A-Za-z"
    r" ]*?)\s*:\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)\s*$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class PublicCase:
    """One of the notebook's test cells: how to rebuild its inputs and what it prints."""

    name: str
    forward: str
    backward: str | None
    arrays: Callable[[], dict[str, np.ndarray]]
    params: tuple[Any, ...]
    labels: dict[str, int]

    def matches(self, source: str) -> bool:
        """The cell tests this case: it calls the function under test, not the fast layers."""
        return f"{self.backward or self.forward}(" in source and "_fast(" not in source


def _linspace(shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    return np.linspace(low, high, num=int(np.prod(shape))).reshape(shape)


def _seeded(
    *draws: tuple[str, tuple[int, ...], float, float],
) -> Callable[[], dict[str, np.ndarray]]:
    """Inputs drawn like the notebook: np.random.seed(123), then scale * randn + shift in order."""

    def build() -> dict[str, np.ndarray]:
        rng = np.random.RandomState(123)
        return {name: scale * rng.randn(*shape) + shift for name, shape, scale, shift in draws}

    return build


def _conv_forward_inputs() -> dict[str, np.ndarray]:
    return {
        "x": _linspace((2, 3, 4, 4), -0.1, 0.5),
        "w": _linspace((3, 3, 4, 4), -0.2, 0.3),
        "b": _linspace((3,), -0.1, 0.2),
    }


def _pool_forward_inputs() -> dict[str, np.ndarray]:
    return {"x": _linspace((2, 3, 4, 4), -0.3, 0.4)}


POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
POOL_BACKWARD = _seeded(("x", (3, 2, 8, 8), 1, 0), ("dout", (3, 2, 4, 4), 1, 0))
NORM_LABELS = {"dx error": 0, "dgamma error": 1, "dbeta error": 2}
PUBLIC_CASES = (
    PublicCase(
        "conv_forward",
        "conv_forward_naive",
        None,
        _conv_forward_inputs,
        ({"stride": 2, "pad": 1},),
        {"difference": 0},
    ),
    PublicCase(
        "conv_backward",
        "conv_forward_naive",
        "conv_backward_naive",
        _seeded(
            ("x", (4, 3, 5, 5), 1, 0),
            ("w", (2, 3, 3, 3), 1, 0),
            ("b", (2,), 1, 0),
            ("dout", (4, 2, 5, 5), 1, 0),
        ),
        ({"stride": 1, "pad": 1},),
        {"dx error": 0, "dw error": 1, "db error": 2},
    ),
    PublicCase(
        "max_pool_forward",
        "max_pool_forward_naive",
        None,
        _pool_forward_inputs,
        (POOL,),
        {"difference": 0},
    ),
    PublicCase(
        "max_pool_backward",
        "max_pool_forward_naive",
        "max_pool_backward_naive",
        POOL_BACKWARD,
        (POOL,),
        {"dx error": 0},
    ),
    PublicCase(
        "avg_pool_forward",
        "avg_pool_forward_naive",
        None,
        _pool_forward_inputs,
        (POOL,),
        {"difference": 0},
    ),
    PublicCase(
        "avg_pool_backward",
        "avg_pool_forward_naive",
        "avg_pool_backward_naive",
        POOL_BACKWARD,
        (POOL,),
        {"dx error": 0},
    ),
    PublicCase(
        "spatial_batchnorm_backward",
        "spatial_batchnorm_forward",
        "spatial_batchnorm_backward",
        _seeded(
            ("x", (2, 3, 4, 5), 5, 12),
            ("gamma", (3,), 1, 0),
            ("beta", (3,), 1, 0),
            ("dout", (2, 3, 4, 5), 1, 0),
        ),
        ({"mode": "train"},),
        NORM_LABELS,
    ),
    PublicCase(
        "spatial_groupnorm_backward",
        "spatial_groupnorm_forward",
        "spatial_groupnorm_backward",
        _seeded(
            ("x", (2, 6, 4, 5), 5, 12),
            ("gamma", (1, 6, 1, 1), 1, 0),
            ("beta", (1, 6, 1, 1), 1, 0),
            ("dout", (2, 6, 4, 5), 1, 0),
        ),
        (2, {}),
        NORM_LABELS,
    ),
)

# A backward cell also calls the forward, so backward cases are matched first.
BACKWARD_FIRST = sorted(PUBLIC_CASES, key=lambda case: case.backward is None)


def _argument_names(case: PublicCase) -> list[str]:
    return [name for name in case.arrays() if name != "dout"]


def write_manifest(directory: Path, workspace: Path) -> str:
    """Write the cases' inputs and a manifest under `directory`; return the manifest's workspace
    path."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = []
    for case in PUBLIC_CASES:
        np.savez(directory / f"{case.name}.npz", **case.arrays())
        manifest.append(
            {
                "name": case.name,
                "forward": case.forward,
                "backward": case.backward,
                "arrays": _argument_names(case),
                "params": list(case.params),
                "inputs": str((directory / f"{case.name}.npz").relative_to(workspace)),
            }
        )
    path = directory / "manifest.json"
    path.write_text(json.dumps(manifest))
    return str(path.relative_to(workspace))


def reference_results(case: PublicCase) -> list[np.ndarray]:
    """The reference's outputs on the case, in the order the cell's labels index them."""
    arrays = case.arrays()
    params = json.loads(json.dumps(case.params))
    forward = LAYER_FUNCTIONS[case.forward]
    out, cache = forward(*[arrays[k] for k in _argument_names(case)], *params)
    if not case.backward:
        return [out]
    grads = LAYER_FUNCTIONS[case.backward](arrays["dout"], cache)
    return list(grads) if isinstance(grads, tuple) else [grads]


def printed_values(text: str) -> dict[str, float]:
    """`label: number` lines of a cell's output, labels lower-cased; the last one wins."""
    return {m["label"].strip().lower(): float(m["value"]) for m in PRINTED_VALUE.finditer(text)}


def recomputed_errors(case: PublicCase, student: list[np.ndarray]) -> dict[str, float | None]:
    """rel_error of the kernel's results against the reference's, per label; None when shapes
    differ."""
    expected = reference_results(case)
    errors: dict[str, float | None] = {}
    for label, i in case.labels.items():
        ok = i < len(student) and i < len(expected) and student[i].shape == expected[i].shape
        errors[label] = rel_error(student[i], expected[i]) if ok else None
    return errors


def _looks_right(value: float) -> bool:
    return not math.isnan(value) and value <= LOOKS_RIGHT


def _looks_wrong(value: float) -> bool:
    return math.isnan(value) or value >= LOOKS_WRONG


def _disagree(printed: float, recomputed: float) -> bool:
    return (_looks_right(printed) and _looks_wrong(recomputed)) or (
        _looks_wrong(printed) and _looks_right(recomputed)
    )


def compare(
    nb: Any, source: str, recomputed: dict[str, dict[str, float | None]]
) -> list[dict[str, Any]]:
    """Every printed error of the notebook's test cells beside its recomputed value.

    `source` says which outputs these are ("submitted": stored in the student's file,
    "executed": produced by the grader's run).
    """
    rows = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        case = next((c for c in BACKWARD_FIRST if c.matches(str(cell.get("source", "")))), None)
        if case is None or case.name not in recomputed:
            continue
        for label, value in printed_values(printed_text(cell)).items():
            if label not in case.labels:
                continue
            redone = recomputed[case.name].get(label)
            rows.append(
                {
                    "cell": index,
                    "outputs": source,
                    "case": case.name,
                    "label": label,
                    "printed": value,
                    "recomputed": redone,
                    "disagrees": redone is not None and _disagree(value, redone),
                }
            )
    return rows


def review_flags(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Printed errors that look right where the recomputed ones are wrong, phrased for review.

    The other direction (a large printed error, a correct recomputed one) stays in the rows
    only: it happens honestly, e.g. a backward checked against the numeric gradient of a
    buggy forward prints a large error although the backward itself is right.
    """
    return [
        {
            **row,
            "message": (
                f"cell {row['cell']} ({row['outputs']} outputs) prints "
                f"{row['label']} = {row['printed']:.3g} but recomputing it gives "
                f"{row['recomputed']:.3g}"
            ),
        }
        for row in rows
        if row["disagrees"] and _looks_right(row["printed"])
    ]
