"""Which hand-ins are copies: the most similar pairs of submissions, file by file.

Many public solutions of this assignment circulate, so an instructor needs to see which
hand-ins share code beyond what the course gives out. The fingerprints are copydetect's
(winnowing over k-grams of pygments tokens, as MOSS does); its tokenizer drops comments and
whitespace and replaces every name by a placeholder, so renaming, reflowing and rewording
comments do not hide a copy. Code the course hands out (starter files the instructor passes,
and by default the course's provided modules every student has a copy of) is boilerplate:
its fingerprints never count as a match. Submissions are found and unpacked by
`grader.submission`, and nothing of theirs is run.
"""

from __future__ import annotations

import io
import itertools
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
from copydetect import CodeFingerprint, compare_files, defaults
from copydetect.utils import find_fingerprint_overlap, get_copied_slices

from grader.errors import NotebookError, SimilarityError
from grader.notebook.cells import code_cells, load_notebook
from grader.submission import Submission, discover, extract_zip
from grader.oracle import COURSE_DIR
from grader.workspace import PROVIDED, PROVIDED_IF_MISSING, skipped

NOTEBOOK = "notebook code cells"
FILES = ("layers.py", "classifiers/cnn.py", "layer_utils.py", NOTEBOOK)
MAX_FILE_BYTES = 2 * 2**20
NOISE = defaults.NOISE_THRESHOLD
GUARANTEE = defaults.GUARANTEE_THRESHOLD


@dataclass(frozen=True)
class Region:
    """A stretch of one file (character offsets, 1-based lines) that matches the other file.

    Regions of the two files that match each other share the same `link` number.
    """

    link: int
    start: int
    end: int
    first_line: int
    last_line: int


@dataclass
class Pair:
    """Two submissions' copies of one file and how much of each the other one matches."""

    file: str
    a: str
    b: str
    similarity_a: float  # share of a's fingerprinted code found in b
    similarity_b: float
    tokens: int  # matched tokens, after names were replaced and comments dropped
    regions_a: list[Region] = field(default_factory=list)
    regions_b: list[Region] = field(default_factory=list)

    @property
    def similarity(self) -> float:
        """What ranks the pair: the larger share, so a file copied into a longer one stands out."""
        return max(self.similarity_a, self.similarity_b)


@dataclass
class SimilarityReport:
    """The most similar pairs of each file, best first, with what was left out and why."""

    pairs: dict[str, list[Pair]]
    texts: dict[str, dict[str, str]]  # file -> submission id -> its code, as compared
    skipped: dict[str, str]  # submission id -> why none (or not all) of its files were compared
    starter_only: dict[str, list[str]]  # file -> ids whose copy holds nothing beyond starter code
    starter: list[str]  # the sources of the code counted as boilerplate
    notes: list[str]
    noise: int
    guarantee: int

    def to_json(self) -> dict[str, Any]:
        return {
            "noise": self.noise,
            "guarantee": self.guarantee,
            "starter": self.starter,
            "notes": self.notes,
            "skipped": self.skipped,
            "starter_only": self.starter_only,
            "compared": {name: sorted(texts) for name, texts in self.texts.items()},
            "pairs": {
                name: [{**asdict(p), "similarity": p.similarity} for p in pairs]
                for name, pairs in self.pairs.items()
            },
        }


def compare_folder(
    folder: Path,
    starter: Iterable[Path] = (),
    *,
    course_modules: bool = True,
    top: int = 20,
    noise: int = NOISE,
    guarantee: int = GUARANTEE,
) -> SimilarityReport:
    """Compare every submission under `folder` with every other, file by file."""
    starter = list(starter)
    check_settings(starter, top=top, noise=noise, guarantee=guarantee)
    sources, boilerplate_code = starter_code(starter, course_modules)
    texts, skipped = class_files(discover(folder))
    boilerplate = _boilerplate(boilerplate_code, noise)
    pairs, starter_only = {}, {}
    for name in FILES:
        prints = {
            sid: _fingerprint(f"{sid}/{name}", text, noise, guarantee, boilerplate)
            for sid, text in texts[name].items()
        }
        pairs[name] = _top_pairs(name, prints, top)
        starter_only[name] = sorted(sid for sid, p in prints.items() if not p.hashes)
    return SimilarityReport(
        pairs=pairs,
        texts=texts,
        skipped=skipped,
        starter_only=starter_only,
        starter=sources,
        notes=_notes(texts, boilerplate_code),
        noise=noise,
        guarantee=guarantee,
    )


def check_settings(starter: Iterable[Path], *, top: int, noise: int, guarantee: int) -> None:
    """Refuse settings that cannot work before any work is done (a class run takes long)."""
    if noise < 1 or guarantee < noise:
        raise SimilarityError(
            f"the noise threshold ({noise}) must be at least 1 and the guarantee "
            f"threshold ({guarantee}) at least the noise threshold"
        )
    if top < 1:
        raise SimilarityError(f"the number of pairs listed per file must be at least 1, not {top}")
    missing = [str(p) for p in starter if not Path(p).exists()]
    if missing:
        raise SimilarityError(f"starter {', '.join(missing)} does not exist")


def class_files(
    submissions: Iterable[Submission],
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The compared files of every submission, by file then id; and why some had none.

    Two entries with one id (`alice.zip` beside `alice/`) are told apart by their file names.
    """
    texts: dict[str, dict[str, str]] = {name: {} for name in FILES}
    skipped: dict[str, str] = {}
    seen: set[str] = set()
    for sub in submissions:
        try:
            found, problem = student_files(sub)
        finally:
            sub.cleanup()
        key = sub.id if sub.id not in seen else sub.path.name
        seen.add(key)
        for name, text in found.items():
            texts[name][key] = text
        if problem or not found:
            skipped[key] = problem or "none of the compared files is in the submission"
    return texts, skipped


def student_files(sub: Submission) -> tuple[dict[str, str], str | None]:
    """The submission's compared files as text, and a problem that kept some of them out."""
    if sub.problem:
        return {}, sub.problem
    found: dict[str, str] = {}
    problems = []
    if sub.package_dir is not None:
        package = sub.package_dir
        candidates = {
            "layers.py": [package / "layers.py"],
            "layer_utils.py": [package / "layer_utils.py"],
            "classifiers/cnn.py": [package / "classifiers" / "cnn.py", package / "cnn.py"],
        }
        for name, paths in candidates.items():
            path = next((p for p in paths if p.is_file() and not p.is_symlink()), None)
            if path is not None and path.stat().st_size > MAX_FILE_BYTES:
                problems.append(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MiB")
            elif path is not None:
                found[name] = path.read_text(encoding="utf-8", errors="replace")
    if sub.notebook is not None:
        try:
            found[NOTEBOOK] = notebook_code(sub.notebook)
        except NotebookError as exc:
            problems.append(str(exc))
    return found, "; ".join(problems) or None


def notebook_code(path: Path) -> str:
    """The notebook's code cells as one file, each headed by a comment naming the cell."""
    cells = code_cells(load_notebook(path))
    return "".join(f"# cell {index}\n{source}\n\n" for index, source in cells)


def starter_code(
    paths: list[Path], course_modules: bool
) -> tuple[list[str], list[tuple[str, str]]]:
    """The sources counted as boilerplate, and their code as (kind, text) pairs.

    A starter path is a file (`.py` or notebook), a folder searched for both, or a zip of
    either; the kind is "notebook", "python" or "course" (a provided module), so the report
    can say which files of the class had no starter code to exclude.
    """
    sources, code = [], []
    for path in paths:
        if not path.exists():
            raise SimilarityError(f"starter {path} does not exist")
        found = list(_starter_files(path))
        if not found:
            raise SimilarityError(f"starter {path} holds no .py file or notebook")
        sources.append(str(path))
        code += found
    if course_modules:
        files = [COURSE_DIR / f"{m}.py" for m in (*PROVIDED, *PROVIDED_IF_MISSING)]
        files = [f for f in files if f.is_file()]
        sources.append("the course's provided modules: " + ", ".join(f.name for f in files))
        code += [("course", f.read_text(encoding="utf-8")) for f in files]
    return sources, code


def _starter_files(path: Path) -> Iterator[tuple[str, str]]:
    if path.is_file() and path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="grader-starter-") as tmp:
            try:
                extract_zip(path, Path(tmp))
            except Exception as exc:  # a broken or unsafe archive: say which and why
                raise SimilarityError(f"starter {path} cannot be unpacked: {exc}") from None
            yield from _starter_files(Path(tmp))
        return
    files = (
        [path]
        if path.is_file()
        else sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not p.is_symlink() and not _ignored(p, path)
        )
    )
    for file in files:
        if file.suffix.lower() == ".py":
            yield "python", file.read_text(encoding="utf-8", errors="replace")
        elif file.suffix.lower() == ".ipynb":
            try:
                yield "notebook", notebook_code(file)
            except NotebookError as exc:
                raise SimilarityError(f"starter notebook {file}: {exc}") from None


def _ignored(path: Path, root: Path) -> bool:
    return any(skipped(part) for part in path.relative_to(root).parts)


def _notes(texts: dict[str, dict[str, str]], boilerplate: list[tuple[str, str]]) -> list[str]:
    kinds = {kind for kind, _ in boilerplate}
    notes = []
    if texts[NOTEBOOK] and "notebook" not in kinds:
        notes.append(
            "No starter notebook was given (--starter): the cells the course provides are "
            "counted as matches, so every pair of notebooks looks alike."
        )
    if any(texts[name] for name in FILES if name != NOTEBOOK) and "python" not in kinds:
        notes.append(
            "No starter code was excluded: the skeleton the course hands out (signatures, "
            "docstrings) is counted as matches, evenly across all pairs."
        )
    return notes


def _fingerprint(
    label: str, text: str, noise: int, guarantee: int, boilerplate: np.ndarray | None = None
) -> CodeFingerprint:
    return CodeFingerprint(
        label,
        noise,
        guarantee - noise + 1,
        boilerplate,
        filter=True,
        language="python",
        fp=io.StringIO(text),
    )


def _boilerplate(code: list[tuple[str, str]], noise: int) -> np.ndarray:
    """Every k-gram of the starter code (not only the winnowed ones), as copydetect does."""
    hashes = [h for _, text in code for h in _fingerprint("starter", text, noise, noise).hashes]
    return np.unique(np.array(hashes, dtype=np.int64))


def _top_pairs(name: str, prints: dict[str, CodeFingerprint], top: int) -> list[Pair]:
    """The `top` most similar pairs, scored first and given their matched regions only then."""
    scored = []
    for a, b in itertools.combinations(sorted(prints), 2):
        tokens, (sim_a, sim_b), _ = compare_files(prints[a], prints[b])
        if tokens > 0:
            shares = min(float(sim_a), 1.0), min(float(sim_b), 1.0)
            scored.append(Pair(name, a, b, *shares, int(tokens)))
    scored.sort(key=lambda p: (-p.similarity, -p.tokens, p.a, p.b))
    for pair in scored[:top]:
        pair.regions_a, pair.regions_b = matched_regions(prints[pair.a], prints[pair.b])
    return scored[:top]


def matched_regions(a: CodeFingerprint, b: CodeFingerprint) -> tuple[list[Region], list[Region]]:
    """The regions of `a` and `b` that match, each numbered by the group of regions it matches.

    copydetect gives each file's matched stretches on their own; a fingerprint the two files
    share ties the stretch of `a` holding it to the stretch of `b` holding it, and stretches
    tied together, directly or through others, get one link number.
    """
    _, _, (raw_a, raw_b) = compare_files(a, b)
    idx_a, idx_b = find_fingerprint_overlap(a.hashes, b.hashes, a.hash_idx, b.hash_idx)
    starts_a, starts_b = get_copied_slices(idx_a, a.k)[0], get_copied_slices(idx_b, b.k)[0]
    links = _Links()
    for shared in a.hashes & b.hashes:
        ends = [("a", int(np.searchsorted(starts_a, i, "right")) - 1) for i in a.hash_idx[shared]]
        ends += [("b", int(np.searchsorted(starts_b, i, "right")) - 1) for i in b.hash_idx[shared]]
        for end in ends[1:]:
            links.join(ends[0], end)
    numbers: dict[tuple[str, int], int] = {}
    for index in range(len(starts_a)):
        numbers.setdefault(links.root(("a", index)), len(numbers) + 1)
    for index in range(len(starts_b)):
        numbers.setdefault(links.root(("b", index)), len(numbers) + 1)
    return (
        _regions("a", raw_a, a.raw_code, links, numbers),
        _regions("b", raw_b, b.raw_code, links, numbers),
    )


def _regions(
    side: str, slices: np.ndarray, text: str, links: "_Links", numbers: dict[tuple[str, int], int]
) -> list[Region]:
    """Regions widened to whole lines (copydetect's offsets can fall inside a name), never
    overlapping the region before them."""
    regions: list[Region] = []
    for index, (start, end) in enumerate(zip(slices[0], slices[1])):
        start = text.rfind("\n", 0, int(start)) + 1
        end = text.find("\n", max(start, int(end) - 1))
        end = len(text) if end < 0 else end
        start = max(start, regions[-1].end + 1 if regions else 0)
        if start >= end:
            continue
        regions.append(
            Region(
                numbers[links.root((side, index))],
                start,
                end,
                text.count("\n", 0, start) + 1,
                text.count("\n", 0, end - 1) + 1,
            )
        )
    return regions


class _Links:
    """Union-find over (side, region index): which regions match each other."""

    def __init__(self) -> None:
        self.parent: dict[tuple[str, int], tuple[str, int]] = {}

    def root(self, node: tuple[str, int]) -> tuple[str, int]:
        while self.parent.get(node, node) != node:
            node = self.parent[node]
        return node

    def join(self, x: tuple[str, int], y: tuple[str, int]) -> None:
        rx, ry = self.root(x), self.root(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)
