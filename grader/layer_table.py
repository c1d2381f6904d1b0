"""The table of the assignment's layer functions: for each family of layers, how they are called.

A family pairs a forward function with its backward (or a loss returning its own gradient)
and lists the forward's parameters in order. Array parameters come from a case's arrays,
the others (`conv_param`, `pool_param`, `bn_param`, `gn_param`, `G`) from its settings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    forward: str
    backward: str | None
    signature: tuple[str, ...]
    grads: tuple[str, ...]
    role: str = "layers"

    @property
    def arrays(self) -> tuple[str, ...]:
        return tuple(p for p in self.signature if p not in SETTINGS)

    @property
    def returns_loss(self) -> bool:
        """A loss returns `(loss, dx)` itself instead of `(out, cache)` plus a backward."""
        return self.backward is None


SETTINGS = ("conv_param", "pool_param", "bn_param", "gn_param", "G")

FAMILIES = {
    f.name: f
    for f in (
        Family(
            "conv",
            "conv_forward_naive",
            "conv_backward_naive",
            ("x", "w", "b", "conv_param"),
            ("x", "w", "b"),
        ),
        Family(
            "max_pool",
            "max_pool_forward_naive",
            "max_pool_backward_naive",
            ("x", "pool_param"),
            ("x",),
        ),
        Family(
            "avg_pool",
            "avg_pool_forward_naive",
            "avg_pool_backward_naive",
            ("x", "pool_param"),
            ("x",),
        ),
        Family(
            "spatial_batchnorm",
            "spatial_batchnorm_forward",
            "spatial_batchnorm_backward",
            ("x", "gamma", "beta", "bn_param"),
            ("x", "gamma", "beta"),
        ),
        Family(
            "spatial_groupnorm",
            "spatial_groupnorm_forward",
            "spatial_groupnorm_backward",
            ("x", "gamma", "beta", "G", "gn_param"),
            ("x", "gamma", "beta"),
        ),
        Family("affine", "affine_forward", "affine_backward", ("x", "w", "b"), ("x", "w", "b")),
        Family("relu", "relu_forward", "relu_backward", ("x",), ("x",)),
        Family("softmax_loss", "softmax_loss", None, ("x", "y"), ("x",)),
        Family(
            "affine_relu",
            "affine_relu_forward",
            "affine_relu_backward",
            ("x", "w", "b"),
            ("x", "w", "b"),
            "layer_utils",
        ),
        Family(
            "conv_relu",
            "conv_relu_forward",
            "conv_relu_backward",
            ("x", "w", "b", "conv_param"),
            ("x", "w", "b"),
            "layer_utils",
        ),
        Family(
            "conv_relu_pool",
            "conv_relu_pool_forward",
            "conv_relu_pool_backward",
            ("x", "w", "b", "conv_param", "pool_param"),
            ("x", "w", "b"),
            "layer_utils",
        ),
    )
}


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown layer family {name!r}; known: {', '.join(FAMILIES)}") from None
