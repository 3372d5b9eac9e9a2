"""Data: labels become class indices, the split is stratified from the seed, built-in sets load.

y is always float64 class indices 0..K−1 and ``classes`` the original labels in that order.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torch_logreg.data import (
    data_fingerprint,
    encode_labels,
    load_split,
    load_table,
    make_synthetic,
    read_table,
    split_indices,
    split_train_test,
)
from torch_logreg.errors import DataError
from torch_logreg.training.config import DataConfig, load_config
from torch_logreg.training.trainer import train


def data_config(**changes):
    """A DataConfig with ``changes`` set, each checked as a config file's value would be."""
    config = DataConfig()
    for key, value in changes.items():
        setattr(config, key, value)
    return config


def write_csv(path, labels, header="a,b,y"):
    rows = "".join(f"{i},{(i * 7) % 5},{label}\n" for i, label in enumerate(labels))
    path.write_text(f"{header}\n{rows}")
    return path


def todays_split(y: np.ndarray, test_fraction: float, seed: int):
    """The binary split as it was before K classes: the reference the new one must equal bitwise."""
    rng = np.random.default_rng(seed)
    train_index, test_index = [], []
    for label in (0.0, 1.0):
        rows = np.flatnonzero(y == label)
        rows = rows[rng.permutation(len(rows))]
        n_test = int(round(len(rows) * test_fraction))
        test_index.extend(rows[:n_test])
        train_index.extend(rows[n_test:])
    return np.sort(train_index), np.sort(test_index)


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "labels, classes, expected",
    [
        (["0", "1", "1", "0"], [0, 1], [0, 1, 1, 0]),
        (["-1", "1", "1", "-1"], [-1, 1], [0, 1, 1, 0]),
        (["false", "true", "True", "FALSE"], [False, True], [0, 1, 1, 0]),
        (["1.0", "0", "2.0", "2"], [0, 1, 2], [1, 0, 2, 2]),  # whole-number floats are integers
        (["10", "9", "2", "9"], [2, 9, 10], [2, 1, 0, 1]),  # numbers sort as numbers, not as text
        (["M", "B", "M", "B"], ["B", "M"], [1, 0, 1, 0]),  # any other pair: sorted, the second is positive
        (["setosa", "virginica", "versicolor"], ["setosa", "versicolor", "virginica"], [0, 2, 1]),
    ],
)
def test_csv_labels_become_indices_into_the_sorted_classes(tmp_path, labels, classes, expected):
    table = load_table(write_csv(tmp_path / "d.csv", labels))
    assert table.classes == classes and [type(c) for c in table.classes] == [type(c) for c in classes]
    assert table.y.dtype == torch.float64 and table.y.tolist() == expected
    json.dumps(table.classes)  # the checkpoint and metrics.json record them


@pytest.mark.parametrize(
    "y, classes, expected",
    [
        (np.array([0, 1, 1, 0]), [0, 1], [0, 1, 1, 0]),
        (np.array([-1.0, 1.0, 1.0, -1.0]), [-1, 1], [0, 1, 1, 0]),
        (np.array([True, False, True]), [False, True], [1, 0, 1]),
        (np.array([3.0, 1.0, 7.0, 1.0]), [1, 3, 7], [1, 0, 2, 0]),
        (np.array(["cat", "dog", "cat"]), ["cat", "dog"], [0, 1, 0]),
    ],
)
def test_array_labels_become_indices_and_whole_floats_become_ints(tmp_path, y, classes, expected):
    np.savez(tmp_path / "d.npz", x=np.zeros((len(y), 2)), y=y)
    table = load_table(tmp_path / "d.npz")
    assert table.classes == classes and all(type(c) is type(k) for c, k in zip(table.classes, classes))
    assert table.y.dtype == torch.float64 and table.y.tolist() == expected


def test_good_numeric_array_labels_equal_todays_zero_one_labels_bitwise():
    y = np.random.default_rng(0).integers(0, 2, 100_000).astype(np.float64)
    encoded, classes = encode_labels(y, "big.npy")
    assert classes == [0, 1] and torch.equal(encoded, torch.from_numpy(y))


def test_data_labels_maps_any_number_of_raw_values(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["low", "mid", "high", "mid", "low"])
    table = load_table(path, labels={"low": 0, "mid": 1, "high": 2})
    assert table.classes == [0, 1, 2] and table.y.tolist() == [0, 1, 2, 1, 0]
    # Raw numbers match however they are written: the YAML key 4 matches the file's 4.0.
    np.save(tmp_path / "d.npy", np.array([[0.5, 2.0], [0.1, 4.0], [0.3, 4.0]]))
    table = load_table(tmp_path / "d.npy", labels={2: "benign", 4: "malignant"})
    assert table.classes == ["benign", "malignant"] and table.y.tolist() == [0, 1, 1]


def test_a_label_missing_from_the_mapping_is_named_with_its_line(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["low", "mid", "huge", "mid"])
    with pytest.raises(DataError, match=r"d.csv: label 'huge' on line 4 is not in data.labels \(low, mid\)"):
        load_table(path, labels={"low": 0, "mid": 1})


@pytest.mark.parametrize(
    "labels, named",
    [
        (["0", "1", "2.5"], "label '2.5' on line 4 is not a whole number"),
        (["0", "1", "nan"], "label 'nan' on line 4 is not a whole number"),
        (["0", "1", "x"], "label 'x' on line 4 is text among numeric labels such as '0'"),
        (["1", "1", "1"], r"only one class \(1\) is present"),
    ],
)
def test_bad_labels_are_one_line_naming_the_value_and_its_line(tmp_path, labels, named):
    with pytest.raises(DataError, match=r"d.csv: " + named):
        load_table(write_csv(tmp_path / "d.csv", labels))


def test_a_test_file_uses_the_training_files_classes(tmp_path):
    train_path = write_csv(tmp_path / "train.csv", ["a", "b", "c"] * 4)
    test_path = write_csv(tmp_path / "test.csv", ["c", "c", "b"])  # a subset, so its own classes would differ
    split = load_split(data_config(path=str(train_path), test_path=str(test_path)), seed=0)
    assert split.classes == ["a", "b", "c"] and split.num_classes == 3
    assert split.y_test.tolist() == [2, 2, 1]
    write_csv(test_path, ["c", "d"])
    with pytest.raises(
        DataError,
        match=r"test.csv: label 'd' on line 3 is not one of the training data's classes "
        r"\(a, b, c\)",
    ):
        load_split(data_config(path=str(train_path), test_path=str(test_path)), seed=0)


# ---------------------------------------------------------------- split


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("test_fraction", [0.25, 0.1, 0.5])
def test_the_binary_split_equals_todays_bitwise(seed, test_fraction):
    _, y, _ = make_synthetic(1001, 2, 1.0, seed)
    y = y.numpy()
    train_index, test_index = split_indices(y, test_fraction, seed)
    expected_train, expected_test = todays_split(y, test_fraction, seed)
    assert np.array_equal(train_index, expected_train) and np.array_equal(test_index, expected_test)
    assert train_index.dtype == expected_train.dtype == np.int64


def test_the_default_runs_split_is_todays():
    split = load_split(data_config(), seed=0)
    x, y, _ = read_table_breast_cancer()
    train_index, test_index = todays_split(y.numpy(), 0.25, 0)
    assert torch.equal(split.y_train, y[train_index]) and torch.equal(split.x_test_raw, x[test_index])
    assert split.classes == [0, 1] and split.image_shape is None


def read_table_breast_cancer():
    from torch_logreg.data import load_breast_cancer

    return load_breast_cancer()


def test_every_class_is_split_in_proportion():
    split = load_split(data_config(name="digits", test_fraction=0.2), seed=3)
    counts = np.bincount(np.concatenate([split.y_train, split.y_test]).astype(int))
    test_counts = np.bincount(split.y_test.numpy().astype(int), minlength=10)
    assert test_counts.tolist() == [round(c * 0.2) for c in counts]


def test_the_split_depends_only_on_the_label_column_the_fraction_and_the_seed():
    y = np.repeat([0.0, 1.0, 2.0], [40, 25, 35])
    np.random.default_rng(1).shuffle(y)
    x_one, x_two = torch.randn(100, 3), torch.zeros(100, 5)
    first = split_train_test(x_one, torch.from_numpy(y), 0.3, seed=7)
    second = split_train_test(x_two, torch.from_numpy(y), 0.3, seed=7)
    assert torch.equal(first[1], second[1]) and torch.equal(first[3], second[3])
    train_index, test_index = split_indices(y, 0.3, seed=7)
    assert len(np.intersect1d(train_index, test_index)) == 0 and len(train_index) + len(test_index) == 100
    assert not np.array_equal(split_indices(y, 0.3, seed=8)[1], test_index)


def test_a_class_too_small_to_split_is_named_by_its_label(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["setosa"] * 8 + ["versicolor"] * 8 + ["virginica"])
    with pytest.raises(DataError, match=r"d.csv: too few rows for the split: 17 rows, 1 of class virginica"):
        load_split(data_config(path=str(path)), seed=0)


# ---------------------------------------------------------------- built-in sets


def test_digits_are_1797_images_of_8x8_pixels_in_10_classes():
    split = load_split(data_config(name="digits"), seed=0)
    assert split.classes == list(range(10)) and split.num_classes == 10 and split.image_shape == (8, 8)
    assert len(split.y_train) + len(split.y_test) == 1797 and split.n_features == 64
    assert split.feature_names[:2] == ["pixel_0_0", "pixel_0_1"] and split.feature_names[-1] == "pixel_7_7"
    # x_test_raw holds the pixels as shipped (0..16); x_test is standardized.
    raw = split.x_test_raw
    assert raw.min() == 0 and raw.max() == 16 and torch.equal(raw, raw.round())
    assert torch.allclose(split.standardizer.transform(raw), split.x_test)


def test_digits_equal_scikit_learns_copy():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from torch_logreg.data.datasets.digits import load_digits

    x, y, _ = load_digits()
    reference = sklearn_datasets.load_digits()
    assert np.array_equal(x, reference.data) and np.array_equal(y, reference.target)


def test_the_digits_file_is_64_pixels_then_the_label_without_a_header():
    from importlib import resources

    raw = resources.files("torch_logreg.data.datasets").joinpath("digits.csv.gz").read_bytes()
    lines = gzip.decompress(raw).decode().splitlines()
    assert len(lines) == 1797 and all(len(line.split(",")) == 65 for line in lines)


@pytest.mark.parametrize(
    "name, classes, rows", [("flower", 2, 400), ("spirals", 3, 300), ("spirals", 5, 500)]
)
def test_planar_sets_are_deterministic_per_seed(name, classes, rows):
    first = load_split(data_config(name=name, classes=classes), seed=0)
    again = load_split(data_config(name=name, classes=classes), seed=0)
    other = load_split(data_config(name=name, classes=classes), seed=1)
    assert torch.equal(first.x_train, again.x_train) and torch.equal(first.y_test, again.y_test)
    assert not torch.equal(first.x_test_raw, other.x_test_raw)
    assert first.classes == list(range(classes)) and first.n_features == 2
    assert len(first.y_train) + len(first.y_test) == rows
    everything = torch.cat([first.y_train, first.y_test])
    assert torch.bincount(everything.long()).tolist() == [rows // classes] * classes


def test_the_flower_follows_the_courses_generator():
    from torch_logreg.data.datasets.planar import make_flower

    x, y, names = make_flower(seed=0)
    rng = np.random.default_rng(0)
    t = np.linspace(0, 3.12, 200) + rng.standard_normal(200) * 0.2
    r = 4 * np.sin(4 * t) + rng.standard_normal(200) * 0.2
    assert np.array_equal(x[:200], np.c_[r * np.sin(t), r * np.cos(t)]) and (y[:200] == 0).all()
    assert np.abs(x).max() < 4.8 and names == ["x1", "x2"]  # petals of radius a = 4, plus noise


def test_binary_synthetic_data_are_todays_bitwise():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(300, 3, generator=gen, dtype=torch.float64)
    w = torch.randn(3, generator=gen, dtype=torch.float64)
    b = torch.randn((), generator=gen, dtype=torch.float64) * 0.5
    y = (torch.rand(300, generator=gen, dtype=torch.float64) < torch.sigmoid((x @ w + b) / 0.7)).to(
        torch.float64
    )
    split = load_split(data_config(name="synthetic", samples=300, features=3, noise=0.7), seed=5)
    train_index, test_index = todays_split(y.numpy(), 0.25, 5)
    assert torch.equal(split.x_test_raw, x[test_index]) and torch.equal(split.y_train, y[train_index])


def test_synthetic_data_with_k_classes_follow_a_softmax_model():
    x, y, _ = make_synthetic(20_000, 3, 1.0, seed=2, classes=4)
    assert y.dtype == torch.float64 and sorted(set(y.tolist())) == [0, 1, 2, 3]
    again = make_synthetic(20_000, 3, 1.0, seed=2, classes=4)
    assert torch.equal(x, again[0]) and torch.equal(y, again[1])
    # Softmax regression recovers the model well above chance (0.25) on its own data.
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    accuracy = sklearn_linear.LogisticRegression(max_iter=1000).fit(x, y).score(x, y)
    assert accuracy > 0.6
    split = load_split(data_config(name="synthetic", classes=4, samples=400), seed=2)
    assert split.classes == [0, 1, 2, 3] and split.num_classes == 4


# ---------------------------------------------------------------- files


def test_a_missing_file_names_the_folder_it_looked_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as raised:
        read_table("data.csv")
    assert str(raised.value) == f"data.csv: no such file (looked in {tmp_path})"
    with pytest.raises(DataError, match=r"no such file \(looked in .*nowhere, which does not exist\)"):
        read_table("nowhere/data.csv")


def test_the_fingerprint_changes_with_the_content_and_is_empty_for_built_in_data(tmp_path):
    big = np.random.default_rng(0).bytes(1_000_000)
    (tmp_path / "a.npy").write_bytes(big)
    (tmp_path / "copy.npy").write_bytes(big)
    changed = bytearray(big)
    changed[500_000] ^= 1  # one bit in the middle block
    (tmp_path / "b.npy").write_bytes(bytes(changed))
    print_a = data_fingerprint(data_config(path=str(tmp_path / "a.npy")))
    assert print_a["path"]["size"] == 1_000_000 and set(print_a) == {"path"}
    assert data_fingerprint(data_config(path=str(tmp_path / "copy.npy"))) == print_a
    assert data_fingerprint(data_config(path=str(tmp_path / "b.npy"))) != print_a
    both = data_fingerprint(data_config(path=str(tmp_path / "a.npy"), test_path=str(tmp_path / "b.npy")))
    assert set(both) == {"path", "test_path"}
    assert data_fingerprint(data_config()) == {} and data_fingerprint(data_config(name="digits")) == {}


# ---------------------------------------------------------------- the two_features demo


def test_the_two_features_demo_shows_a_clean_boundary_with_a_few_mistakes(tmp_path):
    config = load_config("configs/two_features.yaml", ["train.device=cpu", "train.print_cost=false"])
    result = train(config, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0.90 <= metrics["train_accuracy"] <= 0.97 and 0.90 <= metrics["test_accuracy"] <= 0.97
    costs = result.history["train_cost"]  # every 100 iterations
    assert costs[-1] < 0.15 and all(later < earlier for earlier, later in zip(costs, costs[1:]))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["int8", "int64", "uint16", "float32", "float64", "bool"]),
    st.lists(st.integers(-130, 300), min_size=1, max_size=300),
)
def test_distinct_and_inverse_is_np_unique_with_return_inverse(dtype, values):
    from torch_logreg.data.labels import distinct_and_inverse

    y = np.array(values).astype(dtype)
    distinct, inverse = distinct_and_inverse(y)
    expected, expected_inverse = np.unique(y, return_inverse=True)
    assert distinct.dtype == y.dtype and np.array_equal(distinct, expected)
    assert inverse.dtype == np.intp and np.array_equal(inverse, expected_inverse)


def test_distinct_and_inverse_of_floats_with_two_values_and_of_text():
    from torch_logreg.data.labels import distinct_and_inverse

    distinct, inverse = distinct_and_inverse(np.array([2.5, -1.0, 2.5]))
    assert distinct.tolist() == [-1.0, 2.5] and inverse.tolist() == [1, 0, 1]
    distinct, inverse = distinct_and_inverse(np.array(["b", "a", "c", "a"], dtype=object))
    assert distinct.tolist() == ["a", "b", "c"] and inverse.tolist() == [1, 0, 2, 0]
    y = np.tile(np.array([-128, 0, 127], dtype=np.int8), 100)  # y − min overflows int8
    distinct, inverse = distinct_and_inverse(y)
    assert distinct.tolist() == [-128, 0, 127] and inverse.tolist() == [0, 1, 2] * 100
