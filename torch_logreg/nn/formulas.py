"""The formulas of ``nn.functional`` that work on a block of rows, without autograd: the linear layer,
the logistic and softmax costs from the logits, the L2 term and the activations' derivatives.

The equations and the shapes are derived in ``functional``'s docstring; ``functional`` exports
every name here, and its autograd Functions call these in their backward.
"""

from __future__ import annotations

import torch
from torch import Tensor


def linear_forward(x: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor | None = None) -> Tensor:
    """z = x Wᵀ + b.  x: (m, n), weight: (k, n), bias: (k,) -> z: (m, k), into ``out`` when given."""
    if bias is None:
        return torch.matmul(x, weight.T, out=out)
    return torch.addmm(bias, x, weight.T, out=out)


def linear_backward(
    grad_z: Tensor,
    x: Tensor,
    weight: Tensor,
    need_x: bool = True,
    need_weight: bool = True,
    need_bias: bool = True,
    dx_out: Tensor | None = None,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """dx = g W, dW = gᵀ x, db = Σ_rows g.  grad_z: (m, k) -> (m, n), (k, n), (k,).

    A gradient that is not needed is returned as None and never computed; dx goes into
    ``dx_out`` when given.
    """
    dx = torch.matmul(grad_z, weight, out=dx_out) if need_x else None
    dweight = grad_z.T @ x if need_weight else None
    dbias = grad_z.sum(0) if need_bias else None
    return dx, dweight, dbias


def _count(m, rows: int):
    """The divisor of a mean: m when given (a block passes the whole count, a tensor Σs is
    fine), else the rows here.  Never ``m or rows``: truth-testing a tensor syncs."""
    return rows if m is None else m


def softplus(z: Tensor) -> Tensor:
    """log(1 + e^z) = max(z, 0) + log1p(e^(−|z|)), exact for every z (``F.softplus`` is z above 20)."""
    return torch.clamp_min(z, 0) + torch.log1p(torch.exp(-z.abs()))


def logistic_cost_forward(z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None) -> Tensor:
    """J = (1/m) Σ s·(softplus(z) − y·z), the cross-entropy of σ(z) against y.  z, y: (k,) -> ().

    m defaults to k (Σs with weights); a block of the rows passes the whole count, and
    the blocks' J add up.  ``sample_weight`` s (k,) defaults to ones.
    """
    # Out of place: autograd may differentiate these formulas directly (a Hessian check).
    # max(z, 0) − y·z first: for y in {0, 1} it is exactly 0 or |z|, so the tiny log1p term
    # of a confident right answer is added to 0, not rounded off against z.
    loss = torch.clamp_min(z, 0) - y * z + torch.log1p(torch.exp(-z.abs()))
    if sample_weight is not None:
        return (loss * sample_weight).sum() / _count(m, sample_weight.sum())
    return loss.sum() / _count(m, z.numel())


def logistic_cost_backward(
    z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None, out: Tensor | None = None
) -> Tensor:
    """dz = ∂J/∂z = s·(σ(z) − y) / m.  z, y: (k,) -> (k,); m defaults to k (Σs); into ``out`` when given."""
    dz = torch.sigmoid(z, out=out).sub_(y)  # in place on σ(z)'s buffer
    if sample_weight is not None:
        return dz.mul_(sample_weight).div_(sample_weight.sum() if m is None else m)
    return dz.div_(_count(m, z.numel()))


def softmax_cost_forward(z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None) -> Tensor:
    """J = (1/m) Σᵢ sᵢ·[logsumexp(zᵢ) − zᵢ,yᵢ].  z: (k, K), y: (k,) int64 in 0..K−1 -> ().

    logsumexp subtracts each row's max first, so logits of ±1000 give the exact cost.
    """
    loss = torch.logsumexp(z, 1) - z.gather(1, y.unsqueeze(1)).squeeze(1)
    if sample_weight is not None:
        return (loss * sample_weight).sum() / _count(m, sample_weight.sum())
    return loss.sum() / _count(m, len(z))


def softmax_cost_backward(
    z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None, out: Tensor | None = None
) -> Tensor:
    """dz = ∂J/∂z = s·(softmax(z) − onehot(y)) / m.  z: (k, K), y: (k,) int64 -> (k, K); into ``out``
    when given."""
    dz = torch.softmax(z, 1, out=out)
    dz.scatter_add_(1, y.unsqueeze(1), torch.full_like(z[:, :1], -1.0))  # − onehot(y)
    if sample_weight is not None:
        return dz.mul_(sample_weight.unsqueeze(1)).div_(sample_weight.sum() if m is None else m)
    return dz.div_(_count(m, len(z)))


def l2_forward(weight: Tensor, l2: float, m) -> Tensor:
    """(l2 / 2m)·‖W‖², on the weights only (the bias is never penalized).  m: the full
    training count (or Σs), also for a mini-batch, so every optimizer has one objective."""
    return weight.pow(2).sum() * (l2 / (2 * m))


def l2_backward(weight: Tensor, l2: float, m) -> Tensor:
    """∂/∂W of the L2 term: (l2/m)·W."""
    return weight * (l2 / m)


# Each derivative is one fused elementwise kernel of ATen's computing exactly the formula
# in its docstring: written as products, the tanh line alone made three (m, width)
# temporaries per layer per step (benchmarks/mlp_time.py).  The tests hold each against
# the formula and against autograd.


def sigmoid_backward(grad_a: Tensor, a: Tensor, out: Tensor | None = None) -> Tensor:
    """dz = da ⊙ σ′(z) = da ⊙ a(1 − a), from the output a = σ(z).  Any shape; into ``out`` (may be da)."""
    if out is None:
        return torch.ops.aten.sigmoid_backward(grad_a, a)
    return torch.ops.aten.sigmoid_backward.grad_input(grad_a, a, grad_input=out)


def tanh_backward(grad_a: Tensor, a: Tensor, out: Tensor | None = None) -> Tensor:
    """dz = da ⊙ (1 − a²), from the output a = tanh(z).  Any shape; into ``out`` (may be da)."""
    if out is None:
        return torch.ops.aten.tanh_backward(grad_a, a)
    return torch.ops.aten.tanh_backward.grad_input(grad_a, a, grad_input=out)


def relu_backward(grad_a: Tensor, a: Tensor, out: Tensor | None = None) -> Tensor:
    """dz = da where a > 0, else 0, from the output a = max(z, 0): the derivative at z = 0 is 0, as
    PyTorch's.  Any shape; into ``out`` (may be da)."""
    if out is None:
        return torch.ops.aten.threshold_backward(grad_a, a, 0)
    return torch.ops.aten.threshold_backward.grad_input(grad_a, a, 0, grad_input=out)
