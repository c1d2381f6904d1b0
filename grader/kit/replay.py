"""Calls to the course's layers, recorded once and replayed where the solution is absent.

A call is known by its function and a digest of its arguments (every array's dtype, shape and
bytes; every setting's type and value), so a replay answers exactly the calls that were made
when the kit was built and nothing else: another input raises KeyError, which the hint probes
treat as "this probe cannot run here". A call that changes a dict argument in place (batch norm
updating its running averages) has that change recorded and replayed too.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def digest(name: str, args: tuple[Any, ...]) -> str:
    h = hashlib.sha256(name.encode())
    _feed(h, args)
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        h.update(f"array:{value.dtype.str}:{value.shape}:".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        h.update(b"dict{")
        for key in sorted(value, key=str):
            h.update(f"{key!r}:".encode())
            _feed(h, value[key])
        h.update(b"}")
    elif isinstance(value, (tuple, list)):
        h.update(f"{type(value).__name__}[".encode())
        for item in value:
            _feed(h, item)
        h.update(b"]")
    elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"cannot record an argument of type {type(value).__name__}")


class Recording:
    """Recorded calls: digest -> (result, the dict arguments as the call left them)."""

    def __init__(self, calls: dict[str, Any] | None = None) -> None:
        self.calls: dict[str, Any] = calls or {}

    def recorder(self, functions: Mapping[str, Callable[..., Any]]) -> dict[str, Callable]:
        """`functions`, each wrapped to record its calls here."""
        return {name: self._recording(name, fn) for name, fn in functions.items()}

    def replayer(self, names: list[str]) -> dict[str, Callable]:
        """Stand-ins for the functions `names` that answer the recorded calls."""
        return {name: self._replaying(name) for name in names}

    def _recording(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def record(*args: Any) -> Any:
            key = digest(name, args)
            result = fn(*args)
            after = {i: copy.deepcopy(a) for i, a in enumerate(args) if isinstance(a, dict)}
            try:
                self.calls[key] = _encode_check({"result": result, "after": after})
            except TypeError:
                pass  # not plain data: this call cannot be replayed, the probe then offers nothing
            return result

        return record

    def _replaying(self, name: str) -> Callable[..., Any]:
        def replay(*args: Any) -> Any:
            key = digest(name, args)
            if key not in self.calls:
                raise KeyError(f"{name}: no recorded answer for these arguments")
            recorded = copy.deepcopy(self.calls[key])
            for i, state in recorded["after"].items():
                args[int(i)].clear()
                args[int(i)].update(state)
            return recorded["result"]

        return replay

    def to_bytes(self) -> bytes:
        """The recording as one .npz: the arrays, and the structure as JSON beside them."""
        arrays: list[np.ndarray] = []
        structure = json.dumps({k: _encode(v, arrays) for k, v in self.calls.items()})
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            structure=np.frombuffer(structure.encode(), dtype=np.uint8),
            **{f"a{i}": a for i, a in enumerate(arrays)},
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Recording:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        structure = json.loads(arrays.pop("structure").tobytes().decode())
        return cls({k: _decode(v, arrays) for k, v in structure.items()})


def _encode_check(value: Any) -> Any:
    """A deep copy of `value`, refused (TypeError) when it is not plain data."""
    _encode(value, [])
    return copy.deepcopy(value)


def _encode(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"@array": len(arrays) - 1}
    if isinstance(value, np.generic):
        arrays.append(np.asarray(value))
        return {"@scalar": len(arrays) - 1}
    if isinstance(value, tuple):
        return {"@tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int)) for k in value):
            raise TypeError("dict keys must be strings or integers")
        return {"@dict": [[k, _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, float) and not np.isfinite(value):
        return {"@float": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot record a value of type {type(value).__name__}")


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "@array" in value:
        return arrays[f"a{value['@array']}"]
    if "@scalar" in value:
        return arrays[f"a{value['@scalar']}"][()]
    if "@tuple" in value:
        return tuple(_decode(v, arrays) for v in value["@tuple"])
    if "@float" in value:
        return float(value["@float"])
    return {k: _decode(v, arrays) for k, v in value["@dict"]}
