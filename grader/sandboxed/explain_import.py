"""Runs inside the sandbox: why a module does not import, as plain data for the grader.

Copied into a submission's workspace under a private name; it imports nothing of the grader
(see grader/sandboxed/__init__.py).
Python reports a syntax error's file, line and caret only in the exception itself (its
traceback points into importlib), so the grader asks this helper to import the module once
more and hand back those facts instead of a one-line message.
"""

import importlib
import os
import traceback

TEXT_LIMIT = 500


def explain_import(module):
    """None when `module` imports or is missing; else {message, file, line, offset, text}.

    `file` is relative to the workspace, `offset` the 1-based column of a syntax error.
    """
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return None  # not handed in: nothing to locate
        return _located(exc)
    except SyntaxError as exc:
        return _problem(exc, exc.msg, exc.filename, exc.lineno, exc.offset, exc.text)
    except BaseException as exc:  # noqa: BLE001 - whatever the module raised while importing
        return _located(exc)
    return None


def _located(exc):
    """The failure at the last line of the workspace's own files that the traceback passes."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _ours(f.filename)]
    last = frames[-1] if frames else None
    if last is None:
        return _problem(exc, str(exc), None, None, None, None)
    return _problem(exc, str(exc), last.filename, last.lineno, None, last.line)


def _ours(filename):
    """A file of the workspace (the current folder), not of Python or an installed package."""
    root = os.getcwd() + os.sep
    return (
        isinstance(filename, str)
        and os.path.isfile(filename)
        and os.path.abspath(filename).startswith(root)
    )


def _problem(exc, message, filename, line, offset, text):
    name = type(exc).__name__
    return {
        "message": (f"{name}: {message}" if message else name)[:TEXT_LIMIT],
        "file": os.path.relpath(filename) if _ours(filename) else None,
        "line": line if type(line) is int else None,
        "offset": offset if type(offset) is int else None,
        "text": text.rstrip("\n")[:TEXT_LIMIT] if isinstance(text, str) else None,
    }
