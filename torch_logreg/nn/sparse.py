"""Logistic and softmax regression on a sparse x, never densified: the functional formulas, CSR products.

x (m, n) is held as torch sparse CSR tensors of x and of xᵀ (``SparseRows``), so that both
products a step needs run row by row over stored entries only:

    z  = x Wᵀ + b                  (m, K)    torch.mv / mm of the CSR x
    dz = ∂J/∂z                     (m, K)    ``functional.logistic_cost_backward`` / ``softmax_cost_backward``
    dW = dzᵀ x = (xᵀ dz)ᵀ          (K, n)    the CSR of xᵀ (x's CSC), + (l2/m) W
    db = Σ dz                      (K,)

with J = (1/Σs) Σ sᵢ·ℓ(zᵢ, yᵢ) + (l2/2Σs)·‖W‖², the objective of ``functional.cost_and_grads``
(K = 1: binomial) and ``functional.softmax_cost_and_grads`` (K ≥ 3: multinomial).  The pointwise
losses and their derivatives are ``functional``'s own; only the linear wiring is sparse here.
``LogisticRegression``'s ``cost_and_grads``, ``hessian`` and ``hessian_product`` call these when
x is a ``SparseRows``, so the trainer's optimizers step on sparse x as on dense.

Second order, over θ = [W row-major, b] as ``functional.hessian`` / ``softmax_hessian``:

    H v = [x, 1]ᵀ R / m + (l2/m)·v_W,   R = s ⊙ ∂²ℓ/∂z² applied to Z = x V_Wᵀ + v_b     (matrix-free)
    H   = [x, 1]ᵀ diag(c) [x, 1] / m + (l2/m)·I on W        (dense (P, P), from CSR × CSR products)

``hessian_product`` also takes a dense x (the same formula, dense products): it is what Newton's
conjugate gradients use past the size where a (P, P) Hessian is formed (``training.newton``).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from . import formulas as LF
from .whole_batch import normalizers


def _csr(indptr, indices, data, shape) -> Tensor:
    with warnings.catch_warnings():  # torch says once per process that sparse CSR is "beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(indptr, indices, data, size=shape)


def _torch_csr(matrix, shape) -> Tensor:
    """A scipy CSR (or a CSC read as the CSR of its transpose) as a torch CSR sharing its arrays."""
    return _csr(
        *(torch.from_numpy(np.asarray(a)) for a in (matrix.indptr, matrix.indices, matrix.data)), shape
    )


class SparseRows:
    """x (m, n) as a torch CSR, and xᵀ as a CSR (x's CSC), built on first use: a prediction needs only x.

    ``rows[index]`` is the mini-batch of rows ``index`` (a ``SparseRows`` of its own)."""

    def __init__(self, matrix, dtype: torch.dtype | None = None):
        """From a scipy.sparse ``matrix`` (CSR, CSC or any format scipy converts).  The CSR's arrays are
        shared with ``matrix`` when it is already a sorted CSR of the dtype."""
        csr = matrix.tocsr()
        if not csr.has_sorted_indices:
            csr = csr.sorted_indices()
        if dtype is not None and csr.dtype != np.dtype(str(dtype).removeprefix("torch.")):
            csr = csr.astype(str(dtype).removeprefix("torch."))
        self.source, self._given = csr, matrix  # scipy's, for row selection and xᵀ
        self.x = _torch_csr(csr, csr.shape)
        self._xt: Tensor | None = None

    @classmethod
    def from_scipy(cls, matrix, dtype: torch.dtype | None = None) -> SparseRows:
        return cls(matrix, dtype)

    @property
    def xt(self) -> Tensor:
        """xᵀ (n, m) as a CSR: one more copy of the entries (x's own CSC, when x was given as CSC)."""
        if self._xt is None:
            csc = self._given if self._given.format == "csc" else self.source.tocsc()
            if not csc.has_sorted_indices:
                csc = csc.sorted_indices()
            self._xt = _torch_csr(csc.astype(self.source.dtype, copy=False), self.shape[::-1])
            self._given = None  # only xᵀ needed it
        return self._xt

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.x.shape)

    @property
    def dtype(self) -> torch.dtype:
        return self.x.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> SparseRows:
        """The rows ``index`` ((k,) int tensor or array), in that order."""
        return SparseRows(self.source[np.asarray(index)], self.dtype)

    def row_of_entry(self) -> Tensor:
        """(nnz,) int64: each stored entry's row.  Built on demand (only the dense Hessian needs it):
        it is as large as the CSR's values."""
        counts = self.x.crow_indices().diff().long()
        return torch.repeat_interleave(torch.arange(self.shape[0]), counts)


def linear_forward(x: SparseRows | Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """z = x Wᵀ + b.  weight: (K, n), bias: (K,) -> (m, K).  A dense x takes ``formulas.linear_forward``."""
    if isinstance(x, Tensor):
        return LF.linear_forward(x, weight, bias)
    if weight.shape[0] == 1:
        return torch.mv(x.x, weight[0]).add_(bias).unsqueeze(1)
    return (x.x @ weight.T.contiguous()).add_(bias)


def linear_backward(grad_z: Tensor, x: SparseRows | Tensor) -> tuple[Tensor, Tensor]:
    """dW = gᵀ x = (xᵀ g)ᵀ, db = Σ_rows g.  grad_z: (m, K) -> (K, n), (K,)."""
    if isinstance(x, Tensor):
        _, dweight, dbias = LF.linear_backward(grad_z, x, None, need_x=False)
        return dweight, dbias
    if grad_z.shape[1] == 1:
        return torch.mv(x.xt, grad_z[:, 0]).unsqueeze(0), grad_z.sum(0)
    return (x.xt @ grad_z).T.contiguous(), grad_z.sum(0)


def cost_and_grads(
    x: SparseRows,
    y: Tensor,
    weight: Tensor,
    bias: Tensor,
    l2: float = 0.0,
    *,
    with_cost: bool = False,
    sample_weight: Tensor | None = None,
    rows=None,
    l2_rows=None,
) -> tuple[Tensor | None, Tensor, Tensor]:
    """(J or None, dW (K, n), db (K,)): ``functional.cost_and_grads`` (K = 1, y 0./1.) or
    ``softmax_cost_and_grads`` (K ≥ 3, y int64) for a sparse x.  ``rows`` and ``l2_rows`` as there:
    the loss's and the L2 term's m (a mini-batch passes the full count or Σs as ``l2_rows``)."""
    m, l2_m = normalizers(x, sample_weight, rows, l2_rows)
    z = linear_forward(x, weight, bias)  # (m, K)
    if weight.shape[0] == 1:
        value = LF.logistic_cost_forward(z[:, 0], y, m, sample_weight) if with_cost else None
        dz = LF.logistic_cost_backward(z[:, 0], y, m, sample_weight).unsqueeze(1)
    else:
        value = LF.softmax_cost_forward(z, y, m, sample_weight) if with_cost else None
        dz = LF.softmax_cost_backward(z, y, m, sample_weight)
    dweight, dbias = linear_backward(dz, x)
    if l2:
        dweight.add_(LF.l2_backward(weight, l2, l2_m))
        if with_cost:
            value = value + LF.l2_forward(weight, l2, l2_m)
    return value, dweight, dbias


def _curvature_weights(x, weight: Tensor, bias: Tensor, sample_weight: Tensor | None, rows, l2_rows):
    """(p (m, K) probabilities, r (m,) = s/m, the L2 term's m): what both Hessian forms need."""
    m, l2_m = normalizers(x, sample_weight, rows, l2_rows)
    z = linear_forward(x, weight, bias)
    p = torch.sigmoid(z) if weight.shape[0] == 1 else torch.softmax(z, 1)
    r = (
        torch.ones(x.shape[0], dtype=z.dtype, device=z.device) if sample_weight is None else sample_weight
    ) / m
    return p, r, l2_m


def hessian_product(
    x: SparseRows | Tensor,
    weight: Tensor,
    bias: Tensor,
    l2: float,
    *,
    sample_weight: Tensor | None = None,
    rows=None,
    l2_rows=None,
):
    """The map (v_W (K, n), v_b (K,)) -> ((H v)_W (K, n), (H v)_b (K,)) at (W, b), without H.

    The curvature (p, s/m) is computed once here; each product then costs two passes over x:
    Binomial: R = s·a(1−a)/m ⊙ (x v_W + v_b).  Multinomial: R = s/m ⊙ p ⊙ (Z − Σ_k p_k Z_k),
    Z = x V_Wᵀ + v_b.  Then (H v)_W = Rᵀ x + (l2/m) v_W, (H v)_b = Σ R.
    """
    p, r, l2_m = _curvature_weights(x, weight, bias, sample_weight, rows, l2_rows)
    binary = weight.shape[0] == 1
    curvature = (p * (1 - p) if binary else p) * r.unsqueeze(1)  # (m, K)
    ridge = l2 / float(l2_m) if l2 else 0.0

    def product(v_weight: Tensor, v_bias: Tensor) -> tuple[Tensor, Tensor]:
        direction = linear_forward(x, v_weight, v_bias)  # (m, K)
        if binary:
            response = curvature * direction
        else:
            response = curvature * (direction - (p * direction).sum(1, keepdim=True))
        hv_weight, hv_bias = linear_backward(response, x)
        if ridge:
            hv_weight.add_(v_weight, alpha=ridge)
        return hv_weight, hv_bias

    return product


def hessian_vector(
    x: SparseRows | Tensor,
    weight: Tensor,
    bias: Tensor,
    l2: float,
    v_weight: Tensor,
    v_bias: Tensor,
    *,
    sample_weight: Tensor | None = None,
    rows=None,
    l2_rows=None,
) -> tuple[Tensor, Tensor]:
    """H v for one v: ``hessian_product(...)(v_weight, v_bias)``."""
    product = hessian_product(x, weight, bias, l2, sample_weight=sample_weight, rows=rows, l2_rows=l2_rows)
    return product(v_weight, v_bias)


def _weighted_gram(x: SparseRows, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(xᵀ diag(c) x (n, n) dense, xᵀ c (n,), Σ c) from a CSR × CSR product: x is never densified."""
    scaled = _csr(x.x.crow_indices(), x.x.col_indices(), x.x.values() * c[x.row_of_entry()], x.shape)
    gram = (x.xt @ scaled).to_dense()
    return gram, torch.mv(x.xt, c), c.sum()


def hessian(
    x: SparseRows,
    weight: Tensor,
    bias: Tensor,
    l2: float = 0.0,
    *,
    sample_weight: Tensor | None = None,
    rows=None,
    l2_rows=None,
) -> Tensor:
    """∇²J over θ = [W row-major, b], dense (K(n+1), K(n+1)): ``functional.hessian`` (K = 1) and
    ``functional.softmax_hessian`` (K ≥ 3) for a sparse x.  Block (k, l) of W is
    xᵀ diag(s·(p_k δ_kl − p_k p_l)/m) x; the bias rows and columns are xᵀ c and Σ c."""
    k, n = weight.shape
    p, r, l2_m = _curvature_weights(x, weight, bias, sample_weight, rows, l2_rows)
    size = k * (n + 1)
    hess = torch.zeros(size, size, dtype=weight.dtype)
    for a in range(k):
        for b in range(a, k):
            if k == 1:
                c = p[:, 0] * (1 - p[:, 0]) * r
            else:
                c = (p[:, a] * (float(a == b) - p[:, b])) * r
            gram, cross, total = _weighted_gram(x, c)
            hess[a * n : (a + 1) * n, b * n : (b + 1) * n] = gram
            hess[a * n : (a + 1) * n, k * n + b] = cross
            hess[k * n + a, b * n : (b + 1) * n] = cross
            hess[k * n + a, k * n + b] = total
            if a != b:  # symmetric: block (b, a) is block (a, b)ᵀ
                hess[b * n : (b + 1) * n, a * n : (a + 1) * n] = gram.T
                hess[b * n : (b + 1) * n, k * n + a] = cross
                hess[k * n + b, a * n : (a + 1) * n] = cross
                hess[k * n + b, k * n + a] = total
    if l2:
        hess.diagonal()[: k * n] += l2 / l2_m
    return hess
