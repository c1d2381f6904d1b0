"""Reading a notebook: its cells (the seed's too), their definitions as a module, bad files."""

from __future__ import annotations

import pytest

from grader.errors import NotebookError
from grader.notebook.cells import cells_module_source, defined_functions, load_notebook


def test_seed_cells_parse_into_the_notebooks_24_code_cells(seed_cells, notebooks) -> None:
    cells = seed_cells
    code = [src for kind, src in cells if kind == "code"]
    assert len(code) == 24
    assert all(notebooks.is_code(src) for src in code)
    assert code[0].startswith("# As usual") and "spatial_groupnorm_backward" in code[-1]


def test_cell_definitions_become_a_module(notebooks) -> None:
    nb = notebooks.build(
        [
            (
                "code",
                "import numpy as np\nimport matplotlib.pyplot as plt\n%matplotlib inline\n"
                "def conv_forward_naive(x, w, b, p):\n    return np.zeros(1), None\n",
            ),
            (
                "code",
                "def conv_forward_naive(x, w, b, p):\n    return np.ones(1), None\n"
                "def helper():\n    return 1\nprint(helper())",
            ),
        ]
    )
    assert set(defined_functions(nb)) == {"conv_forward_naive", "helper"}
    source = cells_module_source(nb, "ie590")
    namespace: dict = {}
    exec(compile(source.replace("from ie590.layers import *", "pass"), "m", "exec"), namespace)
    assert namespace["conv_forward_naive"](0, 0, 0, 0)[0][0] == 1.0
    assert "matplotlib" not in source
    assert "helper" in source and "def conv_forward_naive" not in cells_module_source(
        nb, "ie590", skip=["conv_forward_naive"]
    )


@pytest.mark.parametrize(
    "content, expected",
    [
        ('{"cells": [', "not valid notebook JSON"),
        ("\xff\xfe", "not valid notebook JSON"),
        ('{"hello": 1}', "not a Jupyter notebook"),
    ],
)
def test_malformed_notebooks_get_a_clear_error(tmp_path, content: str, expected: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(NotebookError, match=expected):
        load_notebook(path)
