"""Newton's direction Δ = H⁻¹g: from the (P, P) Hessian by Cholesky, or matrix-free by conjugate gradients.

``solve`` factors a formed H (a growing ridge when it is singular).  Past the size where a
(P, P) H is formed, ``conjugate_gradient`` solves H Δ = g from products H v alone (a model's
``hessian_product``), to a residual of min(½, √‖g‖)·‖g‖: truncated Newton, as scikit-learn's
``newton-cg`` (Nocedal & Wright, Numerical Optimization, algorithm 7.1).  Each product costs about
one gradient, so a step costs a few dozen gradients instead of P.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

# Conjugate gradient steps at most per Newton step: the line search copes with a rougher direction.
CG_MAX_STEPS = 250


def solve(matrix: Tensor, rhs: Tensor, rhs_finite: bool | None = None) -> Tensor:
    """H⁻¹g by Cholesky; a singular H (separable data, l2 = 0) gets a growing ridge.  An H or g that is
    not finite (data or weights beyond the dtype's range) has no step: the NaN step it gets instead lets
    the trainer stop and report the divergence, where LAPACK would fail on the NaNs with an internal error.
    ``rhs_finite``: whether g is finite, where the caller knows (it has read g's largest |entry|): one
    pass over g and one host read fewer."""
    if rhs_finite is None:
        rhs_finite = bool(torch.isfinite(rhs).all())
    if not rhs_finite or not bool(torch.isfinite(matrix).all()):
        return torch.full_like(rhs, float("nan"))
    factor, info = torch.linalg.cholesky_ex(matrix)
    ridge, scale = 0.0, None
    for _ in range(12):
        if int(info) == 0:
            return torch.cholesky_solve(rhs.unsqueeze(1), factor).squeeze(1)
        scale = scale or float(matrix.diagonal().abs().max()) or 1.0
        ridge = max(ridge * 10, 1e-10 * scale)
        factor, info = torch.linalg.cholesky_ex(
            matrix + ridge * torch.eye(len(matrix), dtype=matrix.dtype, device=matrix.device)
        )
    return torch.linalg.lstsq(matrix, rhs.unsqueeze(1)).solution.squeeze(1)


def conjugate_gradient(product: Callable[[Tensor], Tensor], gradient: Tensor) -> Tensor:
    """Δ ≈ H⁻¹g from ``product(v) = H v``.  gradient: (P,) -> (P,).

    A softmax H is singular along the bias shift, but g and every CG direction are orthogonal to
    it (H is symmetric and H V = 0), so CG stays in the range of H.  No curvature seen (H v ≤ 0
    only by rounding, at the first direction) gives g itself: steepest descent, sized by the line search."""
    if not bool(torch.isfinite(gradient).all()):
        return torch.full_like(gradient, float("nan"))  # no step: the trainer reports the divergence
    step = torch.zeros_like(gradient)
    residual = gradient
    direction = residual
    rr = float(residual @ residual)
    norm_g = math.sqrt(rr)
    target = min(0.5, math.sqrt(norm_g)) * norm_g
    for _ in range(CG_MAX_STEPS):
        hd = product(direction)
        curvature = float(direction @ hd)
        if not curvature > 0:  # only rounding makes H v non-positive (or NaN): keep what was found
            break
        alpha = rr / curvature
        step = step + alpha * direction
        residual = residual - alpha * hd
        rr_new = float(residual @ residual)
        if math.sqrt(rr_new) <= target:
            break
        direction = residual + (rr_new / rr) * direction
        rr = rr_new
    if not torch.any(step):
        return gradient.clone()
    return step
