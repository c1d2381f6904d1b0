"""A process-wide memo of values computed from the reference, shared by every graded thread.

The reference model's outputs and training runs depend only on the assignment, the seed and
the data, not on the submission: the first thread that needs one computes it, the others wait
for it and reuse it.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable

_lock = threading.Lock()
_values: dict[str, Any] = {}
_locks: dict[str, threading.Lock] = {}


def memo(key: Any, compute: Callable[[], Any]) -> Any:
    """Compute a reference-side value once per process; graded threads wait for the first."""
    text = json.dumps(key, sort_keys=True, default=str)
    with _lock:
        lock = _locks.setdefault(text, threading.Lock())
    with lock:
        if text not in _values:
            _values[text] = compute()
        return _values[text]
