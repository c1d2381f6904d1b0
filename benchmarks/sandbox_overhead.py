"""Measure what the sandbox costs: server start time and per-call overhead of a trivial call.

Run `python benchmarks/sandbox_overhead.py [--calls N]`; it prints one line per isolation mode.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from grader.sandbox import Sandbox
from grader.sandbox.isolation import works
from grader.sandbox.steps import Program, call, ref, ret

TRIVIAL = Program([call("math:sqrt", 4.0, as_="r"), ret(r=ref("r"))])


def measure(mode: str, calls: int) -> tuple[float, float, float]:
    """(server start s, median wall time per call s, median in-server call duration s)"""
    with tempfile.TemporaryDirectory() as files:
        start = time.perf_counter()
        with Sandbox(Path(files), isolation=mode) as box:
            started = time.perf_counter() - start
            walls, inner = [], []
            for _ in range(calls):
                t = time.perf_counter()
                reply = box.run(TRIVIAL)
                walls.append(time.perf_counter() - t)
                inner.append(reply.duration_s)
                if not reply.ok:
                    raise SystemExit(f"{mode}: trivial call failed: {reply.error}")
    return started, statistics.median(walls), statistics.median(inner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    modes = ["none"] + (["bwrap"] if works("bwrap", sys.executable) else [])
    for mode in modes:
        measure(mode, 2)  # warm the interpreter lookup and the page cache
        started, wall, inner = measure(mode, args.calls)
        print(
            f"{mode:6s} server start {started * 1000:7.1f} ms   "
            f"trivial call {wall * 1000:6.1f} ms "
            f"(child fork-to-exit {inner * 1000:5.1f} ms), median of {args.calls}"
        )


if __name__ == "__main__":
    main()
