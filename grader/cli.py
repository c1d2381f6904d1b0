"""The command line: parse arguments, call the runner or the renderers, print. Nothing else.

Exit codes:
  0    `run`, `report` and the others: the work completed (whatever the scores);
       `check`: every check passed
  1    `check`: a check failed (or could not run because the code does not import)
  2    usage error: a bad path, format, option, assignment file, results file, or an `--only`
       that matches no check
  3    the grader itself faulted (the faulty check says so)
  4    `check`: the submission cannot be graded (empty, ambiguous, unreadable)
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import logging
import random
import shlex
import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader import __version__, assignment_schema, editions
from grader.cache import GradeCache, RunKey, earlier_key
from grader.assignment import Assignment, load_assignment
from grader.errors import (
    AssignmentError,
    BundleError,
    DataError,
    ManualGradingError,
    ResultsFileError,
    SandboxSetupError,
    SimilarityError,
    UsageError,
)
from grader.grading import GradingOptions
from grader.report.console import class_table, failed, print_check, progress_line, say
from grader.results import RunResult, SubmissionResult, write_text_atomic
from grader.runner import grade_all
from grader.sandbox import Limits
from grader.submission import SUBMISSION_SEED, discover, load, lone_notebook_advice

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FAULT, EXIT_UNGRADABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_TERMINATED = 143
# Problems with what the instructor asked for: reported in one line, exit code 2.
USAGE_ERRORS = (AssignmentError, DataError, ResultsFileError, SandboxSetupError, UsageError)
DEFAULT_FORMATS = "html,json"
FORMATS_HELP = f"report formats (default {DEFAULT_FORMATS}): html,json,gradescope,junit,csv"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    previous = signal.signal(signal.SIGTERM, _terminate)  # CI cancels, batch schedulers: as Ctrl-C
    try:
        return args.command(args)
    except USAGE_ERRORS as exc:
        say(Console(stderr=True), f"error: {exc}", "bold red")
        return EXIT_USAGE
    except KeyboardInterrupt as stop:
        say(
            Console(stderr=True),
            "interrupted: every finished submission's grade is kept (results.json and the"
            " report folder's .grades); run the same command again to grade the rest",
        )
        return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as Ctrl-C: the same clean stop, exit code 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grader", description="Grade the ConvolutionalNetworks assignment."
    )
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="grade every submission in a folder")
    run.add_argument("folder", type=Path, help="folder whose entries are the submissions")
    run.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    run.add_argument(
        "--out", type=Path, default=Path("reports"), help="report folder (default reports)"
    )
    run.add_argument("--format", default=DEFAULT_FORMATS, help=FORMATS_HELP)
    run.add_argument(
        "--similarity",
        action="store_true",
        help="also write the similarity report (see `grader similarity`)",
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on a Dask cluster: tcp://HOST:8786 (its workers need the project installed,"
        " with `pip install .[dask]`), or local:N for N worker processes on this machine",
    )
    run.add_argument(
        "--regrade",
        nargs="?",
        const="*",
        metavar="GLOB",
        help="grade again submissions whose id matches GLOB (alone: all), even when their stored"
        " grade in OUT/.grades still applies",
    )
    _common(run)
    _similarity_options(run)
    run.set_defaults(command=cmd_run)

    check = commands.add_parser("check", help="self-check one submission and explain every result")
    check.add_argument("path", type=Path, help="layers.py, a package folder, a notebook or a zip")
    check.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    check.add_argument("--out", type=Path, help="also write reports into this folder")
    check.add_argument("--format", help=f"report formats for --out (default {DEFAULT_FORMATS})")
    _common(check)
    check.set_defaults(command=cmd_check)

    report = commands.add_parser(
        "report", help="render a results.json's reports again, without grading"
    )
    report.add_argument("results", type=Path, help="a results.json written by grader run or check")
    report.add_argument("--out", type=Path, help="report folder (default: the folder of RESULTS)")
    report.add_argument("--format", default=DEFAULT_FORMATS, help=FORMATS_HELP)
    report.add_argument(
        "--show-hidden", action="store_true", help="show hidden checks' cases in the reports"
    )
    report.set_defaults(command=cmd_report)

    bundle = commands.add_parser("gradescope-bundle", help="write a Gradescope autograder zip")
    bundle.add_argument("out", type=Path, help="the zip to write")
    _grading_choices(bundle)
    bundle.add_argument(
        "--seed",
        type=_seed,
        default=SUBMISSION_SEED,
        help="one seed of the hidden cases for the course, or 'submission' "
        "(default): drawn from each submission's files, so a regrade draws "
        "the same cases",
    )
    bundle.set_defaults(command=cmd_bundle)

    similar = commands.add_parser("similarity", help="report the most similar pairs of submissions")
    similar.add_argument("folder", type=Path, help="folder whose entries are the submissions")
    similar.add_argument(
        "--out",
        type=Path,
        default=Path("reports"),
        help="report folder; the report goes to its similarity/ (default reports)",
    )
    _similarity_options(similar)
    similar.set_defaults(command=cmd_similarity)
    _answers_parser(commands)
    listed = commands.add_parser(
        "assignments", help="list the built-in assignments (editions) for --assignment NAME"
    )
    listed.set_defaults(command=cmd_assignments)
    schema = commands.add_parser(
        "assignment-schema", help="print the assignment file's JSON Schema (for editors, tools)"
    )
    schema.set_defaults(command=cmd_assignment_schema)
    kit = commands.add_parser(
        "student-kit", help="write the students' kit: the public checks, without the solution"
    )
    kit.add_argument("out", type=Path, help="folder to write the kit's wheel into")
    kit.add_argument(
        "--assignment", metavar="NAME|FILE", help="a built-in assignment or an assignment file"
    )
    kit.set_defaults(command=cmd_student_kit)
    return parser


def _answers_parser(commands: argparse._SubParsersAction) -> None:
    answers = commands.add_parser("answers", help="inline answers graded by a person")
    actions = answers.add_subparsers(required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="write the answers to grade: one CSV row per submission and question"
    )
    export.add_argument("results", type=Path, help="results.json of a run")
    export.add_argument("csv", type=Path, help="the CSV to write")
    export.set_defaults(command=cmd_answers_export)
    merge = actions.add_parser(
        "import", help="merge a person's points and comments into results.json"
    )
    merge.add_argument("results", type=Path, help="results.json to update (rewritten atomically)")
    merge.add_argument(
        "csv", type=Path, help="the graded CSV: submission, question, points, comment"
    )
    merge.add_argument(
        "--render",
        default="",
        metavar="FORMATS",
        help="then re-render these report formats beside results.json (html,csv,...)",
    )
    merge.add_argument(
        "--show-hidden",
        action="store_true",
        help="show hidden checks' cases in the re-rendered reports",
    )
    merge.set_defaults(command=cmd_answers_import)


def _similarity_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--starter",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="code the course hands out (a file, folder, zip or notebook), never "
        "counted as a match; repeat for several",
    )
    parser.add_argument(
        "--compare-provided",
        action="store_true",
        help="count the course's provided modules (layer_utils.py, ...) as the students' own code",
    )
    parser.add_argument("--top", type=int, default=20, help="pairs listed per file (default 20)")
    parser.add_argument(
        "--noise",
        type=int,
        metavar="CHARS",
        help="shortest match counted, in characters of normalised code (default: copydetect's)",
    )
    parser.add_argument(
        "--guarantee",
        type=int,
        metavar="CHARS",
        help="matches at least this long are always found (default: copydetect's)",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed",
        type=_seed,
        help="seed of the hidden cases (default: a fresh one, recorded); for "
        "check, 'submission' draws it from the submission's files",
    )
    _grading_choices(parser)
    memory = Limits.memory_bytes / 2**30
    parser.add_argument(
        "--memory",
        type=float,
        default=memory,
        help=f"GiB of address space per call (default {memory:g})",
    )
    parser.add_argument(
        "--show-hidden", action="store_true", help="show hidden checks' cases (instructors)"
    )
    parser.add_argument("--python", help="interpreter that runs student code (default: this one)")
    parser.add_argument(
        "--isolation",
        choices=("auto", "bwrap", "none"),
        default=GradingOptions.isolation,
        help="sandbox: bubblewrap namespaces, or rlimits only (default: the strongest available)",
    )


def _seed(value: str) -> int | str:
    """A seed, or `submission`: one drawn from the hand-in's bytes, so a regrade is reproducible."""
    if value == SUBMISSION_SEED:
        return value
    try:
        seed = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a number nor '{SUBMISSION_SEED}'"
        ) from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"the seed must be 0 or more, not {seed}")
    return seed


def _grading_choices(parser: argparse.ArgumentParser) -> None:
    """What is graded and how long it may take: the options a run and a Gradescope bundle share."""
    timeout, budget = Limits.call_timeout_s, GradingOptions.submission_timeout_s
    parser.add_argument(
        "--timeout",
        type=float,
        default=timeout,
        help=f"seconds per call into student code (default {timeout:g})",
    )
    parser.add_argument(
        "--submission-timeout",
        type=float,
        default=budget,
        help=f"seconds per submission (default {budget:g})",
    )
    parser.add_argument(
        "--assignment",
        metavar="NAME|FILE",
        help="a built-in assignment's name (see `grader assignments`: convnets, "
        "IE590's edition, the default; cs231n, Stanford's) or an assignment "
        "file",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="grade only checks whose id matches",
    )
    parser.add_argument(
        "--skip", action="append", default=[], metavar="GLOB", help="skip checks whose id matches"
    )
    parser.add_argument(
        "--data",
        default=GradingOptions.data,
        metavar="SOURCE",
        help="training data: builtin, cifar10:PATH (cifar-10-batches-py) or "
        f"npz:PATH (default {GradingOptions.data})",
    )


def _options(args: argparse.Namespace, assignment: Assignment) -> GradingOptions:
    if args.timeout <= 0 or args.submission_timeout <= 0 or args.memory <= 0:
        raise UsageError("--timeout, --submission-timeout and --memory must be positive")
    limits = Limits(call_timeout_s=args.timeout, memory_bytes=int(args.memory * 2**30))
    options = GradingOptions(
        seed=args.seed if isinstance(args.seed, int) else random.SystemRandom().randrange(2**31),
        limits=limits,
        python=args.python,
        isolation=args.isolation,
        only=tuple(args.only),
        skip=tuple(args.skip),
        submission_timeout_s=args.submission_timeout,
        data=args.data,
        output_dir=args.out,
    )
    _check_selection(assignment, options)
    return options


def _check_selection(assignment: Assignment, options: GradingOptions) -> None:
    """An `--only` that matches nothing is a typo, and grading nothing must not pass as 0 / 0."""
    ids = [spec.id for spec in assignment.checks]
    for pattern in options.only:
        if not any(fnmatch.fnmatchcase(i, pattern) for i in ids):
            raise UsageError(
                f"--only {pattern!r} matches no check of {assignment.name}; check ids "
                f"look like {ids[0]!r} (every id is in the assignment file)"
            )
    if not any(options.selects(i) for i in ids):
        raise UsageError("--only and --skip leave no check to grade")


def cmd_run(args: argparse.Namespace) -> int:
    if not args.folder.is_dir():
        raise UsageError(f"{args.folder} is not a folder of submissions")
    if args.seed == SUBMISSION_SEED:
        raise UsageError(
            "--seed submission is for `grader check` and Gradescope bundles: "
            "a class run draws its hidden cases from one seed"
        )
    if args.starter and not args.similarity:
        raise UsageError("--starter is used by the similarity report: add --similarity")
    if args.similarity:
        _similarity_settings(args)
    formats = _formats(args.format)
    assignment = load_assignment(args.assignment)
    console = Console(stderr=True)
    earlier = earlier_key(args.out)
    if args.seed is None and earlier is not None:
        args.seed = earlier.seed
        say(
            console,
            f"seed {earlier.seed} of the earlier run into {args.out} (--seed N for another)",
        )
    options = _options(args, assignment)
    submissions = discover(args.folder)
    if not submissions:
        raise UsageError(f"{args.folder} holds no submissions")
    say(
        console,
        f"grading {len(submissions)} submissions of {assignment.name}, "
        f"seed {options.seed}; to reproduce this run: {_reproduce(args, options.seed)}",
    )
    say(console, editions.used(assignment, args.assignment))
    _warn_edition(console, assignment, [s.package_name for s in submissions])
    cache = _open_cache(console, args, assignment, options, len(submissions))
    run = _grade_class(console, submissions, assignment, options, args, cache)
    _render(run, args.out, formats, args.show_hidden, keep=[args.out / "results.json"])
    Console().print(class_table(run))
    say(console, f"results: {args.out / 'results.json'}")
    if args.similarity:
        say(console, f"similarity: {_similarity_report(args)}")
    return EXIT_FAULT if _grader_faults(run) else EXIT_OK


def _open_cache(
    console: Console,
    args: argparse.Namespace,
    assignment: Assignment,
    options: GradingOptions,
    total: int,
) -> GradeCache:
    """The stored grades of earlier runs into --out, and a line on what happens to them."""
    key = RunKey(
        __version__, assignment.version, options.seed, options.data, options.only, options.skip
    )
    cache = GradeCache(args.out, key)
    changed = cache.open()
    if changed:
        say(console, f"{' and '.join(changed)} changed: regrading all {total}")
    elif args.regrade == "*":
        say(console, f"--regrade: regrading all {total}")
    elif cache.stored():
        say(
            console,
            f"unchanged submissions keep their stored grades ({cache.folder});"
            " --regrade [GLOB] grades them again",
        )
    return cache


def _grade_class(
    console: Console,
    submissions: list,
    assignment: Assignment,
    options: GradingOptions,
    args: argparse.Namespace,
    cache: GradeCache,
) -> RunResult:
    """Grade with a progress bar on a terminal, else one log line per finished submission."""
    results = args.out / "results.json"
    total = len(submissions)
    shared = {
        "scheduler": args.scheduler,
        "cache": cache,
        "regrade": lambda sub: (
            args.regrade is not None and fnmatch.fnmatchcase(sub.id, args.regrade)
        ),
    }
    if not console.is_terminal:
        done = iter(range(1, total + 1))
        return grade_all(
            submissions,
            assignment,
            options,
            jobs=args.jobs,
            results_path=results,
            on_done=lambda r: say(console, progress_line(r, next(done), total)),
            **shared,
        )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("grading", total=total)
        return grade_all(
            submissions,
            assignment,
            options,
            jobs=args.jobs,
            results_path=results,
            on_done=lambda r: progress.update(task, advance=1, description=escape(r.id)),
            **shared,
        )


def cmd_check(args: argparse.Namespace) -> int:
    if not args.path.exists():
        raise UsageError(f"{args.path} does not exist")
    if args.format is not None and args.out is None:
        raise UsageError(
            "--format chooses the report files written into --out: give --out DIR as well"
        )
    formats = _formats(args.format or DEFAULT_FORMATS)
    assignment = load_assignment(args.assignment)
    options = _options(args, assignment)
    submission = load(args.path)
    if args.seed == SUBMISSION_SEED:
        options = dataclasses.replace(options, seed=submission.seed)
    console = Console()
    advice = [a for a in [lone_notebook_advice(args.path, assignment.package_names)] if a]
    if not args.quiet:
        say(console, f"checking {args.path} with seed {options.seed}")
        say(console, editions.used(assignment, args.assignment))
    _warn_edition(Console(stderr=True), assignment, [submission.package_name])
    if not args.quiet:
        for text in advice:
            say(console, f"note: {text}", "bold yellow")
    label = f"checking {escape(str(args.path))} (seed {options.seed})"
    with console.status(label) as status:
        options = dataclasses.replace(
            options, progress=lambda _, stage: status.update(f"{label}: {escape(stage)}")
        )
        run = grade_all([submission], assignment, options)
    if args.out:
        _render(run, args.out, formats, args.show_hidden)
    result = run.submissions[0]
    print_check(
        console,
        result,
        seed=options.seed,
        reproduce=_reproduce(args, options.seed),
        show_hidden=args.show_hidden,
        quiet=args.quiet,
        selected=options.selects,
        advice=advice,
    )
    return _check_exit(run, result, failed(result))


def _warn_edition(console: Console, assignment: Assignment, packages: list[str | None]) -> None:
    """Once, before grading: the class looks written for another built-in edition."""
    warning = editions.edition_warning(assignment, packages)
    if warning:
        say(console, f"warning: {warning}", "bold yellow")


def cmd_assignments(args: argparse.Namespace) -> int:
    console = Console()
    for line in editions.listing():
        say(console, line)
    say(
        console,
        "grade with one: grader run DIR --assignment NAME (or --assignment FILE for your own copy)",
    )
    return EXIT_OK


def cmd_assignment_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(assignment_schema.published())
    return EXIT_OK


def _check_exit(run: RunResult, result: SubmissionResult, any_failed: bool) -> int:
    if _grader_faults(run):
        return EXIT_FAULT
    if result.status == "error":
        return EXIT_UNGRADABLE
    return EXIT_FAILED if any_failed else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from grader.report import rerender

    paths = rerender(args.results, args.out, _formats(args.format), show_hidden=args.show_hidden)
    out = args.out if args.out is not None else args.results.parent
    say(Console(stderr=True), f"wrote {len(paths)} files into {out}")
    return EXIT_OK


def cmd_bundle(args: argparse.Namespace) -> int:
    from grader.report.bundle import BundleOptions, build_gradescope_bundle

    options = BundleOptions(
        assignment=args.assignment,
        only=tuple(args.only),
        skip=tuple(args.skip),
        timeout_s=args.timeout,
        submission_timeout_s=args.submission_timeout,
        data=args.data,
        seed=args.seed,
    )
    try:
        path = build_gradescope_bundle(args.out, options=options)
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    say(Console(), f"wrote {path}")
    return EXIT_OK


def cmd_student_kit(args: argparse.Namespace) -> int:
    from grader.kit.build import build_kit

    path = build_kit(load_assignment(args.assignment), args.out)
    console = Console()
    say(console, f"wrote {path}")
    say(console, f"students install it with: pip install {path.name}, then run: grader-check PATH")
    return EXIT_OK


def cmd_similarity(args: argparse.Namespace) -> int:
    if not args.folder.is_dir():
        raise UsageError(f"{args.folder} is not a folder of submissions")
    index = _similarity_report(args)
    say(Console(), f"similarity report: {index}")
    return EXIT_OK


def _similarity_settings(args: argparse.Namespace) -> dict:
    """The similarity options, checked (a bad one stops `run` before any grading)."""
    from grader.similarity import GUARANTEE, NOISE, check_settings

    noise = NOISE if args.noise is None else args.noise
    settings = {
        "top": args.top,
        "noise": noise,
        "guarantee": max(GUARANTEE, noise) if args.guarantee is None else args.guarantee,
    }
    try:
        check_settings(args.starter, **settings)
    except SimilarityError as exc:
        raise UsageError(str(exc)) from None
    return settings


def _similarity_report(args: argparse.Namespace) -> Path:
    from grader.report.similarity import render_similarity
    from grader.similarity import compare_folder

    try:
        report = compare_folder(
            args.folder,
            args.starter,
            course_modules=not args.compare_provided,
            **_similarity_settings(args),
        )
    except SimilarityError as exc:
        raise UsageError(str(exc)) from None
    return render_similarity(report, args.out)


def cmd_answers_export(args: argparse.Namespace) -> int:
    from grader.manual import export_answers, read_run

    try:
        text = export_answers(read_run(args.results))
    except ManualGradingError as exc:
        raise UsageError(str(exc)) from None
    write_text_atomic(args.csv, text)
    say(Console(), f"wrote {args.csv}")
    return EXIT_OK


def cmd_answers_import(args: argparse.Namespace) -> int:
    from grader.manual import import_scores

    formats = _formats(args.render) if args.render else ()
    try:
        run, merged, ungraded = import_scores(args.results, args.csv)
    except ManualGradingError as exc:
        raise UsageError(str(exc)) from None
    say(
        Console(),
        f"merged {merged} grades into {args.results}; {ungraded} rows without points left ungraded",
    )
    if formats:
        _render(run, args.results.parent, formats, args.show_hidden, keep=[args.results])
    return EXIT_OK


def _formats(value: str) -> tuple[str, ...]:
    from grader.report import FORMATS

    formats = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UsageError(
            f"unknown format {', '.join(unknown) or repr(value)}; choose from {', '.join(FORMATS)}"
        )
    return formats


def _reproduce(args: argparse.Namespace, seed: int) -> str:
    """The command line of this run with its seed fixed, so the same hidden cases come back."""
    words, skip = [], False
    for word in args.argv:
        if skip:
            skip = False
        elif word == "--seed":
            skip = True
        elif not word.startswith("--seed="):
            words.append(word)
    return shlex.join(["grader", *words, "--seed", str(seed)])


def _render(
    run: RunResult,
    out: Path,
    formats: tuple[str, ...],
    show_hidden: bool,
    keep: list[Path] | tuple[Path, ...] = (),
) -> None:
    from grader.report import render

    render(run, out, formats, show_hidden=show_hidden, keep=keep)


def _grader_faults(run: RunResult) -> bool:
    return any(
        s.details.get("grader_fault") or any(c.details.get("grader_fault") for c in s.checks)
        for s in run.submissions
    )


if __name__ == "__main__":
    sys.exit(main())
