"""Why a student's module does not import: its file, line and caret, found inside the sandbox.

A module that does not import stops every check of its functions. Reported check by check,
one syntax error became dozens of identical tracebacks pointing into importlib. Here it is
described once, as Python shows it (file, line, the line itself, a caret), in plain data the
results keep (`details.import_errors`, and `details.import_error` of each check it stopped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from grader import sandboxed
from grader.checks.base import Unavailable
from grader.sandbox import Sandbox
from grader.sandbox.steps import Program, call, ref, ret

HELPER_MODULE = "_grader_explain_import"
HELPER_SOURCE = sandboxed.DIRECTORY / "explain_import.py"
MAX_TEXT = 500


@dataclass(frozen=True)
class ImportProblem:
    """One module that does not import: the failure and where in the student's file it is."""

    module: str
    message: str
    file: str | None = None
    line: int | None = None
    offset: int | None = None  # 1-based column of a syntax error
    text: str | None = None

    def where(self) -> str:
        """`ie590/layers.py, line 31`, or as much of it as is known."""
        if self.file is None:
            return self.module
        return f"{self.file}, line {self.line}" if self.line is not None else self.file

    def excerpt(self) -> str:
        """The failure as Python prints it: file and line, the line, a caret, the message."""
        lines = []
        if self.file is not None:
            lines.append(
                f'  File "{self.file}"' + (f", line {self.line}" if self.line is not None else "")
            )
        if self.text and self.text.strip():
            stripped = self.text.lstrip()
            lines.append("    " + stripped.rstrip())
            if self.offset is not None and self.offset >= 1:
                column = max(0, self.offset - 1 - (len(self.text) - len(stripped)))
                lines.append("    " + " " * min(column, len(stripped)) + "^")
        lines.append(self.message)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ImportProblem | None:
        """An ImportProblem from plain data (a reply, a results file), or None if malformed."""
        if not isinstance(data, Mapping) or not isinstance(data.get("message"), str):
            return None

        def text(key: str) -> str | None:
            value = data.get(key)
            return value[:MAX_TEXT] if isinstance(value, str) else None

        def number(key: str) -> int | None:
            value = data.get(key)
            return value if type(value) is int else None

        return cls(
            module=text("module") or "",
            message=data["message"][:MAX_TEXT],
            file=text("file"),
            line=number("line"),
            offset=number("offset"),
            text=text("text"),
        )


def private_modules() -> dict[str, str]:
    """The helper's source under its private module name, to copy into a workspace."""
    return {HELPER_MODULE: HELPER_SOURCE.read_text(encoding="utf-8")}


def explained(
    sandbox: Sandbox, module: str, found: set[str] | Unavailable
) -> set[str] | Unavailable:
    """`found`, what inspecting `module` gave, with file, line and caret when importing raised."""
    if not isinstance(found, Unavailable) or found.status != "error":
        return found
    problem = explain(sandbox, module)
    if problem is None:
        return found
    where = problem.file or f"{module.rsplit('.', 1)[-1]}.py"
    line = f" (line {problem.line})" if problem.line is not None else ""
    return Unavailable(
        f"{where} does not import: {problem.message}{line}",
        "error",
        problem.excerpt(),
        problem.to_json(),
    )


def distinct(found: Iterable[set[str] | Unavailable]) -> list[dict[str, Any]]:
    """The import problems among inspected modules, each place once: a broken layers.py also stops
    layer_utils.py, which imports it, with the same file, line and message."""
    problems: dict[tuple, dict[str, Any]] = {}
    for item in found:
        if isinstance(item, Unavailable) and item.import_error:
            where = tuple(item.import_error.get(k) for k in ("file", "line", "offset", "message"))
            problems.setdefault(where, item.import_error)
    return list(problems.values())


def explain(sandbox: Sandbox, module: str) -> ImportProblem | None:
    """Ask the sandbox why `module` does not import; None when the helper cannot tell."""
    reply = sandbox.run(
        Program(
            [
                call(f"{HELPER_MODULE}:explain_import", module, as_="problem"),
                ret(problem=ref("problem")),
            ]
        )
    )
    found = reply.values.get("problem") if reply.ok else None
    return ImportProblem.from_json({**found, "module": module}) if isinstance(found, dict) else None
