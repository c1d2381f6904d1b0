"""The demo class: correct submissions score full marks on any seed, each bug loses exactly its
checks, and every submission is graded out of the same total."""

from __future__ import annotations

import pytest

CORRECT = ["correct_folder", "correct_package", "correct_zip.zip"]

# submission -> (check ids that must fail, a phrase the hint must contain). A wrong function also
# loses its inputs.* point: leaving inputs untouched counts only for a function that does its job.
BUGS = {
    "bug_conv_kernel_flipped": (
        {
            "inputs.conv_forward_naive.all",
            "forward.conv_forward_naive.public",
            "forward.conv_forward_naive.hidden",
        },
        "kernel flipped",
    ),
    "bug_conv_no_bias": (
        {
            "inputs.conv_forward_naive.all",
            "forward.conv_forward_naive.public",
            "forward.conv_forward_naive.hidden",
        },
        "without the bias",
    ),
    "bug_conv_dx_not_cropped": (
        {
            "inputs.conv_backward_naive.all",
            "backward.conv_backward_naive.public",
            "backward.conv_backward_naive.hidden",
        },
        "crop the padding",
    ),
    "bug_maxpool_whole_window": (
        {
            "inputs.max_pool_backward_naive.all",
            "backward.max_pool_backward_naive.public",
            "backward.max_pool_backward_naive.hidden",
        },
        "only the maximal entry",
    ),
    "bug_avgpool_wrong_area": (
        {"forward.avg_pool_forward_naive.public", "forward.avg_pool_forward_naive.hidden"},
        "wrong divisor",
    ),
    "bug_bn_unbiased_variance": (
        {
            "inputs.spatial_batchnorm_backward.all",
            "forward.spatial_batchnorm_forward.public",
            "forward.spatial_batchnorm_forward.hidden",
            "backward.spatial_batchnorm_backward.public",
            "backward.spatial_batchnorm_backward.hidden",
        },
        "unbiased variance",
    ),
    # One mistake is charged once: on the public case the backward is the exact gradient of its
    # own (wrong) forward and keeps its points; the hidden small-variance case it does not match.
    "bug_bn_eps_outside_sqrt": (
        {
            "forward.spatial_batchnorm_forward.public",
            "forward.spatial_batchnorm_forward.hidden",
            "backward.spatial_batchnorm_backward.hidden",
        },
        "outside the square root",
    ),
    "bug_bn_test_uses_batch_stats": (
        {"forward.spatial_batchnorm_forward.public", "forward.spatial_batchnorm_forward.hidden"},
        "batch's own statistics",
    ),
    "bug_groupnorm_7d_output": (
        {"forward.spatial_groupnorm_forward.public", "forward.spatial_groupnorm_forward.hidden"},
        "added dimensions",
    ),
    "bug_groupnorm_dgamma_shape": (
        {
            "inputs.spatial_groupnorm_backward.all",
            "backward.spatial_groupnorm_backward.public",
            "backward.spatial_groupnorm_backward.hidden",
        },
        "must have the shape of gamma",
    ),
    "bug_groupnorm_modifies_dout": ({"inputs.spatial_groupnorm_backward.all"}, "Work on copies"),
}


@pytest.fixture(scope="module")
def demo_run(grading, submissions):
    return {s.id: s for s in grading.folder(submissions, grading.options(seed=11)).submissions}


@pytest.mark.parametrize("name", [n.split(".")[0] for n in CORRECT])
def test_correct_layouts_score_full_marks(demo_run, name, grading):
    result = demo_run[name]
    assert result.status == "graded", result.error
    assert grading.failing(result) == {}
    assert result.score == pytest.approx(result.max_score)
    assert result.max_score > 80


@pytest.mark.parametrize("name", CORRECT)
def test_correct_layouts_build_a_correct_network(name, grading, submissions):
    """The network imports the package by its own name (a zipped cs231n/ stays cs231n)."""
    result = grading.one(submissions / name, grading.options(only=("model.*",)))
    assert grading.failing(result) == {}
    assert result.score == pytest.approx(result.max_score) and result.max_score > 0


@pytest.mark.parametrize("name", sorted(BUGS))
def test_each_bug_fails_exactly_its_checks_with_its_hint(demo_run, name, grading):
    expected, phrase = BUGS[name]
    result = demo_run[name]
    assert set(grading.failing(result)) == expected
    hints = [c.hint or "" for c in result.checks if c.id in expected]
    assert any(phrase in h for h in hints), hints
    assert 0 < result.score < result.max_score


# Their bugs are in the network or in speed (see tests/checks): their layers are right.
NETWORK_DEMOS = {
    "model_reg_sum_bug",
    "model_reg_on_biases",
    "model_wrong_padding",
    "model_w2_ignores_pool",
    "slow_naive_conv",
}
# Correct student-style code: loops over every output index (see test_textbook_submissions).
TEXTBOOK = {"textbook_loops", "textbook_naive_sandwich", "cs231n_style"}


def test_every_demo_submission_is_covered(demo_run):
    assert set(demo_run) == (
        {n.split(".")[0] for n in CORRECT} | set(BUGS) | NETWORK_DEMOS | TEXTBOOK | {"layers_only"}
    )


def test_every_submission_is_graded_out_of_one_total(demo_run):
    """One total: whatever the layout, the maximum is every required part's points."""
    assert len({result.max_score for result in demo_run.values()}) == 1


def test_a_missing_part_scores_zero_and_says_not_handed_in(demo_run):
    """layers.py alone: its layers score, the sandwiches and the network are not handed in."""
    result = demo_run["layers_only"]
    missing = {c.id: c for c in result.checks if c.details.get("missing_part")}
    files = {c.details["missing_part"]["file"] for c in missing.values()}
    assert files == {"layer_utils.py"}  # the layer checks' part of it
    assert all(c.status == "failed" and c.score == 0 for c in missing.values())
    assert all(c.message.startswith("not handed in: ") for c in missing.values())
    assert result.max_score == demo_run["correct_package"].max_score
    assert result.score == sum(c.score for c in result.checks if c.id not in missing) > 0


@pytest.mark.parametrize("name", sorted(NETWORK_DEMOS | TEXTBOOK))
def test_network_demos_have_correct_layers(demo_run, name, grading):
    assert grading.failing(demo_run[name]) == {}


@pytest.mark.parametrize("seed", [0, 987654321])
@pytest.mark.parametrize("name", ["correct_folder"])
def test_correct_implementations_pass_on_any_seed(name, seed, grading, submissions):
    result = grading.one(submissions / name, grading.options(seed=seed))
    assert grading.failing(result) == {}
    assert result.score == pytest.approx(result.max_score)


def test_feedback_names_the_case_and_where_the_error_is(demo_run):
    check = next(
        c
        for c in demo_run["bug_conv_no_bias"].checks
        if c.id == "forward.conv_forward_naive.public"
    )
    assert "case notebook_forward" in check.message
    assert check.details["case"]["conv_param"] == {"stride": 2, "pad": 1}
    assert len(check.details["where"]) == 4
    assert check.details["max_error"] > 1e-6


SOFTMAX = """def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
"""
COURSE_2017_SOFTMAX = """def softmax_loss(x, y):
    probs = np.exp(x - np.max(x, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    dx = probs.copy()
"""
UNSHIFTED_SOFTMAX = COURSE_2017_SOFTMAX.replace(
    "np.exp(x - np.max(x, axis=1, keepdims=True))", "np.exp(x)"
)


@pytest.mark.parametrize(
    "body, fails",
    [
        (COURSE_2017_SOFTMAX, set()),
        (UNSHIFTED_SOFTMAX, {"forward.softmax_loss.hidden", "backward.softmax_loss.hidden"}),
    ],
)
def test_large_scores_separate_stable_softmax_forms_from_unstable_ones(
    tmp_path, body, fails, grading, submissions
):
    source = (submissions / "correct_folder" / "layers.py").read_text()
    assert SOFTMAX in source
    (tmp_path / "layers.py").write_text(source.replace(SOFTMAX, body))
    result = grading.one(tmp_path, grading.options(only=("*.softmax_loss.*",)))
    assert set(grading.failing(result)) == fails


def test_a_missing_network_is_not_handed_in(grading, submissions):
    result = grading.one(submissions / "layers_only.py", grading.options(only=["model.*"]))
    model = [c for c in result.checks if c.id.startswith("model.")]
    assert model and all(c.status == "failed" and c.score == 0 for c in model)
    assert all(c.message.startswith("not handed in: classifiers/cnn.py") for c in model)
    assert result.max_score == sum(c.max_score for c in model)


def test_a_forward_mistake_is_charged_once(demo_run):
    """The backward of bug_bn_eps_outside_sqrt is the exact gradient of its own forward on the
    public case: it keeps those points, and the message says why."""
    check = next(
        c
        for c in demo_run["bug_bn_eps_outside_sqrt"].checks
        if c.id == "backward.spatial_batchnorm_backward.public"
    )
    assert check.status == "passed" and check.score == check.max_score
    assert "the forward's mistake propagated" in check.message
    assert "outside the square root" in check.message
