"""The sparse fit's divergence check: the dense estimators' ``TrainingDiverged``, for scipy.sparse X.

The dense estimators train through the trainer, which checks the cost, gradients and weights and stops with
``TrainingDiverged`` and advice.  The sparse objective (``sklearn_sparse``) has no such check, so huge
features surfaced either as a PyTorch internal assert from ``torch.linalg.lstsq`` on a Hessian of infinities
(newton, features beyond √(dtype max) ≈ 1.3e154 in float64, whose squares overflow), or as NaN
coefficients returned with only a "did not converge" warning (lbfgs): a fitted estimator that predicts
from NaN.  Here both end as the dense path ends, naming the features' range.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .errors import TrainingDiverged
from .sklearn_warnings import in_estimator_words
from .training.diagnostics import divergence_advice
from .training.optimizers import OPTIMIZERS

FIRST_STEP = (
    "training diverged at iteration 0: the cost or a gradient is not finite"  # the dense path's words
)


def checked_sparse_fit(fit, matrix, *, optimizer: str, lr: float, l2: float, dtype: torch.dtype):
    """``fit()`` (a ``sklearn_sparse.fit_sparse`` call on ``matrix``), or ``TrainingDiverged`` when its
    arithmetic would overflow or did: features beyond ``dtype``'s range, or newton on features whose squares
    overflow it (both refused before fitting), or a result whose weights or gradient are not finite."""
    data_max = float(np.abs(matrix.data).max()) if matrix.nnz else 0.0
    largest = torch.finfo(dtype).max
    if data_max > largest:  # the features themselves do not fit in dtype: no optimizer can start
        raise _diverged(FIRST_STEP, optimizer, lr, l2, dtype, 0.0, math.inf)
    # Newton's Hessian holds Σ p(1 − p)·xᵢⱼ·xᵢₖ / m: its entries overflow once the features' squares do.
    if optimizer == "newton" and data_max > math.sqrt(largest):
        raise _diverged(f"newton's Hessian would overflow {dtype}", optimizer, lr, l2, dtype, 0.0, data_max)
    result = fit()
    weight, bias = result.model.weight.detach(), result.model.bias.detach()
    weight_max = float(weight.abs().max()) if weight.numel() else 0.0
    finite = math.isfinite(result.grad_max) and bool(torch.isfinite(bias).all())
    if not (finite and math.isfinite(weight_max)):
        what = f"training diverged by iteration {result.iterations}: the cost or a gradient is not finite"
        raise _diverged(what, optimizer, lr, l2, dtype, weight_max, data_max)
    return result


def _diverged(what: str, optimizer, lr, l2, dtype, weight_max, data_max) -> TrainingDiverged:
    capabilities = OPTIMIZERS[optimizer].capabilities  # as the trainer's advice reads them
    advice = divergence_advice(
        optimizer,
        lr,
        steps_by_lr=capabilities.has_lr and not capabilities.needs_closure,
        line_search=capabilities.needs_closure,
        weight_max=weight_max if math.isfinite(weight_max) else 0.0,
        data_max=data_max,
        l2=l2,
        dtype=dtype,
    )
    return TrainingDiverged(in_estimator_words(f"{what} ({advice})"))
