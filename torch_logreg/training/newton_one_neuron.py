"""Newton's one-neuron fast paths: the steps of ``Newton`` for a model that offers ``one_neuron_parameters``.

Both step on θ = [W, b] with ``nn.functional``'s one-neuron formulas, never the model's generic methods:

* in cache (x up to ``newton.SMALL_NEWTON_BYTES``): a copy x̃ = [x, 1] and its transpose, so a step is
  a few dozen ops, where on small data the ops' overhead, not the arithmetic, is the time;
* blocked (larger x): ``row_blocks``, each candidate's cost and gradient (and, with few parameters,
  Hessian) in one pass over x.

They are a mixin of ``Newton``: the line search, the sampling of H's rows and the remembered cost are its.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..nn import functional as LF
from .newton_solve import solve as _solve

# Up to this many parameters, the blocked step forms H in the pass that computes the cost and the
# gradient (``nn.functional.cost_grad_hessian``): H's n² products a row then cost about what the
# pass's own work does, so a step reads x once instead of twice.  Past it H costs several gradients,
# and a candidate the line search rejects would waste one.
FUSED_MAX_PARAMETERS = 16


class OneNeuronSteps:
    """``Newton``'s steps for one neuron; ``self.weight``, ``self.bias`` and ``self.l2`` are the model's."""

    def _step_blocked(self, x: Tensor, y: Tensor) -> float:
        """One step in row blocks.  The line search computes each candidate's gradient in
        the same pass as its cost, while a block of x is in cache; the accepted candidate's
        is the next step's gradient, so a step reads x once, not twice (plus H's pass).
        With few parameters (``_fused``) the pass forms H too, and a step reads x once in all."""
        weight, bias, l2 = self.weight, self.bias, self.l2
        fused = self._fused(x)
        start, gradient = self._known_cost_and_gradient()
        hessian = self._known_hessian() if fused else None
        if gradient is None or (fused and hessian is None):
            start, gradient, hessian = self._blocked_derivatives(x, y, weight, bias, fused)
        converging = self._converging(gradient)
        if hessian is None:
            sample = None if converging else self._sampled_x(x)  # the final step squares the error: exact H
            if sample is None:
                hessian = LF.hessian(x, weight, bias, l2)
            else:  # the sample's mean curvature, with the full data's penalty l2/m
                hessian = LF.hessian(sample, weight, bias, l2 * len(sample) / len(x))
        direction = _solve(hessian, gradient, math.isfinite(self.grad_max))
        theta = torch.cat([weight.reshape(-1), bias])

        def cost_at(
            candidate: Tensor,
        ) -> tuple:  # fused: with H, also at the final point (the pass is cheaper)
            return self._blocked_derivatives(x, y, candidate[:-1].view_as(weight), candidate[-1:], fused)

        if converging:
            return self._final_step(theta, direction, cost_at)
        return self._line_search(theta, direction, gradient, start, cost_at)

    def _fused(self, x: Tensor) -> bool:
        """Whether H comes from the cost's own pass: few parameters (H then costs about what the cost
        does, and a rejected candidate's H little) and every row (no sampled H)."""
        return x.shape[1] + 1 <= FUSED_MAX_PARAMETERS and self._sample_rows(x.shape[0], x.device) is None

    def _blocked_derivatives(self, x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, with_hessian: bool):
        """(J, ∇J, ∇²J or None) over θ = [W, b] at (weight, bias), in one pass over x."""
        if with_hessian:
            cost, gradient, hessian = LF.cost_grad_hessian(x, y, weight, bias, self.l2)
            return cost.item(), gradient, hessian
        return (*_cost_and_gradient(x, y, weight, bias, self.l2), None)

    def _sampled_x(self, x: Tensor) -> Tensor | None:
        """x's sampled rows, gathered once per data tensor (not once per step)."""
        rows = self._sample_rows(x.shape[0], x.device)
        if rows is None:
            return None
        key = (x.data_ptr(), tuple(x.shape), x._version, len(rows))
        if self._sampled_key != key:
            self._sampled, self._sampled_key = x.index_select(0, rows), key
        return self._sampled

    def _step_in_cache(self, x: Tensor, y: Tensor) -> float:
        """The same step on small data, with the bias folded into θ = [W, b] and x̃ = [x, 1]:
        z = x̃θ, g = x̃ᵀ(σ(z) − y)/m + pθ, H = x̃ᵀ diag(σ(z)(1 − σ(z))/m) x̃ + diag(p), with
        p = l2/m on the weights and 0 on the bias.  A few dozen ops a step instead of ~90:
        on 427×30 the ops' overhead, not the arithmetic, is the time."""
        x_tilde, x_tilde_t, penalty, penalty_matrix = self._augmented(x)
        m = x.shape[0]
        theta = torch.cat([self.weight.reshape(-1), self.bias])  # (n+1,)
        a = torch.sigmoid(torch.mv(x_tilde, theta))
        gradient = torch.addmv(penalty * theta, x_tilde_t, a - y, alpha=1 / m)
        cost_at = self._in_cache_cost_at(x, y)
        converging = self._converging(gradient)
        rows = (
            None if converging else self._sample_rows(m, x.device)
        )  # the final step squares the error: exact H
        xt_h, x_h, a_h = (
            (x_tilde_t, x_tilde, a) if rows is None else (x_tilde_t[:, rows], x_tilde[rows], a[rows])
        )
        hessian = torch.addmm(penalty_matrix, xt_h * (a_h - a_h * a_h), x_h, alpha=1 / len(x_h))
        direction = _solve(hessian, gradient, math.isfinite(self.grad_max))
        if converging:
            return self._final_step(theta, direction, cost_at)
        start, _ = self._known_cost_and_gradient()
        if start is None:
            start = cost_at(theta)[0]
        return self._line_search(theta, direction, gradient, start, cost_at)

    def _in_cache_cost_at(self, x: Tensor, y: Tensor):
        """cost_at(θ') -> (J at θ', None) on small data: J = cost(x̃θ', y) + ½·θ'ᵀdiag(p)θ'."""
        x_tilde, _, penalty, _ = self._augmented(x)

        def cost_at(candidate: Tensor) -> tuple[float, None]:
            return float(
                LF.logistic_cost_forward(torch.mv(x_tilde, candidate), y)
                + 0.5 * penalty.dot(candidate * candidate)
            ), None

        return cost_at

    def _in_cache_cost_and_gradient(self, x: Tensor, y: Tensor, cost: float | None) -> tuple[float, Tensor]:
        """(J, ∇J) at the current θ on small data, by the formulas ``_step_in_cache`` uses; J is computed
        only when not given (``cost``: the one remembered at this very θ, the same number)."""
        x_tilde, x_tilde_t, penalty, _ = self._augmented(x)
        theta = torch.cat([self.weight.reshape(-1), self.bias])
        a = torch.sigmoid(torch.mv(x_tilde, theta))
        gradient = torch.addmv(penalty * theta, x_tilde_t, a - y, alpha=1 / x.shape[0])
        return (self._in_cache_cost_at(x, y)(theta)[0] if cost is None else cost), gradient

    def _augmented(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x̃ = [x, 1], x̃ᵀ (contiguous: the products below read it row by row), p and diag(p)."""
        key = (x.data_ptr(), tuple(x.shape), x._version)
        if self._cache_key != key:
            ones = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
            penalty = torch.full((x.shape[1] + 1,), self.l2 / x.shape[0], dtype=x.dtype, device=x.device)
            penalty[-1] = 0.0  # the bias is never penalized
            x_tilde = torch.cat([x, ones], 1)
            self._cache, self._cache_key = (
                (x_tilde, x_tilde.T.contiguous(), penalty, torch.diag(penalty)),
                key,
            )
        return self._cache


def _cost_and_gradient(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, l2: float) -> tuple[float, Tensor]:
    """(J, ∇J over θ = [W, b]) in one pass over x."""
    cost, dweight, dbias = LF.cost_and_grads(x, y, weight, bias, l2, with_cost=True)
    return cost.item(), torch.cat([dweight.reshape(-1), dbias])
