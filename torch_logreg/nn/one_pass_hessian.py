"""The one-neuron Hessian's sums of ``whole_batch.hessian`` on the CPU: x read once, its Gram by syrk.

For x (m, n), z = x w + b, a = σ(z) and c = a(1 − a)/m (m,), the Hessian over θ = [W, b] is

    [[xᵀ diag(c) x, xᵀ c], [cᵀ x, Σ c]]

Its cost is xᵀ diag(c) x: about n²/2 multiply-adds a row.  Written as (√c ⊙ x)ᵀ(√c ⊙ x) it is a
symmetric rank-k update, which BLAS does in half the work of a general product (``syrk``; NumPy's
matmul calls it for ``s.T @ s``), where torch's ``mm`` computes both triangles.  x goes in blocks of
about ``one_pass.BLOCK_BYTES``: each block's logits, curvature, scaled rows and Gram are formed while
it is in cache.  torch's threads (``train.threads``) take a contiguous share of the blocks each (each
share to whichever thread is free), and each share adds into its own Gram, summed in share order, so
the result does not depend on timing.  c ≥ 0 (a ∈ [0, 1]), so √c is real: with sample weights (which
may be negative) ``whole_batch.hessian`` keeps its own product.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..threads import blas_on_calling_thread, in_parallel
from . import one_pass


def supports(x: Tensor, *tensors: Tensor) -> bool:
    """A CPU float32/float64 matrix and no autograd recording: ``one_pass.supports`` less its size
    rule (the Gram's syrk gains at any size)."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or x.dim() != 2:
        return False
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in (x, *tensors)))


def curvature_sums(x: Tensor, weight: Tensor, bias: Tensor, m) -> tuple[Tensor, Tensor, Tensor]:
    """(xᵀ diag(c) x (n, n), xᵀ c (n,), Σ c (1,)) with c = σ(z)(1 − σ(z))/m, z = x wᵀ + b.

    x: (rows, n), weight: (1, n), bias: (1,); m the whole count (a block or a sample passes it)."""
    rows_total, n = x.shape
    rows = one_pass.block_rows(x)
    blocks = -(-rows_total // rows)
    workers = max(1, min(torch.get_num_threads(), blocks // one_pass.MIN_BLOCKS_PER_WORKER))
    xn = x.detach().numpy()
    w = weight.detach().reshape(-1).numpy()
    bias = bias.detach()
    grams = np.zeros((workers, n, n), dtype=xn.dtype)  # one per share: no two threads add into one
    sides = np.zeros((blocks, n), dtype=xn.dtype)
    corners = torch.zeros(blocks, dtype=x.dtype)
    scratch = [np.empty((rows, n), dtype=xn.dtype) for _ in range(workers)]

    def run(shares) -> None:
        for share in shares:  # a contiguous run of blocks each, whichever thread takes it
            for index in range(blocks * share // workers, blocks * (share + 1) // workers):
                add_block(share, index)

    def add_block(share: int, index: int) -> None:
        start, stop = index * rows, min(index * rows + rows, rows_total)
        x_block = xn[start:stop]
        a = torch.sigmoid(torch.from_numpy(x_block @ w).add_(bias))  # (k,)
        curvature = (a - a * a).div_(m)  # c ≥ 0
        corners[index] = curvature.sum()
        np.dot(curvature.numpy(), x_block, out=sides[index])  # xᵀ c
        scaled = np.multiply(x_block, curvature.sqrt_().numpy()[:, None], out=scratch[share][: stop - start])
        grams[share] += scaled.T @ scaled  # syrk: (√c ⊙ x)ᵀ(√c ⊙ x)

    with blas_on_calling_thread():
        in_parallel(run, workers, workers)
    return torch.from_numpy(grams.sum(0)), torch.from_numpy(sides.sum(0)), corners.sum().reshape(1)
