"""Visualisation helpers, as in the course's vis_utils module.

Runs on NumPy 1.2x and 2.x and Python 3.8+ (copied into student packages).
"""

from __future__ import annotations

from math import ceil, sqrt

import numpy as np


def visualize_grid(Xs: np.ndarray, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """Tile images Xs (N, H, W, C) into one square grid, each rescaled to [0, ubound].

    Typical use: the first-layer filters, ``W1.transpose(0, 2, 3, 1)``. A constant
    image (no range to rescale) is drawn as zeros.
    """
    if np.ndim(Xs) != 4:
        raise ValueError(f"Xs must be a 4-d array (N, H, W, C), got shape {np.shape(Xs)}")
    n, h, w, c = Xs.shape
    grid_size = int(ceil(sqrt(n)))
    grid_height = h * grid_size + padding * (grid_size - 1)
    grid_width = w * grid_size + padding * (grid_size - 1)
    grid = np.zeros((grid_height, grid_width, c))
    for index, img in enumerate(Xs):
        row, col = divmod(index, grid_size)
        y0, x0 = row * (h + padding), col * (w + padding)
        low, high = np.min(img), np.max(img)
        if high > low:
            grid[y0 : y0 + h, x0 : x0 + w] = ubound * (img - low) / (high - low)
    return grid
