"""The assignment file: checks, points, tolerances, visibility and cases, loaded into plain objects.

Instructors change grading by editing a TOML file, never Python; this module is the one
place that reads it, and it rejects a malformed file with a message naming the entry. The
`[defaults]` table is declared by `Defaults`; each check's own options are declared by its kind
(grader.checks) and checked against that declaration before grading starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from grader.errors import AssignmentError
from grader.options import Options, option, parse, suggestion

BUILTIN = "convnets"  # the default: IE590's edition; `builtin_assignments()` lists them all
# The keys every check has; all others are the options of its kind.
COMMON_KEYS = ("id", "name", "kind", "points", "visibility", "family", "cases")
# The tables and keys an assignment file may have at its top level.
TOP_KEYS = (
    "name", "description", "package_names", "defaults", "parts", "network", "cases", "checks"
)  # fmt: skip
# The network's constructor defaults the model and training checks read.
NETWORK_DEFAULTS_READ = ("input_dim", "num_classes", "weight_scale", "dtype")


class Network(Options):
    """The [network] table: the class students complete, its file, parameters and defaults.

    Editions of the assignment differ here (IE590's FourLayerConvNet, cs231n's
    ThreeLayerConvNet); the model and training checks read all of it from this table, and
    the course's solution must define a class of the same name.
    """

    class_name: str = option("FourLayerConvNet", "the network class students complete")
    file: str = option("classifiers/cnn.py", "the file of the package that defines it")
    params: list[str] = option(
        ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"],
        "its parameter names in constructor order: weights start with W, biases with b",
    )
    defaults: dict[str, Any] = option(
        {
            "input_dim": [3, 32, 32],
            "num_filters": 32,
            "filter_size": 7,
            "hidden_dim": 100,
            "num_classes": 10,
            "weight_scale": 1e-3,
            "reg": 0.0,
            "dtype": "float32",
        },
        "its constructor's defaults; a check's configs override them",
    )

    def __post_init__(self) -> None:
        path = PurePosixPath(self.file)
        if path.is_absolute() or ".." in path.parts or path.suffix != ".py":
            raise AssignmentError(
                f"[network] file must be a .py file inside the package, not {self.file!r}"
            )
        if not self.params:
            raise AssignmentError("[network] params must name the network's parameters")
        missing = [key for key in NETWORK_DEFAULTS_READ if key not in self.defaults]
        if missing:
            raise AssignmentError(
                f"[network] defaults lack {', '.join(missing)}: the checks "
                "draw inputs, labels and initial weights from them"
            )

    @property
    def module(self) -> str:
        """The file as a module name inside the package: `classifiers.cnn`."""
        return ".".join(PurePosixPath(self.file).with_suffix("").parts)

    @property
    def weights(self) -> tuple[str, ...]:
        """The regularised parameters, drawn at weight_scale; the others start at zero."""
        return tuple(name for name in self.params if name.startswith("W"))

    def config(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The constructor's arguments of a configuration: the defaults, then `overrides`."""
        return {**self.defaults, **overrides}


Requirement = Literal["required", "optional"]


class Parts(Options):
    """The [parts] table: which files of a hand-in count in every submission's maximum.

    A required part that is missing scores 0 on its checks ("not handed in: classifiers/cnn.py")
    and stays in the maximum, so every submission of a class is graded out of the same total. An
    optional part's checks are graded when the part is handed in and left out of the maximum when
    it is not.
    """

    layers: Requirement = option("required", "layers.py: the layer functions")
    layer_utils: Requirement = option("required", "layer_utils.py: the sandwich layers")
    network: Requirement = option("required", "the [network] table's file (the network class)")
    fast_layers: Requirement = option(
        "optional", "fast_layers.py: the course provides it; checked when the student's is there"
    )
    notebook: Requirement = option("optional", "the executed notebook and its inline answers")

    def required(self, part: str) -> bool:
        return getattr(self, part) == "required"


class Defaults(Options):
    """The [defaults] table: tolerances and numeric gradients shared by the layer checks."""

    forward_tolerance: float = option(
        1e-6, "largest rel_error of a forward's output (float64 cases)"
    )
    backward_tolerance: float = option(1e-6, "largest rel_error of a gradient (float64 cases)")
    float32_tolerance: float = option(1e-4, "largest normwise error of any float32 case")
    numeric_tolerance: float = option(
        1e-5,
        "largest rel_error between a backward and its own forward's numeric gradient (feedback"
        " only)",
    )
    numeric_h: float = option(1e-5, "the step of the grader's central differences")
    numeric_max_coords: int = option(
        60, "coordinates per input checked numerically (all when fewer)"
    )
    counterexample_seconds: float = option(
        3.0,
        "time to search, per failing function, for the smallest fresh input that still fails it"
        " (0: no counterexample)",
    )

    def tolerance(self, kind: str, float32: bool) -> float:
        """The tolerance of a forward or backward check on a case."""
        if float32:
            return self.float32_tolerance
        return self.forward_tolerance if kind == "forward" else self.backward_tolerance


@dataclass(frozen=True)
class CheckSpec:
    id: str
    name: str
    kind: str
    points: float
    visibility: str = "public"
    family: str | None = None
    cases: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)  # as written; grader.checks declares them

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def target(self) -> str:
        return self.id.split(".")[1]


@dataclass(frozen=True)
class Assignment:
    name: str
    source: str  # the file's path, or builtin:NAME
    package_names: tuple[str, ...]
    defaults: Defaults
    cases: dict[str, dict[str, dict[str, Any]]]
    checks: tuple[CheckSpec, ...]
    network: Network = field(default_factory=Network)
    description: str = ""
    parts: Parts = field(default_factory=Parts)
    version: str = (
        ""  # the start of the file's sha256: a student kit names the one it was built from
    )

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)


def builtin_assignments() -> dict[str, Path]:
    """Name -> file of every assignment shipped with the grader (`convnets`, `cs231n`)."""
    folder = resources.files("grader.assignments")
    return {
        entry.name.removesuffix(".toml"): Path(str(entry))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    }


def assignment_file(choice: str | Path | None = None) -> Path:
    """The file `--assignment` names: a built-in assignment's name (`cs231n`) or a path; the
    default assignment when None. A name is looked up among the built-in ones first."""
    builtins = builtin_assignments()
    return builtins.get(BUILTIN if choice is None else str(choice), Path(str(choice)))


def load_assignment(choice: str | Path | None = None) -> Assignment:
    """Load the built-in assignment named `choice`, or the file at `choice`; the default
    (IE590's ConvolutionalNetworks) when `choice` is None."""
    path = assignment_file(choice)
    builtin = choice is None or str(choice) in builtin_assignments()
    source = f"builtin:{path.stem}" if builtin else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AssignmentError(
            f"cannot read assignment file {path}: {exc.strerror} (built-in "
            f"assignments: {', '.join(builtin_assignments())})"
        ) from None
    return assignment_from_text(text, source)


def assignment_from_text(text: str, source: str) -> Assignment:
    """The assignment a file's text describes; `source` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{source} is not valid TOML: {exc}") from None
    return dataclasses.replace(
        parse_assignment(data, source), version=hashlib.sha256(text.encode()).hexdigest()[:12]
    )


def assignment_text(assignment: Assignment) -> str:
    """The text of the file `assignment` was loaded from."""
    source = assignment.source
    builtin = source.startswith("builtin:")
    return assignment_file(source.removeprefix("builtin:") if builtin else source).read_text(
        encoding="utf-8"
    )


def parse_assignment(data: dict[str, Any], source: str) -> Assignment:
    """An assignment from its file's data (as tomllib reads it); `source` names it in errors."""
    for key in data:
        if key not in TOP_KEYS:
            raise AssignmentError(
                f"{source}: unknown top-level key {key!r}{suggestion(key, list(TOP_KEYS))}"
            )
    cases = data.get("cases", {})
    checks = tuple(
        _parse_check(raw, i, cases, source) for i, raw in enumerate(data.get("checks", []))
    )
    if not checks:
        raise AssignmentError(f"{source}: no [[checks]] defined")
    seen: set[str] = set()
    for check in checks:
        if check.id in seen:
            raise AssignmentError(f"{source}: check id {check.id!r} is defined twice")
        seen.add(check.id)
    return Assignment(
        name=str(data.get("name", "assignment")),
        description=str(data.get("description", "")),
        source=source,
        package_names=tuple(data.get("package_names", ("ie590", "cs231n"))),
        defaults=parse(Defaults, data.get("defaults", {}), f"{source}: [defaults]"),
        cases=cases,
        checks=checks,
        network=parse(Network, data.get("network", {}), f"{source}: [network]"),
        parts=parse(Parts, data.get("parts", {}), f"{source}: [parts]"),
    )


def _parse_check(raw: Any, index: int, cases: dict, source: str) -> CheckSpec:
    where = f"{source}: checks[{index}]"
    if not isinstance(raw, dict):
        raise AssignmentError(f"{where} must be a table ([[checks]])")
    try:
        check_id, kind = str(raw["id"]), str(raw["kind"])
        points = _number(raw["points"], f"{where}: points")
    except KeyError as exc:
        raise AssignmentError(f"{where} lacks the key {exc.args[0]!r}") from None
    if "." not in check_id or check_id.split(".")[0] != kind:
        raise AssignmentError(f"{where}: id {check_id!r} must read '{kind}.<target>[.<case>]'")
    visibility = raw.get("visibility", "public")
    if visibility not in ("public", "hidden"):
        raise AssignmentError(f"{where} ({check_id}): visibility must be 'public' or 'hidden'")
    family = raw.get("family")
    for case in raw.get("cases", []):
        if family not in cases or case not in cases[family]:
            raise AssignmentError(
                f"{where} ({check_id}): case {family}.{case} is not defined under [cases]"
            )
    return CheckSpec(
        id=check_id,
        name=raw.get("name", check_id),
        kind=kind,
        points=points,
        visibility=visibility,
        family=family,
        cases=tuple(raw.get("cases", ())),
        options={k: v for k, v in raw.items() if k not in COMMON_KEYS},
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise AssignmentError(f"{where} must be a number of at least 0, not {value!r}")
    return float(value)
