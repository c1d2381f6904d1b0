"""The table of layer functions: how each family is called, checked against the solution."""

from __future__ import annotations

import inspect

import pytest

from grader.layer_table import FAMILIES, SETTINGS, family
from grader.oracle import LAYER_FUNCTIONS
from grader.workspace import ROLES


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_calls_the_reference_as_its_signature_says(name):
    fam = family(name)
    assert list(inspect.signature(LAYER_FUNCTIONS[fam.forward]).parameters) == list(fam.signature)
    if fam.backward is not None:
        assert list(inspect.signature(LAYER_FUNCTIONS[fam.backward]).parameters) == [
            "dout",
            "cache",
        ]
    assert set(fam.grads) <= set(fam.arrays) and fam.role in ROLES


def test_arrays_are_the_parameters_that_are_not_settings():
    conv = family("conv")
    assert conv.arrays == ("x", "w", "b")
    assert family("spatial_groupnorm").arrays == ("x", "gamma", "beta")
    assert all(p not in SETTINGS for fam in FAMILIES.values() for p in fam.arrays)


def test_only_a_loss_returns_its_own_gradient():
    assert [name for name, fam in FAMILIES.items() if fam.returns_loss] == ["softmax_loss"]


def test_sandwich_layers_live_in_layer_utils():
    assert {name for name, fam in FAMILIES.items() if fam.role == "layer_utils"} == {
        "affine_relu",
        "conv_relu",
        "conv_relu_pool",
    }


def test_an_unknown_family_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown layer family 'convv'; known: conv, max_pool"):
        family("convv")
