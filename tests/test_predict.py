"""A saved model predicts on raw rows: load_model, save_model, predict_file and evaluate_file."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import torch_logreg
from torch_logreg.checkpoint import load_checkpoint, save_checkpoint
from torch_logreg.data import Standardizer
from torch_logreg.errors import DataError, UserInputError
from torch_logreg.inference import evaluate_file, load_model, model_record, predict_file, save_model
from torch_logreg.nn.logistic import LogisticRegression
from torch_logreg.training.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SPECIES = ["setosa", "versicolor", "virginica"]
PARTS = ["sepal", "petal", "stem"]


def fit(model: LogisticRegression, x: torch.Tensor, y: torch.Tensor, steps: int = 300, lr: float = 0.5):
    """Plain gradient descent on the model's own cost (standardized x)."""
    y = model.loss.targets(y, x.dtype)
    for _ in range(steps):
        model.zero_grad()
        model.cost(x, y).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return model


def rows_csv(path: Path, header: list[str] | None, rows) -> Path:
    lines = ([",".join(header)] if header else []) + [",".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory):
    """A 3-class model fitted on raw features of very different scales, saved with its labels."""
    gen = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0, 0.0], [2.0, 1.0, -1.0], [-1.0, 2.0, 2.0]], dtype=torch.float64)
    y = torch.arange(3).repeat_interleave(30).to(torch.float64)
    scale = torch.tensor([2.0, 0.5, 20.0], dtype=torch.float64)
    x_raw = (
        centers[y.long()] + torch.randn(90, 3, generator=gen, dtype=torch.float64)
    ) * scale + torch.tensor([10.0, -5.0, 100.0], dtype=torch.float64)
    standardizer = Standardizer.fit(x_raw)
    model = fit(LogisticRegression(3, num_classes=3, dtype=torch.float64), standardizer.transform(x_raw), y)
    path = tmp_path_factory.mktemp("three") / "model.pt"
    save_model(model, path, standardizer=standardizer, classes=SPECIES, feature_names=PARTS)
    return SimpleNamespace(path=path, model=model, standardizer=standardizer, x_raw=x_raw, y=y.long())


@pytest.fixture(scope="module")
def spam(tmp_path_factory):
    """A binary model with hand-set weights, z = a − b, classes ham/spam, label column ``label``."""
    model = LogisticRegression(2, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0]]))
    path = tmp_path_factory.mktemp("spam") / "model.pt"
    save_checkpoint(
        path, {**model_record(model, None, ["ham", "spam"], ["a", "b"]), "target": "label", "config": {}}
    )
    return SimpleNamespace(path=path, model=model)


# ---------------------------------------------------------------- load_model


def test_a_3_class_checkpoint_predicts_what_the_fitted_model_predicts_on_raw_rows(three_classes):
    loaded = load_model(three_classes.path)
    expected = three_classes.model.predict_proba(three_classes.standardizer.transform(three_classes.x_raw))

    proba = loaded.predict_proba(three_classes.x_raw)
    assert proba.shape == (90, 3) and proba.grad_fn is None
    torch.testing.assert_close(proba, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        loaded.predict_proba(three_classes.x_raw.numpy()), expected, rtol=0, atol=1e-12
    )
    assert loaded.predict(three_classes.x_raw).dtype == torch.int64
    assert loaded.predict_labels(three_classes.x_raw) == [SPECIES[k] for k in expected.argmax(1).tolist()]
    assert (
        loaded.predict(three_classes.x_raw) == three_classes.y
    ).double().mean() > 0.8  # it learned something
    assert (loaded.classes, loaded.feature_names, loaded.num_classes, loaded.in_features) == (
        SPECIES,
        PARTS,
        3,
        3,
    )
    assert loaded.target is None and not loaded.training


def test_a_format_1_checkpoint_loads_as_the_binary_model_with_classes_0_and_1(tmp_path):
    # As the trainer wrote them before the architecture was recorded.
    x_raw = torch.tensor([[1.0, 200.0], [3.0, 100.0], [2.0, 400.0], [5.0, 300.0]], dtype=torch.float64)
    standardizer = Standardizer.fit(x_raw)
    model = fit(
        LogisticRegression(2, l2=0.25),
        standardizer.transform(x_raw).float(),
        torch.tensor([0.0, 1.0, 0.0, 1.0]),
        steps=50,
    )
    save_checkpoint(
        tmp_path / "old.pt",
        {
            "format": 1,
            "model": model.state_dict(),
            "optimizer": {"state": {}, "param_groups": []},
            "iteration": 50,
            "rng": {"torch": torch.get_rng_state()},
            "standardizer": standardizer.state_dict(),
            "feature_names": ["size", "weight"],
            "target": None,
            "config": {"model": {"l2": 0.25, "init": "zeros"}, "data": {"labels": None}},
            "history": {"iteration": [0], "train_cost": [0.69]},
            "seconds": 0.1,
        },
    )

    loaded = load_model(tmp_path / "old.pt")

    assert loaded.classes == [0, 1] and loaded.num_classes == 2 and loaded.model.l2 == 0.25
    expected = model.predict_proba(standardizer.transform(x_raw).float())
    torch.testing.assert_close(loaded.predict_proba(x_raw), expected, rtol=1e-6, atol=1e-7)
    # Labels keep their training meaning: -1 is class 0.
    rows_csv(
        tmp_path / "labelled.csv",
        ["size", "weight", "y"],
        [[1, 200, -1], [3, 100, 1], [2, 400, -1], [5, 300, 1]],
    )
    assert evaluate_file(tmp_path / "old.pt", tmp_path / "labelled.csv")["accuracy"] == 1.0


# ---------------------------------------------------------------- save_model


def test_save_model_round_trips_a_model_with_the_default_classes_and_names(tmp_path):
    model = LogisticRegression(4, l2=0.1, init="uniform")
    torch_logreg.save_model(model, tmp_path / "mine.pt")

    state = load_checkpoint(tmp_path / "mine.pt")
    assert state["format"] == 2 and state["standardizer"] is None
    assert state["architecture"] == {
        "name": "logistic",
        "args": {"in_features": 4, "num_classes": 2, "l2": 0.1, "init": "uniform"},
        "sample_shape": [4],
    }
    loaded = torch_logreg.load_model(tmp_path / "mine.pt")
    assert loaded.classes == [0, 1] and loaded.feature_names == ["x1", "x2", "x3", "x4"]
    assert torch.equal(loaded.model.weight, model.weight) and torch.equal(loaded.model.bias, model.bias)
    assert loaded.model.constructor_args() == model.constructor_args()
    x = torch.randn(5, 4)
    torch.testing.assert_close(loaded.predict_proba(x), model.predict_proba(x))


def test_save_model_stores_labels_as_plain_values_and_rejects_what_does_not_fit(tmp_path):
    model = LogisticRegression(2)
    assert model_record(model, classes=np.array([3.0, 7.0]))["classes"] == [3, 7]
    with pytest.raises(ValueError, match="classes must be 2 distinct labels"):
        save_model(model, tmp_path / "m.pt", classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="feature_names must name the model's 2 features"):
        save_model(model, tmp_path / "m.pt", feature_names=["a"])
    with pytest.raises(ValueError, match=r"mean and std must have shape \(2,\)"):
        save_model(model, tmp_path / "m.pt", standardizer=Standardizer(torch.zeros(3), torch.ones(3)))
    assert not (tmp_path / "m.pt").exists()


# ---------------------------------------------------------------- predict_file: output


def test_k_classes_get_the_label_and_one_p_column_per_class(three_classes, tmp_path):
    x_raw = three_classes.x_raw[::15]
    data = rows_csv(tmp_path / "new.csv", PARTS, x_raw.tolist())

    rows = read_csv(predict_file(three_classes.path, data))

    assert list(rows[0]) == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    proba = load_model(three_classes.path).predict_proba(x_raw)
    written = torch.tensor([[float(r[f"p_{c}"]) for c in SPECIES] for r in rows], dtype=torch.float64)
    torch.testing.assert_close(written, proba, rtol=1e-9, atol=1e-12)  # 10 significant digits
    assert [r["prediction"] for r in rows] == [SPECIES[k] for k in proba.argmax(1).tolist()]


def test_binary_models_write_the_label_then_the_probability_and_take_a_threshold(spam, tmp_path):
    data = rows_csv(tmp_path / "new.csv", ["a", "b"], [[2, 0], [0, 1], [0.5, 0], [1, 0]])  # z = 2, -1, 0.5, 1

    at_half = read_csv(predict_file(spam.path, data))
    at_0_7 = read_csv(predict_file(spam.path, data, threshold=0.7))

    assert list(at_half[0]) == ["prediction", "p_spam"]  # the column names its class
    sigma = [1 / (1 + math.exp(-z)) for z in (2, -1, 0.5, 1)]  # 0.881, 0.269, 0.622, 0.731
    assert [float(r[next(k for k in r if k.startswith("p_"))]) for r in at_half] == pytest.approx(
        sigma, abs=1e-10
    )
    assert [r["prediction"] for r in at_half] == ["spam", "ham", "spam", "spam"]
    assert [r["prediction"] for r in at_0_7] == ["spam", "ham", "ham", "spam"]


def test_the_threshold_is_for_binary_models_and_a_probability(three_classes, spam, tmp_path):
    data = rows_csv(tmp_path / "new.csv", PARTS, three_classes.x_raw[:2].tolist())
    with pytest.raises(
        UserInputError, match="--threshold applies to binary models; this model has 3 classes"
    ):
        predict_file(three_classes.path, data, threshold=0.3)
    assert len(predict_file(three_classes.path, data, threshold=0.5).splitlines()) == 3
    with pytest.raises(UserInputError, match=r"threshold must be in \[0, 1\], got 1.5"):
        predict_file(spam.path, rows_csv(tmp_path / "ab.csv", ["a", "b"], [[1, 2]]), threshold=1.5)


# ---------------------------------------------------------------- predict_file: the header


def test_the_same_columns_in_another_order_are_put_back_in_training_order(three_classes, tmp_path):
    x = three_classes.x_raw[:6].tolist()
    in_order = predict_file(three_classes.path, rows_csv(tmp_path / "a.csv", PARTS, x))
    shuffled = predict_file(
        three_classes.path,
        rows_csv(tmp_path / "b.csv", ["stem", "sepal", "petal"], [[r[2], r[0], r[1]] for r in x]),
    )
    assert shuffled == in_order


def test_a_label_column_is_dropped_unread(three_classes, spam, tmp_path):
    x = three_classes.x_raw[:4].tolist()
    without = predict_file(three_classes.path, rows_csv(tmp_path / "a.csv", PARTS, x))
    # No target recorded: a last column beside the features is the label, whatever it holds.
    with_label = rows_csv(tmp_path / "b.csv", [*PARTS, "species"], [[*r, "???"] for r in x])
    assert predict_file(three_classes.path, with_label) == without
    # A recorded target is dropped wherever it stands.
    first = predict_file(spam.path, rows_csv(tmp_path / "c.csv", ["a", "b"], [[1, 2], [3, 0]]))
    assert (
        predict_file(spam.path, rows_csv(tmp_path / "d.csv", ["label", "b", "a"], [["x", 2, 1], ["y", 0, 3]]))
        == first
    )


@pytest.mark.parametrize(
    "header, row, message",
    [
        (["sepal", "petal"], [1, 2], "missing column 'stem'; the model takes 3 columns: sepal, petal, stem"),
        (
            ["sepal", "petal", "steam"],
            [1, 2, 3],
            "missing column 'stem' (the last column, 'steam', was taken as the label)",
        ),
        (["sepal", "color", "petal", "stem"], [1, 2, 3, 4], "column 'color' is not a training feature"),
        (
            ["sepal", "petal", "stem", "color", "species"],
            [1, 2, 3, 4, "x"],
            "column 'color' is not a training feature",
        ),
        (["sepal", "petal", "stem", "sepal"], [1, 2, 3, 4], "column 'sepal' appears twice in the header"),
    ],
)
def test_a_missing_unknown_or_extra_column_is_named(three_classes, tmp_path, header, row, message):
    data = rows_csv(tmp_path / "new.csv", header, [row])
    with pytest.raises(DataError) as raised:
        predict_file(three_classes.path, data)
    assert str(raised.value).startswith(f"{data}: {message}") and "\n" not in str(raised.value)


def test_with_a_recorded_target_an_unknown_last_column_is_not_taken_for_the_label(spam, tmp_path):
    data = rows_csv(tmp_path / "new.csv", ["a", "b", "y"], [[1, 2, 0]])
    with pytest.raises(
        DataError, match="column 'y' is not a training feature; the model takes 2 columns: a, b"
    ):
        predict_file(spam.path, data)


def test_a_file_without_a_header_needs_header_false(three_classes, tmp_path):
    x = three_classes.x_raw[:5].tolist()
    with_header = predict_file(three_classes.path, rows_csv(tmp_path / "a.csv", PARTS, x))
    bare = rows_csv(tmp_path / "bare.csv", None, x)

    with pytest.raises(DataError, match="line 1 holds numbers, not column names; .*pass --no-header"):
        predict_file(three_classes.path, bare)
    assert predict_file(three_classes.path, bare, header=False) == with_header
    labelled = rows_csv(tmp_path / "labelled.csv", None, [[*r, "setosa"] for r in x])
    assert predict_file(three_classes.path, labelled, header=False) == with_header
    wide = rows_csv(tmp_path / "wide.csv", None, [[*r, 0, 0] for r in x])
    with pytest.raises(DataError, match="line 1 has 5 fields; without a header the model expects 3 or 4"):
        predict_file(three_classes.path, wide, header=False)


def test_arrays_still_predict_for_k_classes(three_classes, tmp_path):
    x = three_classes.x_raw[:5]
    from_csv = predict_file(three_classes.path, rows_csv(tmp_path / "a.csv", PARTS, x.tolist()))
    np.save(tmp_path / "x.npy", x.numpy())
    np.savez(tmp_path / "x.npz", x=x.numpy())
    assert predict_file(three_classes.path, tmp_path / "x.npy") == from_csv
    assert predict_file(three_classes.path, tmp_path / "x.npz") == from_csv


# ---------------------------------------------------------------- evaluate_file


def test_evaluate_gives_the_metrics_of_a_labelled_file(spam, tmp_path):
    # z = a − b: 2 (spam, right), −1 (spam, wrong), −3 (ham, right), 1 (ham, wrong).
    data = rows_csv(
        tmp_path / "labelled.csv",
        ["b", "a", "label"],
        [[0, 2, "spam"], [1, 0, "spam"], [3, 0, "ham"], [0, 1, "ham"]],
    )

    metrics = evaluate_file(spam.path, data)

    softplus = lambda z: math.log1p(math.exp(z))  # noqa: E731   −log σ(−z)
    log_loss = (softplus(-2) + softplus(1) + softplus(-3) + softplus(1)) / 4
    assert metrics["rows"] == 4 and metrics["accuracy"] == 0.5
    assert metrics["log_loss"] == pytest.approx(log_loss, rel=1e-12)
    if "auc" in metrics:  # with metrics.py: 3 of the 4 (spam, ham) pairs are ordered right; tp = fp = fn = 1
        assert (metrics["auc"], metrics["f1"], metrics["precision"], metrics["recall"]) == (
            0.75,
            0.5,
            0.5,
            0.5,
        )


def test_evaluate_reads_k_class_labels_from_the_last_column_or_an_npz(three_classes, tmp_path):
    x, y = three_classes.x_raw, three_classes.y
    expected = (load_model(three_classes.path).predict(x) == y).double().mean().item()
    data = rows_csv(
        tmp_path / "labelled.csv",
        [*PARTS, "species"],
        [[*row, SPECIES[k]] for row, k in zip(x.tolist(), y.tolist())],
    )
    metrics = evaluate_file(three_classes.path, data)
    assert metrics["rows"] == 90 and metrics["accuracy"] == pytest.approx(expected)
    np.savez(tmp_path / "labelled.npz", x=x.numpy(), y=np.array([SPECIES[k] for k in y.tolist()]))
    assert evaluate_file(three_classes.path, tmp_path / "labelled.npz") == metrics


def test_evaluate_names_an_unknown_label_and_its_line_and_needs_a_label_column(spam, three_classes, tmp_path):
    data = rows_csv(tmp_path / "labelled.csv", ["a", "b", "label"], [[0, 2, "spam"], [1, 0, "maybe"]])
    with pytest.raises(
        DataError, match=r"line 3: label 'maybe' is not one of the model's classes \(ham, spam\)"
    ):
        evaluate_file(spam.path, data)
    unlabelled = rows_csv(tmp_path / "unlabelled.csv", PARTS, [[1, 2, 3]])
    with pytest.raises(DataError, match="no label column: expected a last column after the 3 features"):
        evaluate_file(three_classes.path, unlabelled)


# ---------------------------------------------------------------- the shipped example


def test_the_example_rows_predict_with_a_model_trained_on_the_default_data(tmp_path):
    config = load_config(None, ["train.iterations=50", "train.print_cost=false", "train.device=cpu"])
    torch_logreg.train(config, run_dir=tmp_path / "run")
    example = ROOT / "examples" / "new_rows.csv"

    rows = read_csv(predict_file(tmp_path / "run", example))

    model = load_model(tmp_path / "run")
    with open(example) as handle:
        header = next(csv.reader(handle))
    assert header == model.feature_names  # the 30 training columns, no label
    x = torch.tensor(np.loadtxt(example, delimiter=",", skiprows=1))
    assert [float(r[next(k for k in r if k.startswith("p_"))]) for r in rows] == pytest.approx(
        model.predict_proba(x).tolist(), abs=1e-9
    )
    assert [r["prediction"] for r in rows] == [
        "1",
        "1",
        "0",
        "0",
        "0",
    ]  # rows 1, 2, 20, 21, 22: M, M, B, B, B


def test_evaluate_split_test_scores_the_runs_own_held_out_rows(tmp_path, capsys):
    from reliability_helpers import QUIET, run_main

    run = tmp_path / "run"
    assert run_main(capsys, "train.iterations=300", *QUIET, "--run-dir", run).status == 0
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("test", "train"):
        done = run_main(capsys, "evaluate", "--checkpoint", run, "--split", split)
        assert done.status == 0, done.err
        said = dict(line.split(": ") for line in done.out.splitlines())
        assert float(said["accuracy"]) == pytest.approx(metrics[f"{split}_accuracy"], abs=1e-6)
        assert float(said["auc"]) == pytest.approx(metrics[f"{split}_auc"], abs=1e-6)
    assert int(dict(line.split(": ") for line in done.out.splitlines())["rows"]) == 427
    done = run_main(capsys, "evaluate", "--checkpoint", run)
    assert done.status == 2 and "--split" in done.err
