"""The estimators' fit on scipy.sparse X: the objective of ``torch_logreg.train``, never densified.

    J = (1/Σs) Σᵢ sᵢ·ℓ(xᵢ Wᵀ + b, yᵢ) + (l2/2Σs)·‖W‖²

with the cost, gradient and Hessian of ``torch_logreg.nn.sparse`` (CSR products of x and xᵀ).
The trainer's loop indexes and standardizes dense rows, so sparse X takes this short loop:

* ``lbfgs``: ``torch.optim.LBFGS`` (strong Wolfe), history 10 as scipy's L-BFGS-B: a history of
  100 would hold 200 vectors of n, more than the CSR itself when n is large.
* ``newton``: the dense (P, P) Hessian xᵀ D x from CSR × CSR products while P = K(n+1) ≤
  ``nn.sparse.DENSE_HESSIAN_MAX``; beyond, Newton–CG: each step solves H d = −g by conjugate
  gradients on matrix-free products H v (no P × P matrix), as scikit-learn's ``newton-cg``.
  Both take the largest step of 1, ½, ¼, … that lowers J (Armijo) and, once the gradient test
  passes, one final full step (as the trainer's Newton).
* ``gd``, ``sgd``, ``adam``: ``lr`` steps on the full batch, or on ``batch_size`` rows drawn
  per epoch from (seed, epoch) as the trainer does.

The stopping rules are the trainer's: ``lbfgs`` and ``newton`` stop once the gradient's largest
entry is at most ``tol``; ``gd``/``sgd``/``adam`` once the full training cost changes by less than
``cost_tol`` from one epoch to the next (its ``train.tol``), and without ``cost_tol`` run
``max_iter`` steps.  ``tol=0`` runs ``max_iter`` steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .nn import sparse as SF

LBFGS_HISTORY = 10
CG_MAX_STEPS = 250
ARMIJO = 1e-4


@dataclass
class SparseFit:
    weight: torch.Tensor  # (K, n)
    bias: torch.Tensor  # (K,)
    iterations: int
    converged: bool
    grad_max: float
    stalled: bool = False


class _Objective:
    """J and its derivatives at (W, b) on the full batch or on a mini-batch of rows."""

    def __init__(self, rows: SF.SparseRows, y: torch.Tensor, sample_weight, l2: float):
        self.rows, self.y, self.s, self.l2 = rows, y, sample_weight, l2

    def value(self, weight, bias) -> float:
        cost, _, _ = SF.cost_and_grads(
            self.rows, self.y, weight, bias, self.l2, with_cost=True, sample_weight=self.s
        )
        return float(cost)

    def grads(self, weight, bias, with_cost=False):
        return SF.cost_and_grads(
            self.rows, self.y, weight, bias, self.l2, with_cost=with_cost, sample_weight=self.s
        )


def fit_sparse(
    matrix,
    y: torch.Tensor,
    sample_weight: torch.Tensor | None,
    *,
    outputs: int,
    l2: float,
    optimizer: str,
    lr: float,
    max_iter: int,
    tol: float,
    batch_size: int | None,
    seed: int,
    dtype: torch.dtype,
    cost_tol: float | None = None,
) -> SparseFit:
    """Fit W (outputs, n), b (outputs,) from zeros on the scipy.sparse ``matrix`` (m, n).

    y: (m,) 0./1. for one output, int64 class indices for K; sample_weight: (m,) or None.
    """
    rows = SF.SparseRows.from_scipy(matrix, dtype)
    weight = torch.zeros(outputs, rows.shape[1], dtype=dtype)
    bias = torch.zeros(outputs, dtype=dtype)
    full = _Objective(rows, y, sample_weight, l2)
    if optimizer == "lbfgs":
        return _lbfgs(full, weight, bias, lr, max_iter, tol)
    if optimizer == "newton":
        return _newton(full, weight, bias, max_iter, tol)
    if optimizer in ("gd", "sgd", "adam"):
        return _first_order(
            full, matrix, weight, bias, optimizer, lr, max_iter, tol, cost_tol, batch_size, seed
        )
    raise ValueError(f"unknown optimizer {optimizer!r}: use newton, lbfgs, gd, sgd or adam")


def _grad_max(dweight, dbias) -> float:
    return max(float(dweight.abs().max()), float(dbias.abs().max()))


def _lbfgs(full: _Objective, weight, bias, lr, max_iter, tol) -> SparseFit:
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    opt = torch.optim.LBFGS(
        [weight, bias],
        lr=lr,
        max_iter=max(max_iter, 1),
        tolerance_grad=tol,
        tolerance_change=0.0,
        history_size=LBFGS_HISTORY,
        line_search_fn="strong_wolfe",
    )

    def closure():
        cost, dweight, dbias = full.grads(weight.detach(), bias.detach(), with_cost=True)
        weight.grad, bias.grad = dweight, dbias
        return cost

    if max_iter > 0:
        opt.step(closure)
    weight, bias = weight.detach(), bias.detach()
    _, dweight, dbias = full.grads(weight, bias)
    grad_max = _grad_max(dweight, dbias)
    iterations = int(opt.state[opt._params[0]].get("n_iter", 0)) if max_iter > 0 else 0
    # torch's L-BFGS also stops when a step changes nothing (rounding): short of max_iter and of tol, a stall.
    stalled = iterations < max_iter and grad_max > tol
    return SparseFit(weight, bias, iterations, grad_max <= tol, grad_max, stalled=stalled)


def _newton(full: _Objective, weight, bias, max_iter, tol) -> SparseFit:
    k, n = weight.shape
    dense = k * (n + 1) <= SF.DENSE_HESSIAN_MAX
    cost, dweight, dbias = full.grads(weight, bias, with_cost=True)
    cost = float(cost)
    grad_max, it = _grad_max(dweight, dbias), 0
    while it < max_iter:
        if dense:
            step_w, step_b = _dense_newton_step(full, weight, bias, dweight, dbias)
        else:
            step_w, step_b = _cg_newton_step(full, weight, bias, dweight, dbias)
        if grad_max <= tol:  # as the trainer's Newton: one final full step, which squares the remaining error
            weight, bias, it = weight + step_w, bias + step_b, it + 1
            _, dweight, dbias = full.grads(weight, bias)
            return SparseFit(weight, bias, it, True, _grad_max(dweight, dbias))
        slope = float((dweight * step_w).sum() + (dbias * step_b).sum())
        t = 1.0
        for _ in range(40):  # Armijo backtracking: the largest of 1, ½, ¼, … that lowers J enough
            new_cost = full.value(weight + t * step_w, bias + t * step_b)
            if new_cost <= cost + ARMIJO * t * slope:
                break
            t /= 2
        else:
            return SparseFit(weight, bias, it, False, grad_max, stalled=True)
        weight, bias, it = weight + t * step_w, bias + t * step_b, it + 1
        cost, dweight, dbias = full.grads(weight, bias, with_cost=True)
        cost, grad_max = float(cost), _grad_max(dweight, dbias)
    return SparseFit(weight, bias, it, grad_max <= tol, grad_max)


def _dense_newton_step(full: _Objective, weight, bias, dweight, dbias):
    """d = −H⁺ g from the dense Hessian; least squares, since softmax's H is singular along the bias shift."""
    k, n = weight.shape
    hess = SF.hessian(full.rows, weight, bias, full.l2, sample_weight=full.s)
    gradient = torch.cat([dweight.reshape(-1), dbias])
    step = -torch.linalg.lstsq(hess, gradient.unsqueeze(1), driver="gelsd").solution[:, 0]
    return step[: k * n].view(k, n), step[k * n :]


def _cg_newton_step(full: _Objective, weight, bias, dweight, dbias):
    """d ≈ −H⁻¹ g by conjugate gradients on H v products, to a residual of min(½, √‖g‖)·‖g‖ (truncated Newton).

    Softmax's H is singular along the bias shift, but g and every CG direction are orthogonal to it
    (Σ_k db_k = 0), so CG stays in the range of H."""

    def product(vw, vb):
        return SF.hessian_vector(full.rows, weight, bias, full.l2, vw, vb, sample_weight=full.s)

    def dot(a, b):
        return float((a[0] * b[0]).sum() + (a[1] * b[1]).sum())

    step = (torch.zeros_like(dweight), torch.zeros_like(dbias))
    residual = (-dweight, -dbias)
    direction = residual
    norm_g = math.sqrt(dot(residual, residual))
    target = min(0.5, math.sqrt(norm_g)) * norm_g
    rr = norm_g**2
    for _ in range(CG_MAX_STEPS):
        hd = product(*direction)
        curvature = dot(direction, hd)
        if curvature <= 0:  # only rounding makes H v non-positive: keep what was found
            break
        alpha = rr / curvature
        step = (step[0] + alpha * direction[0], step[1] + alpha * direction[1])
        residual = (residual[0] - alpha * hd[0], residual[1] - alpha * hd[1])
        rr_new = dot(residual, residual)
        if math.sqrt(rr_new) <= target:
            break
        direction = (residual[0] + (rr_new / rr) * direction[0], residual[1] + (rr_new / rr) * direction[1])
        rr = rr_new
    if not torch.any(step[0]) and not torch.any(step[1]):
        return -dweight, -dbias  # no curvature seen: steepest descent, the line search sizes it
    return step


def _first_order(
    full: _Objective, matrix, weight, bias, name, lr, max_iter, tol, cost_tol, batch_size, seed
) -> SparseFit:
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    opt = (
        torch.optim.Adam([weight, bias], lr=lr) if name == "adam" else torch.optim.SGD([weight, bias], lr=lr)
    )
    m = full.rows.shape[0]
    per_epoch = 1 if batch_size is None or batch_size >= m else math.ceil(m / batch_size)
    total = m if full.s is None else full.s.sum()  # the L2 term's m in every mini-batch, as the trainer's
    order, last_cost, settled = None, None, False
    it = 0
    while it < max_iter:
        epoch, index = divmod(it, per_epoch)
        if index == 0 and cost_tol:  # the trainer's train.tol: the full cost, once an epoch
            cost = full.value(weight.detach(), bias.detach())
            if last_cost is not None and abs(last_cost - cost) < cost_tol:
                settled = True
                break
            last_cost = cost
        if per_epoch == 1:
            _, dweight, dbias = full.grads(weight.detach(), bias.detach())
        else:
            if index == 0 or order is None:  # each epoch's order depends only on (seed, epoch)
                order = torch.randperm(
                    m, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)
                ).numpy()
            picked = np.sort(order[index * batch_size : (index + 1) * batch_size])
            weights = None if full.s is None else full.s[picked]
            _, dweight, dbias = SF.cost_and_grads(
                full.rows.rows(picked, matrix),
                full.y[picked],
                weight.detach(),
                bias.detach(),
                full.l2,
                sample_weight=weights,
                l2_rows=total,
            )
        weight.grad, bias.grad = dweight, dbias
        opt.step()
        it += 1
    weight, bias = weight.detach(), bias.detach()
    _, dweight, dbias = full.grads(weight, bias)
    grad_max = _grad_max(dweight, dbias)
    return SparseFit(weight, bias, it, settled if cost_tol else grad_max <= tol, grad_max)
