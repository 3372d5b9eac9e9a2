"""The one-neuron model: logistic regression as an ``nn.Module``."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import functional as LF

INITS = ("zeros", "uniform")


class LogisticRegression(nn.Module):
    r"""One neuron: z = x Wᵀ + b, a = σ(z), with the document's hand-written backward.

    ``cost(x, y)`` is J = mean(softplus(z) − y·z) + (l2 / 2m)·‖W‖², so
    ``cost(x, y).backward()`` fills ``.grad`` with dW = dzᵀx + (l2/m)W and
    db = Σdz, dz = (σ(z) − y)/m, and any ``torch.optim`` optimizer can step on it.
    With ``l2 = 1/C`` the optimum is scikit-learn's ``LogisticRegression(C=C)``.

    Args:
        in_features: n, the number of features.
        l2: strength of the L2 penalty on the weight (the bias is never penalized).
        init: ``"zeros"`` as in the document, or ``"uniform"`` (U(−1/√n, 1/√n), as nn.Linear).
        check_grad: recompute the gradients of every ``cost`` call with plain autograd
            and raise ``GradientMismatchError`` if they differ (slow; for debugging).

    Shape:
        x: (N, n); y: (N,) in {0, 1}; ``forward`` returns logits (N,).

    Examples::

        >>> model = LogisticRegression(3)
        >>> model(torch.ones(4, 3)).shape
        torch.Size([4])
    """

    def __init__(self, in_features: int, l2: float = 0.0, init: str = "zeros", check_grad: bool = False,
                 device=None, dtype=None):
        super().__init__()
        if in_features < 1:
            raise ValueError(f"in_features must be >= 1, got {in_features}")
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.in_features = in_features
        self.l2 = float(l2)
        self.init = init
        self.check_grad = check_grad
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(1, in_features, **factory))  # (1, n)
        self.bias = nn.Parameter(torch.empty(1, **factory))  # (1,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.init == "zeros":
                self.weight.zero_()
                self.bias.zero_()
            else:
                bound = 1.0 / math.sqrt(self.in_features)
                self.weight.uniform_(-bound, bound)
                self.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """Logits z = x Wᵀ + b.  x: (N, n) -> (N,)."""
        return LF.linear(x, self.weight, self.bias).squeeze(-1)

    def predict_proba(self, x: Tensor) -> Tensor:
        """a = σ(z), the probability of class 1.  x: (N, n) -> (N,)."""
        return torch.sigmoid(self(x))

    def predict(self, x: Tensor, threshold: float = 0.5) -> Tensor:
        """1 where σ(z) > threshold (strictly), else 0, in x's dtype.  x: (N, n) -> (N,)."""
        return (self.predict_proba(x) > threshold).to(x.dtype)

    def cost(self, x: Tensor, y: Tensor) -> Tensor:
        """J = mean(softplus(z) − y·z) + (l2 / 2m)·‖W‖².  x: (N, n), y: (N,) -> scalar."""
        if self.check_grad and torch.is_grad_enabled():
            from .gradcheck import check_gradients  # local: only debugging needs it

            check_gradients(self, x, y)
        value = LF.logistic_cost(self(x), y)
        if self.l2:
            value = value + LF.l2_penalty(self.weight, self.l2, x.shape[0])
        return value

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, l2={self.l2}, init={self.init!r}"
