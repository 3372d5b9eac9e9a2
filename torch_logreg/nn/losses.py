"""Pointwise losses of an output layer, apart from the linear wiring that feeds them.

As scikit-learn's ``_loss`` module keeps ``HalfBinomialLoss`` and
``HalfMultinomialLoss`` apart from its linear models, a loss here knows only the
logits z and the labels y; a model (logistic regression, or a network's last layer)
chooses one by its number of classes and reuses it.  The formulas are
``functional``'s:

    binomial     z (m,)    y (m,) in {0., 1.}   ℓ = softplus(z) − y·z           dz = σ(z) − y
    multinomial  z (m, K)  y (m,) int64          ℓ = logsumexp(z) − z_y          dz = softmax(z) − onehot(y)

each divided by m (or Σs with sample weights s).
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import functional as LF


class BinomialLoss:
    """Two classes from one logit per row: P(y = 1) = σ(z)."""

    def outputs(self, num_classes: int) -> int:
        return 1

    def targets(self, y: Tensor, dtype: torch.dtype) -> Tensor:
        """Labels as this loss computes with them: 0./1. in the logits' dtype."""
        return y.to(dtype)

    def cost(self, z: Tensor, y: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        """(1/Σs) Σ s·(softplus(z) − y·z) through the hand-written autograd Function.  z: (m,) -> ()."""
        return LF.logistic_cost(z.reshape(-1), y, sample_weight)

    def cost_forward(self, z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None) -> Tensor:
        return LF.logistic_cost_forward(z.reshape(-1), y, m, sample_weight)

    def cost_backward(self, z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None) -> Tensor:
        """dz = s·(σ(z) − y)/m, shaped like z."""
        return LF.logistic_cost_backward(z.reshape(-1), y, m, sample_weight).view_as(z)

    def proba(self, z: Tensor) -> Tensor:
        """P(class 1) = σ(z).  (m,) or (m, 1) -> (m,)."""
        return torch.sigmoid(z.reshape(-1))

    def predict(self, z: Tensor, threshold: float = 0.5) -> Tensor:
        """Class indices, int64: 1 where σ(z) > threshold (strictly).  At 0.5 that is z > 0."""
        z = z.reshape(-1)
        if threshold == 0.5:
            return (z > 0).long()
        return (torch.sigmoid(z) > threshold).long()


class MultinomialLoss:
    """K classes from K logits per row: P(y = k) = softmax(z)_k."""

    def outputs(self, num_classes: int) -> int:
        return num_classes

    def targets(self, y: Tensor, dtype: torch.dtype) -> Tensor:
        """Labels as this loss computes with them: int64 class indices."""
        return y.long()

    def cost(self, z: Tensor, y: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        """(1/Σs) Σ s·(logsumexp(z) − z_y) through the hand-written autograd Function.  z: (m, K) -> ()."""
        return LF.softmax_cost(z, y, sample_weight)

    def cost_forward(self, z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None) -> Tensor:
        return LF.softmax_cost_forward(z, y.long(), m, sample_weight)

    def cost_backward(self, z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None) -> Tensor:
        """dz = s·(softmax(z) − onehot(y))/m.  (m, K)."""
        return LF.softmax_cost_backward(z, y.long(), m, sample_weight)

    def proba(self, z: Tensor) -> Tensor:
        """softmax(z).  (m, K) -> (m, K), rows summing to 1."""
        return torch.softmax(z, -1)

    def predict(self, z: Tensor, threshold: float = 0.5) -> Tensor:
        """Class indices, int64: the argmax of z (``threshold`` is for binary models only)."""
        return z.argmax(-1)


def loss_for(num_classes: int) -> BinomialLoss | MultinomialLoss:
    """The output layer's loss: one sigmoid neuron for 2 classes, softmax over K for K >= 3."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    return BinomialLoss() if num_classes == 2 else MultinomialLoss()
