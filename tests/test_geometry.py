"""Drawn geometries: shapes from the seed, within ranges, meeting every requirement; public
cases keep the notebook's shapes; a malformed draw is refused with the case named."""

from __future__ import annotations

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.errors import AssignmentError
from grader.oracle import answer
from grader.cases import CaseBook
from grader.geometry import concrete, draw_sizes

POOL = {
    "x": {"shape": ["N", "C", "H", "W"]},
    "pool_height": "PH",
    "pool_width": "PW",
    "stride": "S",
    "draw": {
        "N": [1, 3],
        "C": [1, 3],
        "PH": [1, 4],
        "PW": [1, 4],
        "S": [1, 3],
        "HO": [2, 4],
        "WO": [2, 4],
        "H": "(HO - 1) * S + PH",
        "W": "(WO - 1) * S + PW",
        "require": ["N != C", "PH != PW", "(W - PH) // S != WO - 1"],
    },
}


def test_a_draw_meets_its_ranges_and_requirements_and_fills_the_case():
    for seed in range(50):
        case = concrete(POOL, np.random.RandomState(seed))
        n, c, h, w = case["x"]["shape"]
        ph, pw, s = case["pool_height"], case["pool_width"], case["stride"]
        assert 1 <= n <= 3 and 1 <= c <= 3 and n != c and ph != pw
        assert (h - ph) % s == 0 and (w - pw) % s == 0 and (w - ph) // s != (w - pw) // s
        assert "draw" not in case


def test_the_same_seed_draws_the_same_shapes_and_seeds_vary_them():
    def draws():
        return [
            tuple(draw_sizes(POOL["draw"], np.random.RandomState(s)).values()) for s in range(30)
        ]

    assert draws() == draws()
    assert len(set(draws())) > 10


def test_hidden_cases_draw_their_shapes_from_the_run_seed_and_public_cases_keep_the_notebooks():
    assignment = load_assignment()
    books = [CaseBook(assignment, seed, answer) for seed in range(6)]
    drawn = {tuple(b.get("conv", "drawn").arrays["x"].shape) for b in books}
    assert len(drawn) > 1
    assert all(b.get("conv", "notebook_backward").arrays["x"].shape == (4, 3, 5, 5) for b in books)
    again = CaseBook(assignment, 3, answer).get("conv", "drawn")
    assert np.array_equal(again.arrays["x"], books[3].get("conv", "drawn").arrays["x"])


@pytest.mark.parametrize(
    "draw, message",
    [
        ({"N": [3, 1]}, "must be \\[low, high\\]"),
        ({"N": [1, 2], "H": "N +"}, "cannot evaluate"),
        ({"N": [1, 2], "H": "Q * 2"}, "cannot evaluate"),
        ({"N": [1, 2], "H": "N / 2"}, "must give an integer"),
        ({"N": [1, 2], "require": ["N > 5"]}, "no draw in"),
    ],
)
def test_a_malformed_draw_is_refused_with_the_case_named(draw, message):
    assignment = load_assignment()
    assignment.cases["max_pool"]["broken"] = {
        "x": {"shape": ["N", 3, 4, 4]},
        "pool_height": 2,
        "pool_width": 2,
        "stride": 2,
        "draw": draw,
    }
    with pytest.raises(AssignmentError, match=f"max_pool.broken.*{message}"):
        CaseBook(assignment, 0, answer).get("max_pool", "broken")


def test_a_shape_naming_an_undrawn_size_is_refused():
    with pytest.raises(ValueError, match="names 'M'"):
        concrete({"x": {"shape": ["M", 2]}, "draw": {"N": [1, 2]}}, np.random.RandomState(0))
