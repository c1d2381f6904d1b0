"""Data utilities: the built-in set, CIFAR-10 loading (on a tiny fake folder) with its
error messages, the npz loader, and visualize_grid."""

import os
import pickle

import numpy as np
import pytest

from reference.data_utils import (
    get_builtin_data,
    get_CIFAR10_data,
    load_CIFAR10,
    load_npz_data,
)
from reference.vis_utils import visualize_grid

KEYS = ["X_train", "y_train", "X_val", "y_val", "X_test", "y_test"]


# -------------------------------------------------------------- built-in set
def test_builtin_data_shapes_dtypes_and_preprocessing():
    data = get_builtin_data(num_training=300, num_validation=50, num_test=40)
    assert list(data) == KEYS
    for split, n in (("train", 300), ("val", 50), ("test", 40)):
        assert data["X_" + split].shape == (n, 3, 32, 32)
        assert data["X_" + split].dtype == np.float64
        assert data["y_" + split].shape == (n,)
        assert data["y_" + split].dtype == np.int64
    assert set(np.unique(data["y_train"])) == set(range(10))
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0, atol=1e-9)
    raw = get_builtin_data(num_training=300, num_validation=50, num_test=40, subtract_mean=False)
    assert raw["X_train"].min() >= 0 and raw["X_train"].max() <= 255
    assert raw["X_train"].std() > 30  # images, not a blank canvas


def test_builtin_data_is_deterministic_per_seed():
    first, again = get_builtin_data(100, 10, 10, seed=3), get_builtin_data(100, 10, 10, seed=3)
    other = get_builtin_data(100, 10, 10, seed=4)
    for key in KEYS:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["X_train"], other["X_train"])


def test_builtin_classes_differ_beyond_colour():
    """Mean images per class differ in spatial layout, not only in average colour."""
    data = get_builtin_data(num_training=2000, num_validation=0, num_test=0, subtract_mean=False)
    grey = data["X_train"].mean(axis=1)  # (N, 32, 32)
    centre_minus_edge = [
        grey[data["y_train"] == k][:, 12:20, 12:20].std(axis=(1, 2)).mean() for k in range(10)
    ]
    assert np.ptp(centre_minus_edge) > 3


def test_builtin_rejects_negative_sizes():
    with pytest.raises(ValueError, match="cannot take"):
        get_builtin_data(num_training=-1)


# ----------------------------------------------------------------- CIFAR-10
def write_batch(path, images, labels):
    with open(path, "wb") as f:
        pickle.dump({"data": images, "labels": list(labels), "batch_label": "fake"}, f)


@pytest.fixture
def cifar_dir(tmp_path):
    """A cifar-10-batches-py folder with 5 x 20 training and 10 test images."""
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.RandomState(0)
    for b in range(1, 6):
        write_batch(
            root / ("data_batch_%d" % b),
            rng.randint(0, 256, (20, 3072), dtype=np.uint8),
            rng.randint(10, size=20),
        )
    write_batch(
        root / "test_batch",
        rng.randint(0, 256, (10, 3072), dtype=np.uint8),
        rng.randint(10, size=10),
    )
    return root


def test_load_cifar10_reads_channel_planes_into_hwc(cifar_dir):
    X_train, y_train, X_test, y_test = load_CIFAR10(str(cifar_dir))
    assert X_train.shape == (100, 32, 32, 3) and X_test.shape == (10, 32, 32, 3)
    assert y_train.shape == (100,) and y_test.shape == (10,)
    with open(cifar_dir / "data_batch_2", "rb") as f:
        batch = pickle.load(f)
    row = batch["data"][4]
    # CIFAR rows hold the 1024 red values, then green, then blue, each row-major.
    assert X_train[24, 5, 7, 0] == row[5 * 32 + 7]
    assert X_train[24, 5, 7, 2] == row[2048 + 5 * 32 + 7]
    assert y_train[24] == batch["labels"][4]


def test_get_cifar10_data_splits_and_preprocesses(cifar_dir):
    data = get_CIFAR10_data(
        num_training=70, num_validation=30, num_test=10, cifar10_dir=str(cifar_dir)
    )
    raw = get_CIFAR10_data(
        num_training=70,
        num_validation=30,
        num_test=10,
        subtract_mean=False,
        cifar10_dir=str(cifar_dir),
    )
    X_train, y_train, _, _ = load_CIFAR10(str(cifar_dir))
    assert [data[k].shape for k in KEYS] == [
        (70, 3, 32, 32),
        (70,),
        (30, 3, 32, 32),
        (30,),
        (10, 3, 32, 32),
        (10,),
    ]
    np.testing.assert_array_equal(raw["X_val"], X_train[70:].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(data["y_val"], y_train[70:])
    mean_image = raw["X_train"].mean(axis=0)
    np.testing.assert_allclose(data["X_test"], raw["X_test"] - mean_image)


def test_get_cifar10_data_rejects_oversized_splits(cifar_dir):
    with pytest.raises(ValueError, match="cannot take 90 \\+ 20 images from the 100"):
        get_CIFAR10_data(num_training=90, num_validation=20, cifar10_dir=str(cifar_dir))


def test_missing_cifar_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="CIFAR-10 folder not found: .*nowhere"):
        load_CIFAR10(str(tmp_path / "nowhere"))


def test_missing_batch_file_is_named(cifar_dir):
    os.remove(cifar_dir / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_CIFAR10(str(cifar_dir))


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"not a pickle at all", "not a readable CIFAR-10 batch"),
        (pickle.dumps([1, 2, 3]), "expected a pickled dict"),
        (pickle.dumps({"data": np.zeros((4, 3072), np.uint8)}), "'labels'"),
        (pickle.dumps({"data": np.zeros((4, 100), np.uint8), "labels": [0] * 4}), "\\(n, 3072\\)"),
        (pickle.dumps({"data": np.zeros((4, 3072), np.uint8), "labels": [0] * 3}), "one label"),
    ],
)
def test_corrupt_batch_file_is_named_with_what_was_expected(cifar_dir, content, expected):
    (cifar_dir / "test_batch").write_bytes(content)
    with pytest.raises(ValueError, match=expected) as info:
        load_CIFAR10(str(cifar_dir))
    assert "test_batch" in str(info.value)


# ---------------------------------------------------------------------- npz
def test_load_npz_data_on_natural10(natural10):
    data = load_npz_data(natural10, num_validation=200, num_test=100)
    sizes = [len(data["y_" + split]) for split in ("train", "val", "test")]
    assert sizes == [1834 - 300, 200, 100]
    assert data["X_train"].shape[1:] == (3, 32, 32)
    # the file is stored class by class: the split must be shuffled
    assert set(np.unique(data["y_val"])) == set(range(10))
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0, atol=1e-9)
    np.testing.assert_array_equal(
        load_npz_data(natural10)["X_test"], load_npz_data(natural10)["X_test"]
    )


def test_load_npz_data_validates_the_archive(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((4, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="expected arrays 'x' and 'y'"):
        load_npz_data(str(path))
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_npz_data(str(tmp_path / "missing.npz"))


def test_load_npz_data_splits_a_small_archive(tmp_path):
    path = tmp_path / "small.npz"
    rng = np.random.RandomState(0)
    np.savez(
        path, x=rng.randint(0, 256, (30, 32, 32, 3)).astype(np.uint8), y=np.repeat(np.arange(3), 10)
    )
    data = load_npz_data(str(path), num_validation=5, num_test=5, subtract_mean=False)
    assert [len(data["y_" + s]) for s in ("train", "val", "test")] == [20, 5, 5]
    assert sorted(np.concatenate([data["y_train"], data["y_val"], data["y_test"]])) == sorted(
        np.repeat(np.arange(3), 10)
    )


# ------------------------------------------------------------ visualize_grid
def test_visualize_grid_tiles_and_rescales_each_image():
    filters = np.random.RandomState(0).randn(10, 7, 5, 3)
    grid = visualize_grid(filters, padding=2)
    assert grid.shape == (4 * 7 + 3 * 2, 4 * 5 + 3 * 2, 3)
    first = grid[:7, :5]
    assert first.min() == 0 and np.isclose(first.max(), 255)
    assert not grid[7:9].any()  # padding rows stay empty
