"""A bad data file gets one line that names the file, the line and the column, and exit status 2.

The same check raises ``DataError`` (a ValueError) with the same words through the Python API,
and ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reliability_helpers import QUIET, assert_one_error_line, run_main, run_script

from torch_logreg.data import read_table
from torch_logreg.errors import DataError
from torch_logreg.inference import predict_file
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

GOOD_ROWS = "".join(f"{i},{(i * 7) % 5},{i % 2}\n" for i in range(12))  # 12 rows, both classes

# (file name, content, extra overrides, what the one error line must name)
BAD_FILES = [
    ("empty.csv", "", [], ["empty.csv", "the file is empty"]),
    ("header_only.csv", "a,b,y\n", [], ["header_only.csv", "no rows"]),
    ("ragged.csv", "a,b,y\n1,2,0\n3,4\n5,6,1\n", [], ["ragged.csv", "line 3", "2 fields", "header has 3"]),
    (
        "letters.csv",
        "a,b,y\n1,2,0\n3,x,1\n",
        [],
        ["letters.csv", "line 3", "column 'b'", "'x' is not a number"],
    ),
    ("nan.csv", "a,b,y\n1,2,0\n3,nan,1\n", [], ["nan.csv", "line 3", "column 'b'", "not finite"]),
    ("inf.csv", "a,b,y\n1,2,0\ninf,4,1\n", [], ["inf.csv", "line 3", "column 'a'", "not finite"]),
    (
        "minus_inf.csv",
        "a,b,y\n1,-inf,0\n3,4,1\n",
        [],
        ["minus_inf.csv", "line 2", "column 'b'", "not finite"],
    ),
    (
        "target.csv",
        "a,b,y\n1,2,0\n3,4,1\n",
        ["data.target=label"],
        ["target.csv", "no target column 'label'", "columns are a, b, y"],
    ),
    (
        "half.csv",
        "a,b,y\n1,2,0\n3,4,0.5\n5,6,1\n",
        [],
        ["half.csv", "label '0.5' on line 3", "not a whole number"],
    ),
    (
        "mixed.csv",
        "a,b,y\n1,2,0\n3,4,1\n5,6,M\n",
        [],
        ["mixed.csv", "label 'M' on line 4", "text among numeric", "data.labels"],
    ),
    ("no_label.csv", "a,b,y\n1,2,0\n3,4,\n5,6,1\n", [], ["no_label.csv", "label on line 3 is empty"]),
    (
        "rare_class.csv",
        "a,b,y\n" + "1,2,0\n" * 4 + "3,4,1\n" * 4 + "5,6,7\n",
        [],
        ["rare_class.csv", "too few rows for the split", "1 of class 7"],
    ),
    (
        "unmapped.csv",
        "a,b,y\n1,2,M\n3,4,B\n5,6,X\n",
        ["data.labels={M: 1, B: 0}"],
        ["unmapped.csv", "label 'X' on line 4", "not in data.labels"],
    ),
    ("one_class.csv", "a,b,y\n1,2,1\n3,4,1\n5,6,1\n", [], ["one_class.csv", "only one class (1)"]),
    ("few_rows.csv", "a,b,y\n1,2,0\n3,4,1\n", [], ["few_rows.csv", "too few rows for the split", "2 rows"]),
    ("binary.csv", b"a,b,y\n1,2,\xff\xfe\n", [], ["binary.csv", "not a UTF-8 text CSV"]),
    ("nul.csv", "a,b,y\n1,2,0\n3,\x00,1\n", [], ["nul.csv", "line 3"]),
]


def write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def write_npy(path, array):
    np.save(path, array)
    return path


@pytest.mark.parametrize("name, content, overrides, named", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_a_bad_csv_is_one_error_line_and_exit_2(tmp_path, capsys, name, content, overrides, named):
    path = write(tmp_path / name, content)
    done = run_main(capsys, f"data.path={path}", *overrides, *QUIET, "--run-dir", tmp_path / "run")

    assert done.status == 2
    message = assert_one_error_line(done.err, *named)
    # The Python API raises the same words as a ValueError.
    config = load_config(None, [f"data.path={path}", *overrides, *QUIET])
    with pytest.raises(DataError) as raised:
        train(config, tmp_path / "api_run")
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == message


def test_a_missing_file_is_named(tmp_path, capsys):
    done = run_main(capsys, f"data.path={tmp_path / 'nowhere.csv'}", *QUIET, "--run-dir", tmp_path / "run")
    assert done.status == 2
    assert_one_error_line(done.err, "nowhere.csv", "no such file")
    with pytest.raises(ValueError, match="nowhere.csv: no such file"):
        read_table(tmp_path / "nowhere.csv")


def test_a_folder_is_not_a_data_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path)


@pytest.mark.parametrize(
    "array, shape",
    [
        (np.arange(5.0), "(5,)"),
        (np.zeros((2, 3, 2)), "(2, 3, 2)"),
        (np.zeros((4, 1)), "(4, 1)"),  # a label column and no feature
    ],
)
def test_a_npy_of_the_wrong_shape_names_its_shape(tmp_path, capsys, array, shape):
    path = write_npy(tmp_path / "data.npy", array)
    done = run_main(capsys, f"data.path={path}", *QUIET, "--run-dir", tmp_path / "run")
    assert done.status == 2
    assert_one_error_line(done.err, "data.npy", f"got shape {shape}")


def test_non_finite_npy_features_name_the_row_and_column(tmp_path):
    array = np.array([[0.5, 1.0, 0], [2.0, np.inf, 1], [1.0, 2.0, 0]])
    with pytest.raises(DataError, match=r"row index 1, column index 1 \(from 0\): inf is not finite"):
        read_table(write_npy(tmp_path / "x.npy", array))


def test_files_that_are_not_arrays_are_refused_without_unpickling(tmp_path):
    with pytest.raises(DataError, match="not a .npy file"):
        read_table(write(tmp_path / "fake.npy", "a,b\n1,2\n"))
    with pytest.raises(DataError, match="not a .npz archive"):
        read_table(write(tmp_path / "fake.npz", "a,b\n1,2\n"))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="not a readable numeric .npy array"):
        read_table(tmp_path / "objects.npy")


@pytest.mark.parametrize(
    "labels, expected",
    [
        (["0", "1", "1", "0"], [0, 1, 1, 0]),
        (["-1", "1", "1", "-1"], [0, 1, 1, 0]),
        (["false", "true", "True", "FALSE"], [0, 1, 1, 0]),
        (["0.0", "1.0", "1", "0"], [0, 1, 1, 0]),
    ],
)
def test_labels_may_be_zero_one_minus_one_one_or_booleans(tmp_path, labels, expected):
    rows = "".join(f"{i},{label}\n" for i, label in enumerate(labels))
    _, y, names = read_table(write(tmp_path / "d.csv", "x,y\n" + rows))
    assert y.tolist() == expected and names == ["x"]


def test_two_string_labels_train_when_mapped_with_data_labels(tmp_path, capsys):
    rows = "".join(f"{i},{(i * 3) % 7},{'M' if i % 2 else 'B'}\n" for i in range(12))
    path = write(tmp_path / "diagnosis.csv", "a,b,diagnosis\n" + rows)
    _, y, _ = read_table(path, "diagnosis", {"M": 1, "B": 0})
    assert y.tolist() == [float(i % 2) for i in range(12)]

    done = run_main(
        capsys,
        f"data.path={path}",
        "data.target=diagnosis",
        "data.labels={M: 1, B: 0}",
        "train.iterations=3",
        *QUIET,
        "--run-dir",
        tmp_path / "run",
    )
    assert done.status == 0, done.err
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_a_spreadsheet_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b,y\n" + GOOD_ROWS.encode())
    _, _, names = read_table(path, target="y")
    assert names == ["a", "b"]


# ---------------------------------------------------------------- the real script


def test_the_script_prints_one_line_and_exits_2_and_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "missing.csv"
    done = run_script(f"data.path={missing}", *QUIET, "--run-dir", tmp_path / "run")
    assert done.returncode == 2
    assert_one_error_line(done.stderr, "missing.csv", "no such file")

    debug = run_script(f"data.path={missing}", *QUIET, "--run-dir", tmp_path / "run2", "--debug")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "DataError: " in debug.stderr and "missing.csv: no such file" in debug.stderr


def test_debug_in_process_raises_the_error_itself(tmp_path, capsys):
    with pytest.raises(DataError, match="missing.csv: no such file"):
        run_main(
            capsys, f"data.path={tmp_path / 'missing.csv'}", *QUIET, "--run-dir", tmp_path / "run", "--debug"
        )


# ---------------------------------------------------------------- predict


@pytest.fixture(scope="module")
def two_feature_run(tmp_path_factory):
    """A run trained on a 2-feature CSV whose label column is ``y``."""
    folder = tmp_path_factory.mktemp("predict")
    data = write(folder / "train.csv", "a,b,y\n" + GOOD_ROWS)
    config = load_config(None, [f"data.path={data}", "data.target=y", "train.iterations=5", *QUIET])
    train(config, folder / "run")
    return folder / "run"


@pytest.mark.parametrize(
    "content, named",
    [
        ("a,b,c,d\n1,2,3,4\n", ["column 'c' is not a training feature", "takes 2 columns: a, b"]),
        ("a\n1\n", ["missing column 'b'", "takes 2 columns: a, b"]),
        ("a,b\n1,oops\n", ["line 2", "column 'b'", "'oops' is not a number"]),
        ("a,b\n1,nan\n", ["line 2", "column 'b'", "not finite"]),
        ("a,b\n1,2\n3\n", ["line 3", "1 fields"]),
        ("", ["the file is empty"]),
        ("a,b\n", ["no rows"]),
    ],
)
def test_predict_on_a_bad_csv_is_one_line(two_feature_run, tmp_path, capsys, content, named):
    data = write(tmp_path / "new.csv", content)
    out = tmp_path / "predictions.csv"
    done = run_main(capsys, "predict", "--checkpoint", two_feature_run, "--data", data, "--out", out)
    assert done.status == 2
    message = assert_one_error_line(done.err, "new.csv", *named)
    assert not out.exists()
    with pytest.raises(DataError) as raised:
        predict_file(two_feature_run, data)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "array, named",
    [
        (np.zeros((3, 5)), "has 5 columns, the checkpoint expects 2 or 3 (features, then the label)"),
        (np.zeros(4), "got shape (4,)"),
        (np.zeros((2, 2, 2)), "got shape (2, 2, 2)"),
        (np.array([[1.0, np.nan]]), "row index 0, column index 1"),
    ],
)
def test_predict_on_a_npy_of_the_wrong_shape_is_one_line(two_feature_run, tmp_path, capsys, array, named):
    data = write_npy(tmp_path / "new.npy", array)
    done = run_main(capsys, "predict", "--checkpoint", two_feature_run, "--data", data)
    assert done.status == 2
    assert_one_error_line(done.err, "new.npy", named)


def test_predict_takes_a_npy_of_features_with_or_without_the_label(two_feature_run, tmp_path):
    features = np.array([[0.0, 1.0], [11.0, 3.0], [5.0, 0.0]])
    with_label = np.concatenate([features, np.array([[0.0], [1.0], [1.0]])], axis=1)
    from_csv = predict_file(two_feature_run, write(tmp_path / "x.csv", "a,b\n0,1\n11,3\n5,0\n"))
    assert predict_file(two_feature_run, write_npy(tmp_path / "x.npy", features)) == from_csv
    assert predict_file(two_feature_run, write_npy(tmp_path / "xy.npy", with_label)) == from_csv
    np.savez(tmp_path / "x.npz", x=features)
    assert predict_file(two_feature_run, tmp_path / "x.npz") == from_csv


def test_predict_never_writes_over_its_inputs(two_feature_run, tmp_path, capsys):
    data = write(tmp_path / "new.csv", "a,b\n1,2\n")
    checkpoint_bytes = (two_feature_run / "checkpoint.pt").read_bytes()
    for out in (two_feature_run / "checkpoint.pt", data):
        done = run_main(capsys, "predict", "--checkpoint", two_feature_run, "--data", data, "--out", out)
        assert done.status == 2
        assert_one_error_line(done.err, "is an input of this command")
    assert (two_feature_run / "checkpoint.pt").read_bytes() == checkpoint_bytes
    assert data.read_text() == "a,b\n1,2\n"
    done = run_main(capsys, "predict", "--checkpoint", two_feature_run, "--data", data, "--out", tmp_path)
    assert done.status == 2
    assert_one_error_line(done.err, str(tmp_path), "is a folder")


def test_predict_on_a_missing_checkpoint_or_data_file_is_one_line(two_feature_run, tmp_path, capsys):
    done = run_main(capsys, "predict", "--checkpoint", tmp_path / "no_run", "--data", tmp_path / "x.csv")
    assert done.status == 2
    assert_one_error_line(done.err, "no_run", "no such checkpoint")
    done = run_main(capsys, "predict", "--checkpoint", two_feature_run, "--data", tmp_path / "x.csv")
    assert done.status == 2
    assert_one_error_line(done.err, "x.csv", "no such file")


def test_predict_without_its_flags_is_one_line(capsys):
    done = run_main(capsys, "predict", "--data", "x.csv")
    assert done.status == 2
    assert_one_error_line(done.err, "--checkpoint", "predict --help")


def test_predicted_probabilities_are_finite_for_extreme_raw_features(two_feature_run, tmp_path):
    data = write(tmp_path / "far.csv", "a,b\n1e300,-1e300\n-1e300,1e300\n1e300,1e300\n-1e300,-1e300\n0,0\n")
    rows = predict_file(two_feature_run, data).splitlines()[1:]
    probabilities = torch.tensor([float(row.split(",")[0]) for row in rows])
    assert torch.isfinite(probabilities).all() and ((probabilities >= 0) & (probabilities <= 1)).all()


@pytest.mark.parametrize(
    "labels, expected",
    [
        ([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0]),
        ([-1.0, 1.0, 1.0, -1.0], [0.0, 1.0, 1.0, 0.0]),
        ([True, False, True, True], [1.0, 0.0, 1.0, 1.0]),
    ],
)
def test_array_files_map_good_labels_in_bulk_as_a_csv_would(tmp_path, labels, expected):
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    np.savez(tmp_path / "data.npz", x=x, y=np.array(labels))
    features, y, names = read_table(tmp_path / "data.npz")
    assert y.dtype == torch.float64 and y.tolist() == expected
    assert features.dtype == torch.float64 and features.tolist() == x.tolist() and names == ["x1", "x2"]


def test_array_file_labels_that_are_not_whole_numbers_are_named(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.zeros((4, 2)), y=np.array([0.0, 1.0, 2.5, 1.0]))
    with pytest.raises(DataError, match=r"label 2.5 at row index 2 \(from 0\) is not a whole number"):
        read_table(tmp_path / "data.npz")
