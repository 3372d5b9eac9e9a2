"""The one-neuron cost, gradient and Hessian in one pass over x: what a Newton step on few parameters needs.

For x (m, n), labels y (m,) (0./1.; a value in [0, 1] is the cross-entropy against it),
θ = [W, b] (n + 1,), x̃ = [x, 1] and p = l2/m on W, 0 on b:

    z = x Wᵀ + b,  a = σ(z)                              (m,)
    J = (1/m) Σ [max(z, 0) − y·z + log1p(e^(−|z|))] + ½ θᵀ diag(p) θ
    ∇J = x̃ᵀ (a − y) / m + p ⊙ θ                           (n + 1,)
    ∇²J = x̃ᵀ diag(a(1 − a) / m) x̃ + diag(p)              (n + 1, n + 1)

The same J as ``logistic_cost_forward`` + ``l2_forward`` (called here), the gradient of
``cost_and_grads`` and the Hessian of ``hessian``, with σ(z) formed once for both derivatives;
the tests hold all three against those functions.  x goes in row blocks of about ``BLOCK_BYTES``:
each block's logits, cost terms, gradient and curvature are formed while it is in cache, and every
temporary is a block's size, where whole-x temporaries (m-vectors of z, dz, a(1 − a)) would be
written to memory and, fresh each call, paged in again.  With n + 1 parameters the Hessian adds
about n² multiply-adds a row to the gradient's 2n: for a handful of parameters a step reads x once
for everything, where the cost-and-gradient pass and a Hessian pass read it twice.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .formulas import l2_backward, l2_forward, logistic_cost_forward
from .whole_batch import block_scratch, row_blocks

# About 1 MB of x a block: a few hundred KB per temporary for narrow x, so that the score of ops of a
# block stay in cache, and few enough blocks that the ops' fixed cost stays small.
BLOCK_BYTES = 1 << 20


def cost_grad_hessian(
    x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, l2: float = 0.0, block_bytes: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(J (), ∇J (n + 1,), ∇²J (n + 1, n + 1)) over θ = [W, b] for one neuron, x read once.

    x: (m, n), y: (m,), weight: (1, n), bias: (1,); no sample weights, l2 divided by m.
    No autograd: the result is for a second-order optimizer, not for ``backward``.
    """
    m, n = x.shape
    weight, bias = weight.detach(), bias.detach()
    w = weight.reshape(-1)  # (n,)
    blocks = row_blocks(x, y, block_bytes=BLOCK_BYTES if block_bytes is None else block_bytes)
    rows = len(blocks[0][0])
    scratch = block_scratch(blocks)  # x_b ⊙ c, reused by every block
    derivatives = torch.empty(2, rows, dtype=x.dtype, device=x.device)  # [a − y, a(1 − a)], reused
    cost = torch.zeros((), dtype=x.dtype, device=x.device)
    sums = torch.zeros(n + 1, 2, dtype=x.dtype, device=x.device)  # x̃ᵀ [a − y, a(1 − a)]
    # xᵀ diag(a(1 − a)) x, contiguous: addmm_ into a strided view of the result is slow
    top_left = torch.zeros(n, n, dtype=x.dtype, device=x.device)
    for x_block, y_block in blocks:
        k = len(x_block)
        z = torch.addmv(bias, x_block, w)  # (k,)
        cost += logistic_cost_forward(z, y_block, m)
        a = torch.sigmoid(z)
        residual, curvature = derivatives[:, :k]  # m·∂J/∂z and m·∂²J/∂z², the 1/m applied once at the end
        torch.sub(a, y_block, out=residual)
        torch.addcmul(a, a, a, value=-1, out=curvature)
        sums[:n].addmm_(x_block.T, derivatives[:, :k].T)  # xᵀ [a − y, a(1 − a)]
        sums[n] += derivatives[:, :k].sum(1)  # 1ᵀ [a − y, a(1 − a)]
        weighted = (
            torch.mul(x_block, curvature.unsqueeze(1), out=scratch[:k])
            if scratch is not None
            else x_block * curvature.unsqueeze(1)
        )  # (k, n)
        top_left.addmm_(weighted.T, x_block)  # xᵀ diag(c) x
    sums /= m
    gradient, top_right = sums[:, 0].contiguous(), sums[:, 1]
    top_left /= m
    if l2:
        cost += l2_forward(weight, l2, m)
        gradient[:n] += l2_backward(w, l2, m)
        top_left.diagonal().add_(l2 / m)
    hessian = torch.cat([torch.cat([top_left, top_right[:n].unsqueeze(1)], 1), top_right.unsqueeze(0)])
    return cost, gradient, hessian
