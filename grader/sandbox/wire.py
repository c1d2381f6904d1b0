"""Parent side of the wire format: decoding what a sandboxed call wrote into its call directory.

Everything here reads files written by untrusted code, so every file is opened relative to a
directory descriptor taken before the call, with O_NOFOLLOW, checked to be a regular file within
the size cap, and arrays are loaded with allow_pickle=False. Any surprise is a `WireError`, which
the sandbox reports as a "protocol" error; nothing here raises anything else for bad input.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.errors import MissingReply, WireError

REPLY_NAME = "reply.json"
MAX_REPLY_JSON_BYTES = 32 * 2**20
ARRAY_NAME = re.compile(r"a\d{1,7}\.npy")
NUMERIC_KINDS = "biufc"
FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


@dataclass(frozen=True)
class Opaque:
    """A returned object that is not plain data: described, never reconstructed."""

    type_name: str
    summary: str


def read_regular(dir_fd: int, name: str, max_bytes: int) -> bytes:
    """Read `name` inside the directory `dir_fd`, refusing symlinks, non-files and big files."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except FileNotFoundError:
        raise (MissingReply if name == REPLY_NAME else WireError)(f"{name} is missing") from None
    except OSError as exc:
        raise WireError(f"{name} could not be opened ({exc.strerror}; a symlink?)") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise WireError(f"{name} is not a regular file")
        if info.st_size > max_bytes:
            raise WireError(f"{name} is {info.st_size} bytes, over the {max_bytes}-byte limit")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise WireError(f"{name} grew over the {max_bytes}-byte limit")
    return data


def read_reply(dir_fd: int) -> dict:
    """The child's reply.json as a dict with a string "status"."""
    try:
        reply = json.loads(read_regular(dir_fd, REPLY_NAME, MAX_REPLY_JSON_BYTES))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"{REPLY_NAME} is not valid JSON: {exc}") from None
    if not isinstance(reply, dict) or not isinstance(reply.get("status"), str):
        raise WireError(f"{REPLY_NAME} has no status")
    return reply


class Decoder:
    """Rebuilds returned values, loading each array at most once and within the byte budget."""

    def __init__(self, dir_fd: int, max_bytes: int) -> None:
        self.dir_fd = dir_fd
        self.budget = max_bytes

    def decode(self, value: Any) -> Any:
        try:
            return self._decode(value)
        except RecursionError:
            raise WireError("the reply is nested too deeply") from None

    def _decode(self, value: Any) -> Any:
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) is list:
            return [self._decode(v) for v in value]
        if type(value) is not dict or len(value) != 1:
            raise WireError(f"unexpected value in the reply: {str(value)[:80]}")
        ((tag, body),) = value.items()
        if tag == "$tuple" and type(body) is list:
            return tuple(self._decode(v) for v in body)
        if tag == "$dict" and type(body) is dict:
            return {k: self._decode(v) for k, v in body.items()}
        if tag == "$float" and body in FLOATS:
            return FLOATS[body]
        if tag == "$complex" and type(body) is list and len(body) == 2:
            real, imag = (self._decode(v) for v in body)
            return complex(real, imag)
        if tag == "$array" and type(body) is str:
            return self.load_array(body)
        if tag == "$opaque" and type(body) is list and len(body) == 2:
            return Opaque(str(body[0])[:200], str(body[1])[:1000])
        raise WireError(f"unknown tag {tag!r} in the reply")

    def load_array(self, name: str) -> np.ndarray:
        if not ARRAY_NAME.fullmatch(name):
            raise WireError(f"bad array file name {name[:80]!r}")
        data = read_regular(self.dir_fd, name, self.budget)
        self.budget -= len(data)
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any parse failure of an untrusted file
            raise WireError(f"{name} is not a valid .npy file: {type(exc).__name__}") from None
        if type(array) is not np.ndarray or array.dtype.kind not in NUMERIC_KINDS:
            raise WireError(f"{name} does not hold a numeric array")
        return array
