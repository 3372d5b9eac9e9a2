"""What ``stats.summary`` accepts: the model (or ``load_model``'s wrapper), the rows, labels and weights.

Each check raises one error naming what is wrong; separable data (l2 = 0, every row classified
correctly) is refused with ``PerfectSeparationError``, since the table would not exist.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .data.standardizer import Standardizer
from .errors import UserInputError


class PerfectSeparationError(UserInputError):
    """Every training row is classified correctly with l2 = 0: the maximum-likelihood estimate does not
    exist."""


def unwrapped(model, standardizer, feature_names, classes):
    """(the logistic regression, standardizer, feature names, classes): a ``StandardizedModel``
    (``load_model``) gives its own where the caller gave none; a model without a closed-form Hessian is a
    TypeError."""
    if _wraps_classifier(model):  # load_model's StandardizedModel: raw features in
        std = model.std.to(torch.float64)
        if standardizer is None and not (bool((model.mean == 0).all()) and bool((std == 1).all())):
            standardizer = Standardizer(model.mean, model.std)
        feature_names = model.feature_names if feature_names is None else feature_names
        classes = model.classes if classes is None else classes
        model = model.model
    if not all(hasattr(model, name) for name in ("hessian", "weight", "bias", "loss")):
        raise TypeError(
            f"summary needs a logistic regression (a model with a closed-form Hessian over [W, b]); "
            f"got {type(model).__name__}"
        )
    return model, standardizer, feature_names, classes


def checked_rows(x, y, sample_weight, n: int, k: int, device):
    """x (m, n), y (m,) and the weights (m,) or None, in float64 on ``device``, their shapes and labels
    checked."""
    x = _as_float64(x, device)
    if x.ndim != 2 or x.shape[1] != n:
        raise ValueError(f"x must have shape (m, {n}), got {tuple(x.shape)}")
    y = _as_float64(y, device).reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"y has {len(y)} rows, x has {len(x)}")
    weights = None if sample_weight is None else _as_float64(sample_weight, device).reshape(-1)
    if weights is not None and len(weights) != len(x):
        raise ValueError(f"sample_weight has {len(weights)} rows, x has {len(x)}")
    _check_labels_and_weights(y, weights, k)
    return x, y, weights


def _wraps_classifier(model) -> bool:
    return (
        hasattr(model, "model")
        and hasattr(model, "mean")
        and hasattr(model, "std")
        and hasattr(model, "classes")
    )


def _as_float64(values, device) -> Tensor:
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(np.ascontiguousarray(values))
    return torch.as_tensor(values).to(device=device, dtype=torch.float64)


def refuse_separable(model, x: Tensor, y: Tensor, weights: Tensor | None) -> None:
    """diagnostics' separation test: with l2 = 0, every (weighted) row classified correctly."""
    counted = torch.ones_like(y, dtype=torch.bool) if weights is None else weights > 0
    predicted = model.loss.predict(model(x)).to(y.dtype)
    if bool((predicted == y)[counted].all()):
        raise PerfectSeparationError(
            "the training data are perfectly separated: the model classifies every row correctly, "
            "so the maximum-likelihood coefficients are infinite and have no standard errors "
            "(statsmodels: PerfectSeparation); fit with model.l2 > 0 for a penalized table"
        )


def _check_labels_and_weights(y: Tensor, weights: Tensor | None, k: int) -> None:
    """y must be class indices 0..K−1 and the weights finite and ≥ 0 with a positive sum, as in ``fit``."""
    bad = ~((y == y.round()) & (y >= 0) & (y <= k - 1))
    if bool(bad.any()):
        value = float(y[bad][0])
        hint = " (labels in {-1, 1}: pass (y + 1) / 2)" if value == -1 and k == 2 else ""
        raise ValueError(
            f"y must hold class indices 0..{k - 1}; row {int(bad.nonzero()[0])} holds {value:g}{hint}"
        )
    if weights is not None:
        wrong = ~torch.isfinite(weights) | (weights < 0)
        if bool(wrong.any()):
            row = int(wrong.nonzero()[0])
            raise ValueError(
                f"sample_weight must be finite and >= 0; row {row} holds {float(weights[row]):g}"
            )
        if not float(weights.sum()) > 0:
            raise ValueError("sample_weight sums to 0: no row counts")
