"""Similarity across submissions: disguised copies rank first, course code never counts."""

from __future__ import annotations

import json
import shutil
import types
import zipfile

import html5lib
import nbformat
import numpy as np
import pytest

from grader.cli import main
from grader.report.similarity import render_similarity
from grader.similarity import NOTEBOOK, compare_folder
from grader.oracle import COURSE_DIR
from reference import layers as reference
from tests.similarity_class import ALICE, BOB, CAROL, SOLUTIONS, layers_source, write_class


@pytest.fixture
def course(tmp_path):
    """The class, with alice handed in as a single file and bob as a zip of his folder."""
    folder, starter = tmp_path / "class", tmp_path / "starter_layers.py"
    write_class(folder, starter)
    shutil.move(folder / "alice" / "ie590" / "layers.py", folder / "alice.py")
    shutil.rmtree(folder / "alice")
    with zipfile.ZipFile(folder / "bob.zip", "w") as zf:
        zf.write(folder / "bob" / "ie590" / "layers.py", "bob/ie590/layers.py")
    shutil.rmtree(folder / "bob")
    return folder, starter


@pytest.mark.parametrize("student", sorted(SOLUTIONS))
def test_the_class_solutions_are_correct_layers(student):
    """Trusted test code, run in-process: the class is made of working, different solutions."""
    module = types.ModuleType(student)
    exec(layers_source(SOLUTIONS[student]), module.__dict__)
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    conv, pool = {"stride": 2, "pad": 1}, {"pool_height": 2, "pool_width": 3, "stride": 1}
    out, cache = module.conv_forward_naive(x, w, b, conv)
    expected, ref_cache = reference.conv_forward_naive(x, w, b, conv)
    dout = rng.standard_normal(expected.shape)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    wanted = reference.conv_backward_naive(dout, ref_cache)
    for got, want in zip(module.conv_backward_naive(dout, cache), wanted):
        np.testing.assert_allclose(got, want, atol=1e-12)
    out, cache = module.max_pool_forward_naive(x, pool)
    expected, ref_cache = reference.max_pool_forward_naive(x, pool)
    np.testing.assert_allclose(out, expected)
    dout = rng.standard_normal(expected.shape)
    np.testing.assert_allclose(module.max_pool_backward_naive(dout, cache),
                               reference.max_pool_backward_naive(dout, ref_cache))


def test_renamed_and_reflowed_copies_are_the_top_pair(course):
    folder, starter = course
    (folder / "ghost").mkdir()
    (folder / "broken.zip").write_bytes(b"not a zip")
    (folder / "carol" / "Notebook.ipynb").write_text("{not json")
    report = compare_folder(folder, [starter])
    pairs = report.pairs["layers.py"]
    top, rest = pairs[0], pairs[1:]
    assert (top.a, top.b) == ("alice", "bob")
    assert min(top.similarity_a, top.similarity_b) > 0.9
    assert rest and all(p.similarity < top.similarity / 2 for p in rest), [
        (p.a, p.b, round(p.similarity, 2)) for p in rest]
    assert report.starter_only["layers.py"] == ["frank"], "the untouched starter matches nobody"
    assert all("frank" not in (p.a, p.b) for p in pairs)
    assert report.notes == []
    assert report.skipped["ghost"] == "the submission is empty"
    assert "cannot read the submission" in report.skipped["broken"]
    assert "not valid notebook JSON" in report.skipped["carol"]
    assert "carol" in report.texts["layers.py"], "carol's other files are still compared"


def test_without_the_starter_the_skeleton_counts_and_the_report_says_so(course):
    folder, _ = course
    report = compare_folder(folder)
    pairs = report.pairs["layers.py"]
    assert (pairs[0].a, pairs[0].b) == ("alice", "bob")
    assert any("frank" in (p.a, p.b) for p in pairs), "the skeleton alone matches everyone"
    assert any("No starter code" in note for note in report.notes)


def test_matching_regions_are_linked_across_the_pair(course):
    folder, starter = course
    report = compare_folder(folder, [starter])
    top = report.pairs["layers.py"][0]
    text_a, text_b = report.texts["layers.py"]["alice"], report.texts["layers.py"]["bob"]
    links_a, links_b = {r.link for r in top.regions_a}, {r.link for r in top.regions_b}
    assert links_a == links_b and len(links_a) >= 4

    def link_of(text, regions, snippet):
        at = text.index(snippet)
        return next(r.link for r in regions if r.start <= at < r.end)

    # the same statement, renamed, sits in regions with the same number on both sides
    assert (link_of(text_a, top.regions_a, "dw[f] += window * dout[n, f, i, j]")
            == link_of(text_b, top.regions_b, "dw[k] += patch * dout[img, k, r, q]"))
    assert (link_of(text_a, top.regions_a, "np.max(x[n, c, h0:h0 + ph, w0:w0 + pw])")
            == link_of(text_b, top.regions_b, "x[img, ch, top:top+hp, left:left+wp])"))
    for region in top.regions_a:
        line = text_a.count("\n", 0, region.start) + 1
        assert region.first_line == line and text_a[region.start - 1] == "\n"


def test_the_course_modules_every_student_has_are_left_out_by_default(tmp_path):
    for student, bodies in (("ann", ALICE), ("ben", CAROL)):
        package = tmp_path / "class" / student / "ie590"
        package.mkdir(parents=True)
        (package / "layers.py").write_text(layers_source(bodies))
        shutil.copyfile(COURSE_DIR / "layer_utils.py", package / "layer_utils.py")
    assert compare_folder(tmp_path / "class").pairs["layer_utils.py"] == []
    compared = compare_folder(tmp_path / "class", course_modules=False).pairs["layer_utils.py"]
    assert [(p.a, p.b) for p in compared] == [("ann", "ben")] and compared[0].similarity > 0.95
    out = tmp_path / "reports"
    command = ["similarity", str(tmp_path / "class"), "--compare-provided", "--out", str(out)]
    assert main(command) == 0
    data = json.loads((out / "similarity" / "similarity.json").read_text())
    assert [(p["a"], p["b"]) for p in data["pairs"]["layer_utils.py"]] == [("ann", "ben")]


def notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Convolutional Networks")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    return nb


STARTER_CELLS = [
    "import numpy as np\nfrom ie590.layers import *\n%matplotlib inline",
    "np.random.seed(231)\nx = np.random.randn(2, 3, 4, 4)\nw = np.random.randn(3, 3, 4, 4)\n"
    "b = np.random.randn(3,)\nconv_param = {'stride': 2, 'pad': 1}\n"
    "out, _ = conv_forward_naive(x, w, b, conv_param)\nprint('difference: ', rel_error(out, out))",
    "x_shape = (2, 3, 4, 4)\nw_shape = (3, 3, 4, 4)\n"
    "x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)\n"
    "w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)\n"
    "b = np.linspace(-0.1, 0.2, num=3)\nfor name, value in sorted(conv_param.items()):\n"
    "    print(name, value)",
]


def test_notebook_code_cells_are_compared_without_the_starter_cells(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    nbformat.write(notebook(STARTER_CELLS), tmp_path / "starter.ipynb")
    for student, bodies in (("ann", ALICE), ("ben", BOB), ("cid", CAROL), ("dot", None)):
        own = ["def conv_forward(x, w, b, conv_param):\n" + "\n".join(
            "    " + line for line in bodies["conv_forward_naive"].strip().splitlines())
            + "\n    return out"] if bodies else []
        nbformat.write(notebook(STARTER_CELLS + own), folder / f"{student}.ipynb")
    report = compare_folder(folder, [tmp_path / "starter.ipynb"])
    pairs = report.pairs[NOTEBOOK]
    assert (pairs[0].a, pairs[0].b) == ("ann", "ben") and pairs[0].similarity > 0.8
    assert all(p.similarity < pairs[0].similarity / 2 for p in pairs[1:])
    assert report.starter_only[NOTEBOOK] == ["dot"]
    assert "# cell 4\n" in report.texts[NOTEBOOK]["ann"]
    unfiltered = compare_folder(folder).pairs[NOTEBOOK]
    assert len(unfiltered) == 6, "without the starter notebook, every pair shares its cells"
    assert any("No starter notebook" in note for note in compare_folder(folder).notes)


def test_the_report_pages_are_self_contained_and_link_both_sides(course, tmp_path):
    folder, starter = course
    index = render_similarity(compare_folder(folder, [starter]), tmp_path / "out")
    pages = sorted(index.parent.glob("*.html"))
    assert index in pages and len(pages) > 2
    for page in pages:
        tree = html5lib.parse(page.read_text(), namespaceHTMLElements=False)
        sources = [e.get(attr) for e in tree.iter() for attr in ("src", "href") if e.get(attr)]
        assert not [s for s in sources if "//" in s], f"{page.name} makes an external request"
    page = (index.parent / "layers-01.html").read_text()
    pair = html5lib.parse(page, namespaceHTMLElements=False)
    anchors = {a.get("id"): a for a in pair.iter("a") if a.get("id")}
    for side, other in (("a", "b"), ("b", "a")):
        regions = [a for anchor_id, a in anchors.items() if anchor_id.startswith(f"{side}-")]
        assert regions and all(a.get("href", "#")[1:] in anchors for a in regions)
        assert all(a.get("href").startswith(f"#{other}-") for a in regions)
    data = json.loads((index.parent / "similarity.json").read_text())
    assert data["pairs"]["layers.py"][0]["a"] == "alice"
    assert data["compared"]["layers.py"][0] == "alice"


def test_grader_similarity_command(course, tmp_path, capsys):
    folder, starter = course
    out = tmp_path / "reports"
    command = ["similarity", str(folder), "--starter", str(starter), "--out", str(out)]
    assert main([*command, "--top", "3"]) == 0
    data = json.loads((out / "similarity" / "similarity.json").read_text())
    assert len(data["pairs"]["layers.py"]) == 3 and data["pairs"]["layers.py"][0]["b"] == "bob"
    assert "index.html" in capsys.readouterr().out
    assert main(["similarity", str(folder), "--starter", str(tmp_path / "missing.py")]) == 2
    assert "missing.py does not exist" in capsys.readouterr().err
    assert main(["similarity", str(folder), "--noise", "30", "--guarantee", "20"]) == 2
    assert "guarantee" in capsys.readouterr().err


def test_grader_run_writes_the_similarity_report_beside_the_grades(tmp_path):
    folder, starter = tmp_path / "class", tmp_path / "starter.py"
    write_class(folder, starter)
    for student in ("carol", "dave", "erin", "frank"):
        shutil.rmtree(folder / student)
    out = tmp_path / "reports"
    assert main(["run", str(folder), "--only", "forward.conv_forward_naive.public",
                 "--format", "json", "--similarity", "--starter", str(starter),
                 "--out", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["submissions"][0]["id"] == "alice"
    data = json.loads((out / "similarity" / "similarity.json").read_text())
    assert [(p["a"], p["b"]) for p in data["pairs"]["layers.py"]] == [("alice", "bob")]
    assert main(["run", str(folder), "--starter", str(starter), "--out", str(out)]) == 2
