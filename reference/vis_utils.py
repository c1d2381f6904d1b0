"""Visualising first-layer filters as one image grid, as the course's notebook does."""
from __future__ import annotations

from math import ceil, sqrt

import numpy as np


def visualize_grid(Xs: np.ndarray, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """Tile a (N, H, W, C) array into one (G, G, C) image, each tile scaled to [0, ubound]."""
    n, h, w, c = Xs.shape
    grid_size = int(ceil(sqrt(n)))
    grid_height = h * grid_size + padding * (grid_size - 1)
    grid_width = w * grid_size + padding * (grid_size - 1)
    grid = np.zeros((grid_height, grid_width, c))
    for index in range(n):
        row, col = divmod(index, grid_size)
        img = Xs[index]
        low, high = np.min(img), np.max(img)
        scale = (high - low) or 1.0
        y0, x0 = row * (h + padding), col * (w + padding)
        grid[y0:y0 + h, x0:x0 + w] = ubound * (img - low) / scale
    return grid
