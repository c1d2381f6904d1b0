"""How long a class takes: the demo submissions replicated to N and graded as `grader run` does.

    python benchmarks/bench_class.py --students 40 --jobs 2 [--skip 'training.*']

Prints seconds per submission and the time a class of 200 would take at that rate.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from grader.assignment import load_assignment
from grader.grading import GradingOptions
from grader.runner import grade_all
from grader.submission import discover

DEMO = Path(__file__).resolve().parents[1] / "submissions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip", action="append", default=[])
    args = parser.parse_args()
    demo = sorted(p for p in DEMO.iterdir() if not p.name.startswith("."))
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.students):
            source = demo[i % len(demo)]
            target = Path(tmp) / f"s{i:03d}_{source.name}"
            (shutil.copytree if source.is_dir() else shutil.copyfile)(source, target)
        options = GradingOptions(seed=0, skip=tuple(args.skip))
        started = time.perf_counter()
        run = grade_all(discover(Path(tmp)), load_assignment(), options, jobs=args.jobs)
        elapsed = time.perf_counter() - started
    per = elapsed / len(run.submissions)
    print(
        f"{len(run.submissions)} submissions, {args.jobs} jobs: {elapsed:.1f} s, {per:.2f} s each; "
        f"a class of 200: {200 * per / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
