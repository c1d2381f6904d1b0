"""Fixtures for the tests of the course's solution."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest


def _rel_error(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


@pytest.fixture(scope="session")
def rel_error() -> Callable[[np.ndarray, np.ndarray], float]:
    """The notebook's relative error, max |x - y| / max(1e-8, |x| + |y|)."""
    return _rel_error
