"""The assignment's editions: the built-in assignment files, and which one a class was written for.

Courses teach this assignment in editions that differ in layers and network: IE590's (package
`ie590`, average pooling, a FourLayerConvNet) and Stanford cs231n's (package `cs231n`, a
ThreeLayerConvNet). Each is a built-in assignment file; the instructor picks one with
`--assignment NAME`. Graded under the wrong edition a correct class loses the parts it never
had, so a class whose packages all carry another built-in edition's package name is warned
about before grading starts.
"""

from __future__ import annotations

from collections.abc import Iterable

from grader.assignment import Assignment, assignment_file, builtin_assignments, load_assignment


def listing() -> list[str]:
    """One line per built-in assignment: its name for --assignment, what it is, and its file."""
    lines = []
    for name in builtin_assignments():
        assignment = load_assignment(name)
        lines.append(
            f"{name}: {assignment.name} - {assignment.description or 'no description'} "
            f"({len(assignment.checks)} checks, {assignment.max_score:g} points; "
            f"{assignment_file(name)})"
        )
    return lines


def used(assignment: Assignment, choice: str | None) -> str:
    """The line a run starts with: the assignment's name and the file it was read from."""
    return (
        f"assignment: {assignment.name} ({assignment.source}: {assignment_file(choice)}),"
        f" version {assignment.version}"
    )


def edition_warning(assignment: Assignment, packages: Iterable[str | None]) -> str | None:
    """A warning when every package of the class is named for another built-in edition.

    Submissions without a package folder (a loose layers.py) say nothing either way.
    """
    names = {name for name in packages if name}
    if len(names) != 1 or names == {assignment.package_names[0]}:
        return None
    (package,) = names
    for name in builtin_assignments():
        edition = load_assignment(name)
        if edition.package_names[:1] == (package,):
            return (
                f"every submission's package is named {package}, but {assignment.name} "
                f"({assignment.source}) is the edition of package "
                f"{assignment.package_names[0]}: parts that edition has and {package}'s does "
                f"not will count against them. To grade {edition.name}, pass "
                f"--assignment {name}"
            )
    return None
