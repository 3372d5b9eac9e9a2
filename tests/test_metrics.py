"""classification_metrics agrees with scikit-learn, the reference users know, on random and edge cases."""

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from torch_logreg.training.metrics import classification_metrics, roc_auc

DTYPES = [torch.float32, torch.float64]


def sklearn_binary(y, p):
    y, p = np.asarray(y), np.asarray(p)
    pred = (p > 0.5).astype(int)
    return {
        "test_accuracy": skm.accuracy_score(y, pred),
        "test_auc": skm.roc_auc_score(y, p),
        "test_f1": skm.f1_score(y, pred, zero_division=0),
        "test_precision": skm.precision_score(y, pred, zero_division=0),
        "test_recall": skm.recall_score(y, pred, zero_division=0),
        "test_log_loss": skm.log_loss(y, p, labels=[0, 1]),
    }


def sklearn_multiclass(y, proba):
    y, proba = np.asarray(y), np.asarray(proba)
    pred = proba.argmax(axis=1)
    return {
        "train_accuracy": skm.accuracy_score(y, pred),
        "train_macro_f1": skm.f1_score(y, pred, average="macro", zero_division=0),
        "train_log_loss": skm.log_loss(y, proba, labels=list(range(proba.shape[1]))),
    }


def binary_cases():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    yield "random", y, rng.random(200)
    yield "informative", y, 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(size=200))))
    yield "ties", y, rng.choice([0.1, 0.3, 0.5, 0.7, 0.9], 200)  # 0.5 itself predicts class 0
    yield "one class predicted", y, rng.uniform(0.6, 1.0, 200)
    yield "none predicted positive", y, rng.uniform(0.0, 0.4, 200)
    yield "perfect separation", y, np.where(y == 1, 0.9, 0.1)
    yield "confident mistakes", y, np.where(y == 1, 0.0, 1.0)  # log loss clipped at −log ε, not ∞
    yield "all scores equal", y, np.full(200, 0.5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(binary_cases()), ids=lambda c: c[0])
def test_binary_metrics_match_scikit_learn(case, dtype):
    _, y, p = case
    p_typed = torch.tensor(p, dtype=dtype)
    ours = classification_metrics(torch.tensor(y, dtype=torch.float64), p_typed, 2, "test")
    expected = sklearn_binary(y, p_typed.numpy())
    assert ours.keys() == expected.keys()
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key


def test_auc_counts_a_tied_pair_half():
    # Positives score 0.8 and 0.5, negatives 0.8 and 0.2. Of the 4 (positive, negative) pairs,
    # 2 are ordered right, 1 wrong (0.5 < 0.8) and 1 tied (0.8 = 0.8): (2 + 0.5) / 4.
    y = torch.tensor([1, 0, 1, 0])
    assert roc_auc(y, torch.tensor([0.8, 0.8, 0.5, 0.2])) == 0.625


def test_auc_is_nan_when_the_labels_hold_one_class():
    assert math.isnan(classification_metrics(torch.ones(5), torch.rand(5), 2, "train")["train_auc"])


def multiclass_cases():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4))
    yield "random", y, logits
    yield "informative", y, logits + 3 * np.eye(4)[y]
    yield "one class predicted", y, np.tile([5.0, 0, 0, 0], (300, 1)) + 0.1 * logits
    yield "perfect separation", y, 20 * np.eye(4)[y]
    yield "a class never seen nor predicted", np.minimum(y, 2), logits[:, [0, 1, 2, 3]] - 9 * np.eye(4)[[3]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(multiclass_cases()), ids=lambda c: c[0])
def test_multiclass_metrics_match_scikit_learn(case, dtype):
    _, y, logits = case
    proba = torch.softmax(torch.tensor(logits, dtype=dtype), dim=1)
    ours = classification_metrics(torch.tensor(y, dtype=torch.float64), proba, 4, "train")
    expected = sklearn_multiclass(y, proba.numpy())
    assert ours.keys() == expected.keys()
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key


def test_binary_proba_may_be_given_as_two_columns_and_as_numpy():
    y = np.array([0, 1, 1, 0])
    p = np.array([0.2, 0.7, 0.4, 0.1])
    one_column = classification_metrics(y, p, 2, "test")
    assert classification_metrics(y, np.stack([1 - p, p], axis=1), 2, "test") == one_column
    assert one_column["test_accuracy"] == 0.75 and one_column["test_precision"] == 1.0
    assert one_column["test_recall"] == 0.5 and one_column["test_f1"] == pytest.approx(2 / 3)
