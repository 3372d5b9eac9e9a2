"""The metrics a user expects beside accuracy, from torch alone (scikit-learn is a test dependency only).

For y (N,) class indices 0..K−1 and ``proba`` as ``predict_proba`` gives it,
(N,) P(class 1) for two classes or (N, K) rows that sum to 1 for K ≥ 3:

- accuracy = mean(ŷ = y), ŷ = [p > 0.5] for two classes (the model's default
  threshold), argmax otherwise (the first class among equal maxima, as ``argmax``);
- log_loss = −(1/N) Σᵢ log clip(p_{i,yᵢ}, ε, 1 − ε), ε the machine epsilon of proba's
  dtype, as scikit-learn's ``log_loss`` (so a confident mistake costs −log ε, not ∞);
- two classes: precision = tp/(tp+fp), recall = tp/(tp+fn), F1 = 2tp/(2tp+fp+fn),
  each 0 where its denominator is 0 (scikit-learn's ``zero_division=0``), and the
  ROC AUC: the trapezoid under (fpr, tpr) taken at each distinct score, so tied scores
  count half, as scikit-learn's ``roc_auc_score``; NaN when y holds one class only;
- K classes: macro F1, the mean of the one-vs-rest F1 over the classes that occur
  in y or in ŷ (scikit-learn's ``f1_score(average="macro", zero_division=0)``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

BINARY_METRICS = ("accuracy", "auc", "f1", "precision", "recall", "log_loss")
MULTICLASS_METRICS = ("accuracy", "macro_f1", "log_loss")


def classification_metrics(y, proba, num_classes: int, prefix: str) -> dict[str, float]:
    """``{f"{prefix}_{name}": value}`` for the names in BINARY_METRICS or MULTICLASS_METRICS.

    Args:
        y: (N,) class indices (any real or integer dtype; a tensor or an array).
        proba: (N,) P(class 1) when ``num_classes == 2`` ((N, 2) is accepted too), else (N, K).
        num_classes: K.
        prefix: ``"train"`` or ``"test"``.

    Example:
        >>> classification_metrics(torch.tensor([0., 1.]), torch.tensor([0.2, 0.9]), 2, "test")["test_auc"]
        1.0
    """
    proba = torch.as_tensor(proba).detach().cpu()
    y = torch.as_tensor(y).detach().cpu().reshape(-1).long()
    if not proba.is_floating_point():
        proba = proba.double()
    if num_classes == 2:
        p1 = proba[:, 1] if proba.ndim == 2 else proba.reshape(-1)
        values = _binary_metrics(y, p1)
    else:
        values = _multiclass_metrics(y, proba.reshape(-1, num_classes))
    return {f"{prefix}_{name}": value for name, value in values.items()}


def _binary_metrics(y: torch.Tensor, p1: torch.Tensor) -> dict[str, float]:
    positive = y == 1
    predicted = p1 > 0.5
    tp = int((predicted & positive).sum())
    fp = int((predicted & ~positive).sum())
    fn = int((~predicted & positive).sum())
    p_true = torch.where(positive, p1, 1 - p1)
    return {
        "accuracy": float((predicted == positive).double().mean()),
        "auc": roc_auc(y, p1),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "log_loss": _log_loss(p_true),
    }


def _multiclass_metrics(y: torch.Tensor, proba: torch.Tensor) -> dict[str, float]:
    k = proba.shape[1]
    predicted = proba.argmax(dim=1)
    tp = torch.bincount(y[predicted == y], minlength=k)
    true_count, predicted_count = torch.bincount(y, minlength=k), torch.bincount(predicted, minlength=k)
    seen = (true_count + predicted_count) > 0
    f1 = [_ratio(2 * int(tp[c]), int(true_count[c] + predicted_count[c])) for c in range(k) if seen[c]]
    return {
        "accuracy": float((predicted == y).double().mean()),
        "macro_f1": sum(f1) / len(f1),
        "log_loss": _log_loss(proba.gather(1, y[:, None]).reshape(-1)),
    }


def roc_auc(y: torch.Tensor, score: torch.Tensor) -> float:
    """Area under the ROC curve of ``score`` for y ∈ {0, 1}, one point per distinct score.

    Sorting by score, descending, and cutting only where the score changes puts a
    group of tied scores on one diagonal segment, which is how ties get half credit.
    """
    positive = (torch.as_tensor(y).reshape(-1) == 1).double()
    n_pos = float(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    score = torch.as_tensor(score).reshape(-1).double()
    order = _descending_order(score).to(score.device)
    score, positive = score[order], positive[order]
    last_of_group = torch.ones_like(score, dtype=torch.bool)
    last_of_group[:-1] = score[1:] != score[:-1]
    tps = torch.cumsum(positive, 0)[last_of_group]
    fps = torch.cumsum(1 - positive, 0)[last_of_group]
    tpr = torch.cat([tps.new_zeros(1), tps / n_pos])
    fpr = torch.cat([fps.new_zeros(1), fps / n_neg])
    return float(torch.trapezoid(tpr, fpr))


def _descending_order(score: torch.Tensor) -> torch.Tensor:
    """Indices that sort ``score`` descending.  Tied scores may come in any order: roc_auc
    cuts only where the score changes.  On the CPU numpy's vectorized sort is ~3× torch's."""
    if score.device.type == "cpu":
        return torch.from_numpy(np.argsort(-score.numpy()))
    return torch.argsort(score, descending=True)


def _log_loss(p_true: torch.Tensor) -> float:
    eps = torch.finfo(p_true.dtype).eps
    return float(-torch.log(p_true.clamp(eps, 1 - eps).double()).mean())


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


__all__ = ["classification_metrics", "roc_auc", "BINARY_METRICS", "MULTICLASS_METRICS"]


def strict_json(metrics: dict) -> str:
    """``metrics`` as strict JSON (no bare NaN or Infinity, which most JSON readers refuse).

    A value that is not finite becomes ``null``, and ``undefined`` says why, per key:
    an AUC on rows of one class has no value, any other non-finite number is named as it was.
    """
    import json

    reasons = {}

    def cleaned(value, key: str):  # nested mappings too (art's initial and final losses), keys dotted
        if isinstance(value, dict):
            return {k: cleaned(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
        if isinstance(value, float) and not math.isfinite(value):
            reasons[key] = undefined_reason(key, value)
            return None
        return value

    clean = cleaned(metrics, "")
    if reasons:
        clean["undefined"] = reasons
    return json.dumps(clean, indent=2, allow_nan=False) + "\n"


def undefined_reason(key: str, value: float) -> str:
    """Why a metric ``key`` has no finite value: an AUC on rows of one class has none."""
    return "undefined: the rows hold only one class" if key.endswith("auc") else f"not finite ({value})"
