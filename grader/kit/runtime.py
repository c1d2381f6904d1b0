"""The student kit's command: `grader-check PATH` (or `python -m <kit> PATH`).

It grades the student's package with the grader's own layer checks, in the same sandbox, on the
public cases the kit carries; the course's answers come from the recording made when the kit
was built, lent to grader.course_layers in place of the solution, which the kit does not have.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from grader import course_layers
from grader.assignment import Assignment, parse_assignment
from grader.cases import CaseBook
from grader.checks import validate
from grader.grading import GradingOptions, grade
from grader.kit.replay import Recording
from grader.report.console import failed, print_check, say
from grader.results import RunResult, SubmissionResult
from grader.sandbox import Limits
from grader.submission import load
from grader.workspace import CourseModules

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FAULT, EXIT_UNGRADABLE = 0, 1, 2, 3, 4  # as `grader check`


class Kit:
    """The kit's data: its assignment, the recorded answers, and where they came from."""

    def __init__(self, data_dir: Path) -> None:
        self.meta: dict[str, Any] = json.loads((data_dir / "kit.json").read_text())
        self.recording = Recording.from_bytes((data_dir / "recording.npz").read_bytes())
        self.assignment: Assignment = parse_assignment(
            self.meta["assignment"], f"kit:{self.meta['assignment_name']}"
        )

    @property
    def version(self) -> str:
        """The assignment file's version the kit was built from (the start of its sha256), as
        `grader check` and results.json name it."""
        return self.meta["assignment_version"]

    def banner(self) -> str:
        return (
            f"student kit of {self.meta['assignment_name']}, assignment version {self.version}"
            f" (built {self.meta['built']}): the public checks only; hidden cases, the network,"
            " training and speed are graded by your instructor"
        )

    def grade(self, path: Path, options: GradingOptions) -> SubmissionResult:
        course_layers.lend(self.recording.replayer(self.meta["functions"]), any_input=False)
        validate(self.assignment)
        casebook = CaseBook(self.assignment, self.meta["seed"], course_layers.answer)
        return grade(load(path), self.assignment, casebook, options)


def main(argv: list[str], data_dir: Path) -> int:
    parser = argparse.ArgumentParser(
        prog="grader-check", description="Check your package with the assignment's public checks."
    )
    parser.add_argument("path", type=Path, help="your package folder, or layers.py")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--only", action="append", default=[], metavar="GLOB")
    parser.add_argument("--skip", action="append", default=[], metavar="GLOB")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call (60)")
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write the result (results.json's schema)"
    )
    args = parser.parse_args(argv)
    console = Console()
    kit = Kit(data_dir)
    if not args.path.exists():
        say(console, f"error: {args.path} does not exist", "bold red")
        return EXIT_USAGE
    options = GradingOptions(
        seed=kit.meta["seed"],
        limits=Limits(call_timeout_s=args.timeout),
        only=tuple(args.only),
        skip=tuple(args.skip),
        course=CourseModules(None),
    )
    if args.only and not any(options.selects(s.id) for s in kit.assignment.checks):
        say(console, f"error: --only {' '.join(args.only)} matches no check of the kit", "red")
        return EXIT_USAGE
    if not args.quiet:
        say(console, kit.banner())
    if load(args.path).layout == "notebook":
        say(
            console,
            "error: the kit checks your package: pass the package folder beside the notebook"
            " (or layers.py), not the notebook",
            "bold red",
        )
        return EXIT_USAGE
    with console.status(f"checking {args.path}"):
        result = kit.grade(args.path, options)
    print_check(
        console,
        result,
        seed=kit.meta["seed"],
        reproduce=f"grader-check {args.path}",
        show_hidden=False,
        quiet=args.quiet,
        selected=options.selects,
    )
    _note_left_out(console, kit)
    if args.json:  # results.json's schema, as the grader writes it
        RunResult(
            grader_version=kit.meta["grader_version"],
            assignment=kit.assignment.source,
            seed=kit.meta["seed"],
            created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            submissions=[result],
            details={"assignment_version": kit.version},
        ).write(args.json)
    if result.details.get("grader_fault") or any(
        c.details.get("grader_fault") for c in result.checks
    ):
        return EXIT_FAULT
    if result.status == "error":
        return EXIT_UNGRADABLE
    return EXIT_FAILED if failed(result) else EXIT_OK


def _note_left_out(console: Console, kit: Kit) -> None:
    left_out = kit.meta.get("left_out", {})
    if left_out:
        say(
            console,
            f"{len(left_out)} of these checks run here on fewer cases than your instructor's"
            " grader, which also uses hidden ones",
            "dim",
        )
