"""Optimizers: the document's gradient descent, torch.optim's, and Newton's method (IRLS).

``gd`` is w := w − α·dw by hand; ``sgd``, ``adam`` and ``lbfgs`` are torch.optim's;
``newton`` solves H·Δ = g with the hand-written Hessian of ``functional.hessian``
and backtracks along Δ until the cost decreases, so it never diverges.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from . import functional as LF

logger = logging.getLogger(__name__)

# An (n+1)×(n+1) solve per step costs O(n³) and O(n²) memory; past this n, L-BFGS is cheaper.
NEWTON_MAX_FEATURES = 4096


class GradientDescent(torch.optim.Optimizer):
    """The document's update, w := w − α·dw, for every parameter."""

    def __init__(self, params, lr: float):
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(p.grad, alpha=group["lr"])
        return loss


class Newton(torch.optim.Optimizer):
    """Newton's method for the one-neuron model: θ := θ − t·H⁻¹∇J with a backtracking line search.

    ``step(x, y)`` takes the data, since the Hessian needs it. t starts at 1 and halves
    until the cost decreases (Armijo); when H is singular, a growing ridge is added.
    Each step reads the cost on the host: Newton needs about ten steps, not thousands.
    """

    def __init__(self, weight: Tensor, bias: Tensor, l2: float = 0.0):
        super().__init__([weight, bias], {})
        self.weight, self.bias, self.l2 = weight, bias, l2

    @torch.no_grad()
    def step(self, x: Tensor, y: Tensor) -> float:  # type: ignore[override]
        weight, bias, l2 = self.weight, self.bias, self.l2
        cost, dweight, dbias = LF.cost_and_grads(x, y, weight, bias, l2, with_cost=True)
        gradient = torch.cat([dweight.reshape(-1), dbias])  # (n+1,)
        direction = _solve(LF.hessian(x, weight, bias, l2), gradient)
        slope = float(gradient @ direction)
        start = cost.item()
        old_w, old_b = weight.clone(), bias.clone()
        step_w, step_b = direction[:-1].view_as(weight), direction[-1:]
        step_size = 1.0
        for _ in range(40):
            torch.add(old_w, step_w, alpha=-step_size, out=weight)
            torch.add(old_b, step_b, alpha=-step_size, out=bias)
            new = LF.cost(x, y, weight, bias, l2).item()
            if new <= start - 1e-4 * step_size * slope:
                return new
            step_size /= 2
        weight.copy_(old_w)  # no decrease found: we are at the optimum to machine precision
        bias.copy_(old_b)
        return start


def _solve(matrix: Tensor, rhs: Tensor) -> Tensor:
    """H⁻¹g by Cholesky; a singular H (separable data, l2 = 0) gets a growing ridge."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    ridge, scale = 0.0, None
    for _ in range(12):
        if int(info) == 0:
            return torch.cholesky_solve(rhs.unsqueeze(1), factor).squeeze(1)
        scale = scale or float(matrix.diagonal().abs().max()) or 1.0
        ridge = max(ridge * 10, 1e-10 * scale)
        factor, info = torch.linalg.cholesky_ex(matrix + ridge * torch.eye(len(matrix), dtype=matrix.dtype,
                                                                            device=matrix.device))
    return torch.linalg.lstsq(matrix, rhs.unsqueeze(1)).solution.squeeze(1)


def make_optimizer(name: str, model, lr: float, momentum: float = 0.0, n_features: int | None = None):
    """The optimizer that ``optimizer.name`` asks for.  ``newton`` falls back to lbfgs past
    ``NEWTON_MAX_FEATURES``, with a log line."""
    if name == "newton" and (n_features := n_features or model.weight.shape[1]) > NEWTON_MAX_FEATURES:
        logger.warning("newton: %d features is too many for an n×n solve; using lbfgs", n_features)
        name = "lbfgs"
    params = list(model.parameters())
    if name == "gd":
        return GradientDescent(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "lbfgs":
        return torch.optim.LBFGS(params, lr=lr, line_search_fn="strong_wolfe")
    if name == "newton":
        return Newton(model.weight, model.bias, model.l2)
    raise ValueError(f"unknown optimizer {name!r}")
