"""Optimizers: the document's gradient descent and torch's L-BFGS reporting convergence.

``gd`` is w := w − α·dw by hand; ``sgd``, ``adam`` and ``lbfgs`` are torch.optim's;
``newton`` (Newton's method, IRLS) is in ``newton.py`` and importable from here.

``newton`` and ``lbfgs`` iterate to convergence: they report ``converged`` once the
full-batch gradient's largest absolute entry is below ``grad_tol`` (scaled to the
dtype by ``default_grad_tol``), and the trainer stops there.
"""

from __future__ import annotations

import torch

from .capabilities import PLAIN_TORCH, Capabilities, capabilities  # noqa: F401
from .convergence import GRAD_TOL, default_grad_tol  # noqa: F401  (importable from here, as before)


class GradientDescent(torch.optim.Optimizer):
    """The document's update, w := w − α·dw, for every parameter."""

    capabilities = Capabilities(plain_update=True, fixed_step=True)

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


class LBFGS(torch.optim.LBFGS):
    """torch's L-BFGS (strong-Wolfe line search) that reports ``converged`` as Newton does.

    After each ``step`` it evaluates the closure once more at the point reached, so the
    gradient test uses the full-batch gradient there, not that of the last trial point.
    """

    capabilities = Capabilities(needs_closure=True, iterates_to_convergence=True)

    def __init__(self, params, lr: float, grad_tol: float, tolerance_change: float, history_size: int):
        super().__init__(
            params,
            lr=lr,
            line_search_fn="strong_wolfe",
            tolerance_grad=grad_tol,
            tolerance_change=tolerance_change,
            history_size=history_size,
        )
        self.grad_tol = grad_tol
        # stalled: a whole step moved no parameter (no line search finds a lower cost in this dtype)
        self.converged, self.stalled, self.grad_max = False, False, float("inf")

    def step(self, closure):  # type: ignore[override]
        params = [p for group in self.param_groups for p in group["params"]]
        before = torch.nn.utils.parameters_to_vector(params).detach().clone()
        loss = super().step(closure)
        with torch.enable_grad():
            closure()
        grads = [p.grad.reshape(-1) for p in params if p.grad is not None]
        self.grad_max = float(torch.cat(grads).abs().max())
        self.converged = self.grad_max < self.grad_tol
        self.stalled = not self.converged and torch.equal(before, torch.nn.utils.parameters_to_vector(params))
        return loss


from .newton import (  # noqa: E402,F401
    AUTO_HESSIAN_MIN_PARAMETERS,
    AUTO_HESSIAN_ROWS_PER_PARAMETER,
    NEWTON_MAX_FEATURES,
    SMALL_NEWTON_BYTES,
    Newton,
    auto_hessian_rows,
)
