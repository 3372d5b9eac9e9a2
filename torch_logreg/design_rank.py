"""Whether the training design [1, x] has full column rank, decided without a random draw.

With l2 = 0 a column that is a linear combination of others (``b = −a``, ``c = a + 2b``, a
constant column beside the bias) leaves the weights undetermined: the cost has a flat valley,
and the Hessian's inverse, hence every standard error, is noise.  Rank [1, x] = 1 + rank of
the centered x, so the test centers the columns (a pass for the mean, then one for the Gram
matrix G = X꜀ᵀX꜀, both over blocks of rows), scales G to unit diagonal, C = S⁻¹ G S⁻¹ with
S = diag(√Gⱼⱼ) (so neither a column's units nor its offset matter), and takes the eigenvalues
λ of C.  The design is rank-deficient when a column is constant (the bias spans it) or when
λ_min ≤ RELATIVE_TOL · λ_max.

Why this tolerance: forming G squares the condition number, so an exactly dependent design
gives λ_min at the rounding level, about (n + 1)·ε·λ_max ≈ 1e-15 relative, while a design
merely collinear (the breast-cancer set's radius, perimeter and area columns) stays above
1e-8.  RELATIVE_TOL = 1e-11 lies between, with margin on both sides.  A design of fewer rows
than coefficients (m < n + 1) is rank-deficient without any arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

RELATIVE_TOL = 1e-11
MAX_COLUMNS = 4096  # above this the n² Gram matrix and its eigenvalues cost more than the check is worth
_BLOCK_ROWS = 1 << 16


@dataclass
class RankDeficiency:
    """rank of D = [1, x] (None when not computed: more rows needed), its column count, and the
    columns (0 = the bias, j + 1 = feature j) that carry the first null direction."""

    rank: int | None
    columns: int
    involved: list[int]


def rank_deficiency(x: Tensor, sample_weight: Tensor | None = None) -> RankDeficiency | None:
    """None when [1, x] (m, n + 1) has full column rank (rows of weight 0 count as absent); else
    what is known about the deficiency.  Too many columns to check (> MAX_COLUMNS) also gives None."""
    m, n = x.shape
    used = m if sample_weight is None else int((sample_weight > 0).sum())
    if used < n + 1:
        return RankDeficiency(used, n + 1, [])
    if n + 1 > MAX_COLUMNS:
        return None
    weights = None if sample_weight is None else sample_weight.to(device=x.device, dtype=torch.float64).reshape(-1)
    blocks = lambda: zip(x.split(_BLOCK_ROWS), (None,) * m if weights is None else weights.split(_BLOCK_ROWS))  # noqa
    total = float(m) if weights is None else float(weights.sum())
    # Columns divided by their largest |value| first, so that the squares cannot overflow (features of 1e300).
    size = torch.stack([block.abs().amax(0).to(torch.float64) for block, _ in blocks()]).amax(0)
    size = torch.where((size > 0) & torch.isfinite(size), size, torch.ones_like(size))
    mean = sum(_rows(block, size).sum(0) if w is None else w @ _rows(block, size) for block, w in blocks()) / total
    gram = torch.zeros(n, n, dtype=torch.float64, device=x.device)
    for block, w in blocks():
        centered = _rows(block, size) - mean
        gram += (centered if w is None else centered * w[:, None]).T @ centered
    if not bool(torch.isfinite(gram).all()):
        return None  # non-finite features: the data checks name them
    scale = gram.diagonal().sqrt()
    constant = scale <= 1e-12 * mean.abs().clamp_min(1) * total ** 0.5  # a column the bias already spans
    if bool(constant.any()):
        return RankDeficiency(n + 1 - int(constant.sum()), n + 1, [0, *(constant.nonzero().reshape(-1) + 1).tolist()])
    scaled = gram / scale[:, None] / scale[None, :]
    try:
        values, vectors = torch.linalg.eigh((scaled + scaled.T) / 2)
    except torch.linalg.LinAlgError:
        return None
    if float(values[0]) > RELATIVE_TOL * float(values[-1]):
        return None
    rank = 1 + int((values > RELATIVE_TOL * values[-1]).sum())
    null = vectors[:, 0].abs()
    involved = ((null > 1e-6 * null.max()).nonzero().reshape(-1) + 1).tolist()
    return RankDeficiency(rank, n + 1, involved)


def _rows(block: Tensor, size: Tensor) -> Tensor:
    return block.to(torch.float64) / size


def describe(deficiency: RankDeficiency, names: list[str]) -> str:
    """"the design [1, x] has rank r of its n + 1 columns (…)", naming the columns of one dependency."""
    label = lambda j: "the bias" if j == 0 else repr(names[j - 1])  # noqa: E731
    if not deficiency.involved:
        return (f"the design [1, x] has {deficiency.rank} rows (of nonzero weight) for its {deficiency.columns} "
                f"coefficients")
    shown = ", ".join(label(j) for j in deficiency.involved[:6])
    more = f" and {len(deficiency.involved) - 6} more" if len(deficiency.involved) > 6 else ""
    return (f"the design [1, x] has rank {deficiency.rank} of its {deficiency.columns} columns: {shown}{more} "
            f"are linearly dependent")
