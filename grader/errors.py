"""Every error the grader raises on purpose, under one base class, `GraderError`.

Each says who raises it and what becomes of it. Problems with the instructor's input
(assignment file, `--data`, command line, sandbox setup) stop the run with exit code 2;
problems with a submission become its grade's message; grader bugs become an "error" check
that says so. Each class also keeps the built-in base it always had, so `except ValueError`
around older call sites still holds.
"""

from __future__ import annotations


class GraderError(Exception):
    """The base of every error the grader raises on purpose."""


class UsageError(GraderError, ValueError):
    """A command-line value that cannot be used (the CLI exits with code 2)."""


class AssignmentError(GraderError, ValueError):
    """The assignment file cannot be used; the message says which entry and why (exit code 2)."""


class DataError(GraderError, ValueError):
    """The --data value cannot be used; the message says why and what is accepted (exit code 2)."""


class SandboxSetupError(GraderError, RuntimeError):
    """The sandbox cannot be started at all (a grader/installation fault, not the student's)."""


class ProgramError(GraderError, ValueError):
    """The grader built a malformed sandbox program (a grader fault, never the student's)."""


class WireError(GraderError):
    """The reply a sandboxed call wrote is missing, oversize, a symlink, or malformed.

    The sandbox reports it as the call's "protocol" error; it never leaves grader.sandbox.
    """


class MissingReply(WireError):
    """The child ended without writing reply.json (e.g. it called os._exit)."""


class ResultsFileError(GraderError, ValueError):
    """A file that is not a results.json this grader can read: missing, not JSON, another schema."""


class ManualGradingError(GraderError, ValueError):
    """The results or the scores file of manual grading cannot be used; the message says where."""


class SimilarityError(GraderError, ValueError):
    """A similarity setting or a starter path that cannot be used."""


class BundleError(GraderError, ValueError):
    """A Gradescope bundle option that cannot be used; the message says which and why."""


class UnsafeArchive(GraderError, ValueError):
    """A zip that would write outside its folder, hold links, or unpack to too much."""


class NotebookError(GraderError, ValueError):
    """The file is not a notebook the grader can run (the submission's error message)."""


class CaptureFileError(GraderError, ValueError):
    """A kernel capture's file is missing, not a regular file, too large or not parseable."""
