"""The linear algebra of the coefficient table: the covariance on the identifiable subspace,
the map from the parameters to the reported coefficients, and the intercept-only log-likelihood.

The formulas are in ``stats``' module docstring.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .data.standardizer import Standardizer
from .errors import UserInputError


class SingularHessianError(UserInputError):
    """The Hessian of the log-likelihood is singular: some coefficients are not determined by the data."""


def inverse_on_identifiable(hessian: Tensor, null: Tensor | None) -> Tensor:
    """H⁻¹ on the complement of ``null`` (P, r) orthonormal directions: Q (QᵀHQ)⁻¹ Qᵀ.  -> (P, P)."""
    size = hessian.shape[0]
    if null is None:
        basis = torch.eye(size, dtype=hessian.dtype, device=hessian.device)
    else:
        null = null.to(hessian)
        complete, _ = torch.linalg.qr(
            null, mode="complete"
        )  # first r columns span null, the rest its complement
        basis = complete[:, null.shape[1] :]
    restricted = basis.T @ hessian @ basis
    restricted = (restricted + restricted.T) / 2
    factor, info = torch.linalg.cholesky_ex(restricted)
    # Cholesky succeeds on an exactly singular H once rounding makes it barely positive, and then gives
    # standard errors near 1e7 and p = 1: check the rank on the unit-diagonal scaling, against n·eps.
    diagonal = restricted.diagonal().clamp_min(torch.finfo(restricted.dtype).tiny).rsqrt()
    eigenvalues = torch.linalg.eigvalsh(diagonal[:, None] * restricted * diagonal[None, :])
    tolerance = len(eigenvalues) * torch.finfo(restricted.dtype).eps * float(eigenvalues[-1].abs())
    if int(info) != 0 or float(eigenvalues[0]) <= tolerance:
        raise SingularHessianError(
            "the Hessian of the log-likelihood is singular: some coefficients are not determined by the data "
            "(a constant or duplicated column, or more coefficients than the data support); "
            "drop those columns or fit with model.l2 > 0"
        )
    return basis @ torch.cholesky_inverse(factor) @ basis.T


def coefficient_map(n: int, outputs: int, standardizer: Standardizer | None, device) -> Tensor:
    """T (Q, P): θ = [W (outputs, n) row-major, b (outputs,)] -> [const, x1..xn] per equation.

    One equation for one output (binary), else outputs − 1: class e's row minus class 0's.
    With a standardizer, each equation's [b, w] maps to raw units: [b − Σ w μ/σ, w/σ].
    """
    params = outputs * n + outputs
    equations = 1 if outputs == 1 else outputs - 1
    differences = torch.zeros(equations * (n + 1), params, dtype=torch.float64, device=device)
    for e in range(equations):
        row = e if outputs == 1 else e + 1
        top = e * (n + 1)
        differences[top, outputs * n + row] = 1.0
        differences[top + 1 : top + n + 1, row * n : (row + 1) * n] += torch.eye(
            n, dtype=torch.float64, device=device
        )
        if outputs > 1:
            differences[top, outputs * n] = -1.0
            differences[top + 1 : top + n + 1, :n] -= torch.eye(n, dtype=torch.float64, device=device)
    if standardizer is None:
        return differences
    mean = standardizer.mean.to(device=device, dtype=torch.float64)
    std = standardizer.std.to(device=device, dtype=torch.float64)
    to_raw = torch.zeros(n + 1, n + 1, dtype=torch.float64, device=device)  # [b, w_std] -> [const, w_raw]
    to_raw[0, 0] = 1.0
    to_raw[0, 1:] = -mean / std
    to_raw[1:, 1:] = torch.diag(1 / std)
    return torch.block_diag(*[to_raw] * equations) @ differences


def null_log_likelihood(y: Tensor, weights: Tensor | None, k: int, total_weight: float) -> float:
    """ℓ of the intercept-only model: Σₖ wₖ·log(wₖ/Σs), wₖ the (weighted) count of class k."""
    counts = torch.zeros(k, dtype=torch.float64, device=y.device)
    counts.index_add_(0, y, torch.ones_like(y, dtype=torch.float64) if weights is None else weights)
    present = counts[counts > 0]
    return float((present * (present / total_weight).log()).sum())
