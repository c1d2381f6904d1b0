"""How long a class takes: demo submissions replicated to N and graded as `grader run` does.

    python benchmarks/bench_class.py --students 40 --jobs 2 [--skip 'training.*']
    python benchmarks/bench_class.py --style textbook --students 12 --skip 'training.*' --per-group
    python benchmarks/bench_class.py --students 20 --skip 'training.*' --dask

`--style demo` replicates the whole demo class; `--style textbook` only the complete packages
written as students write them (textbook loops, a layer_utils.py on the naive layers, a cs231n
package). Prints seconds per submission and the time a class of 200 would take at that rate;
`--per-group` grades the class once more per check group (forward, backward, ...) and prints each
group's share. `--dask` grades it on Dask LocalClusters of 1 and 2 worker processes and with
--jobs 1 and 2, and prints the throughputs, the speed-up from the second worker and Dask's
overhead per submission.
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
TEXTBOOK = ("textbook_loops", "textbook_naive_sandwich", "cs231n_style")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip", action="append", default=[])
    parser.add_argument("--style", choices=("demo", "textbook"), default="demo")
    parser.add_argument("--per-group", action="store_true")
    parser.add_argument("--dask", action="store_true")
    args = parser.parse_args()
    sources = sorted(
        p
        for p in DEMO.iterdir()
        if not p.name.startswith(".") and (args.style == "demo" or p.name in TEXTBOOK)
    )
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.students):
            source = sources[i % len(sources)]
            target = Path(tmp) / f"s{i:03d}_{source.name}"
            (shutil.copytree if source.is_dir() else shutil.copyfile)(source, target)
        elapsed, count = _grade(Path(tmp), args.jobs, skip=tuple(args.skip))
        per = elapsed / count
        print(
            f"{count} {args.style} submissions, {args.jobs} jobs: {elapsed:.1f} s, {per:.2f} s "
            f"each; a class of 200: {200 * per / 60:.1f} min"
        )
        if args.dask:
            _compare_dask(Path(tmp), count, tuple(args.skip))
        if args.per_group:
            groups = sorted({spec.group for spec in load_assignment().checks})
            for group in groups:
                if any(group == pattern.split(".")[0] for pattern in args.skip):
                    continue
                seconds, _ = _grade(Path(tmp), args.jobs, only=(f"{group}.*",))
                print(f"  {group:10s} alone: {seconds / count:.2f} s each")


def _compare_dask(folder: Path, count: int, skip: tuple[str, ...]) -> None:
    seconds = {}
    for workers in (1, 2):
        seconds[f"jobs {workers}"], _ = _grade(folder, workers, skip=skip)
        seconds[f"local:{workers}"], _ = _grade(
            folder, workers, skip=skip, scheduler=f"local:{workers}"
        )
    for name, took in seconds.items():
        print(f"  {name:8s}: {took:.1f} s, {count / took * 60:.1f} submissions per minute")
    print(f"  a second Dask worker: x{seconds['local:1'] / seconds['local:2']:.2f} throughput")
    for workers in (1, 2):
        extra = (seconds[f"local:{workers}"] - seconds[f"jobs {workers}"]) / count
        print(f"  Dask's overhead with {workers} worker(s): {extra:+.2f} s per submission")


def _grade(folder: Path, jobs: int, only=(), skip=(), scheduler=None) -> tuple[float, int]:
    options = GradingOptions(seed=0, only=only, skip=skip)
    started = time.perf_counter()
    run = grade_all(discover(folder), load_assignment(), options, jobs=jobs, scheduler=scheduler)
    return time.perf_counter() - started, len(run.submissions)


if __name__ == "__main__":
    main()
