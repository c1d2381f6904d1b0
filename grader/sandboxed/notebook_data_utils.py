"""Grading stand-in for the course's `data_utils`, copied into the notebook's workspace.

`get_CIFAR10_data()` returns the data set the grader configured (saved next to this file as
`grading_data.npz`) instead of reading CIFAR-10 from disk, with the keys and layout the
notebook expects. This module runs inside the sandbox: it imports only numpy.
"""

import os

import numpy as np

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grading_data.npz")


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True):
    """The grading data, at most the requested number of images per split (already preprocessed)."""
    sizes = {"train": num_training, "val": num_validation, "test": num_test}
    with np.load(_DATA, allow_pickle=False) as data:
        return {
            "%s_%s" % (kind, split): data["%s_%s" % (kind, split)][:size].copy()
            for split, size in sizes.items()
            for kind in ("X", "y")
        }


def load_CIFAR10(root):
    raise RuntimeError("CIFAR-10 is not available while grading; use get_CIFAR10_data()")
