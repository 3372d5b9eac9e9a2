"""When newton and lbfgs have converged: the largest |∂J/∂θ| below ``optimizer.grad_tol``, whose default
depends on the dtype."""

from __future__ import annotations

import torch

# The gradient test of newton and lbfgs: the largest |∂J/∂θ| at which a fit has converged.
# Newton's final full step then lands within ~1e-10 relative of the optimum in float64
# (its error shrinks with the square of the gradient); float32 sums carry ~1e-7 of noise.
GRAD_TOL = {torch.float64: 1e-8, torch.float32: 1e-4}


def default_grad_tol(dtype: torch.dtype) -> float:
    return GRAD_TOL.get(dtype, GRAD_TOL[torch.float32])
