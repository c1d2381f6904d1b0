"""Compiles the reference's Cython im2col; all other metadata lives in pyproject.toml.

The extension uses typed memoryviews only, so it needs no NumPy headers.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("reference.im2col_cython", ["reference/im2col_cython.pyx"])],
        compiler_directives={"language_level": "3"},
    ),
)
