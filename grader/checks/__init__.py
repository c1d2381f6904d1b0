"""Check kinds: each maps a `CheckSpec` and a `GradingContext` to a `CheckResult`.

Modules register the kinds they serve in `KINDS`; the assignment file names a kind per check.
"""

from __future__ import annotations

from typing import Callable

KINDS: dict[str, Callable] = {}


def register(kind: str) -> Callable[[Callable], Callable]:
    def add(check: Callable) -> Callable:
        KINDS[kind] = check
        return check

    return add


def load_kinds() -> dict[str, Callable]:
    """Import the modules that register check kinds (the network checks need the sandbox too)."""
    from grader.checks import layers  # noqa: F401  (registers forward, backward, inputs)
    from grader.checks import network, speed, training  # noqa: F401  (registers model, speed, training)

    return KINDS
