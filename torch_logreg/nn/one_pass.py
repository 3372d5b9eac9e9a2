"""The full-batch gradient of ``functional.cost_and_grads`` / ``softmax_cost_and_grads`` reading x once.

For x (m, n), the step needs z = x Wᵀ + b, then dz, then dW = dzᵀ x.  Computed as two
whole-x products it reads x from memory twice.  Here x goes in row blocks of about
``BLOCK_BYTES`` (a share of a core's L2 cache): each block's logits z_b = x_b Wᵀ + b,
its dz_b (``functional.logistic_cost_backward`` / ``softmax_cost_backward``, the formulas
themselves, with the whole count m as divisor) and its share dz_bᵀ x_b are formed while
x_b is still in cache.  The shares are written to rows of a (blocks, K, n) buffer and summed
once at the end, so the result does not depend on timing; J comes from the whole z afterwards.

The block products go through NumPy's BLAS on x's own memory (no copy): on an AMD EPYC,
torch's MKL gemv on a cache-resident block took about twice as long as NumPy's OpenBLAS
(``benchmarks/gemv_blocks.py``).  They run under ``threads.blas_on_calling_thread``: OpenBLAS
stays on the calling thread and leaves no spinning workers behind for torch's OpenMP threads.

The blocks are shared among torch's threads (``train.threads``, ``worker_count``), a contiguous
run of blocks each (``threads.in_parallel``): one core alone cannot draw the memory bandwidth
that a step reading x once is bound by, and NumPy's products and torch's ops release the GIL.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..threads import blas_on_calling_thread, in_parallel

# About half of the 2 MB L2 cache of each core (AMD EPYC, benchmarks/step_time.py: 512 KB–2 MB
# blocks were within noise of each other, one 40 MB block 2× slower).
BLOCK_BYTES = 1 << 20
_DTYPES = (torch.float32, torch.float64)
# torch runs an elementwise op of fewer elements than this (at::internal::GRAIN_SIZE) on the calling
# thread.  Blocks shared among threads stay under it (rows × K), so that no helper's dz formula opens
# a parallel region of its own beside the others (more threads than cores, each region waiting).
TORCH_GRAIN_SIZE = 32768


def supports(x: Tensor, *tensors: Tensor) -> bool:
    """Whether x (m, n) should take the one-pass path: a CPU float32/float64 matrix of more than one
    block, and no autograd recording.  x of one block stays in cache from step to step, and torch's
    own two products beat the NumPy calls' fixed cost there (569×30: about half the time)."""
    if x.device.type != "cpu" or x.dtype not in _DTYPES or x.dim() != 2 or x.shape[0] <= block_rows(x):
        return False
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in (x, *tensors)))


def block_rows(x: Tensor, block_bytes: int | None = None) -> int:
    """Rows per block: about ``block_bytes`` (default ``BLOCK_BYTES``) of x, at least one row."""
    return max(1, (BLOCK_BYTES if block_bytes is None else block_bytes) // (x.shape[1] * x.element_size()))


# A helper thread takes a share of at least this many blocks: handing a share over and waiting for it
# costs about what one block's work does, so a share of one or two blocks would gain nothing.
MIN_BLOCKS_PER_WORKER = 4


def worker_count(block_logits: int, blocks: int) -> int:
    """Threads for a one pass of ``blocks`` blocks of ``block_logits`` logits (rows × K) each: torch's
    thread count (``train.threads``), each with at least ``MIN_BLOCKS_PER_WORKER`` blocks.  Narrow x,
    whose blocks hold more than ``TORCH_GRAIN_SIZE`` logits, stays on the calling thread: torch's own
    threads already share each block's dz formula, which is then most of its work."""
    if block_logits > TORCH_GRAIN_SIZE:
        return 1
    return max(1, min(torch.get_num_threads(), blocks // MIN_BLOCKS_PER_WORKER))


def grads(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    backward,
    y: Tensor,
    m,
    sample_weight: Tensor | None,
    block_bytes: int | None = None,
    workers: int | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(z (m, K), dW (K, n), db (K,)) with x read once.

    ``backward(z_b, y_b, m, s_b)`` is the loss's dz formula.

    weight (K, n), bias (K,): K = 1 is the one-neuron model (z is then (m, 1) and ``backward``
    gets (k,) vectors).
    ``workers`` threads (None: ``worker_count``) take a contiguous share of the blocks each; every block's
    share of dW is its own, summed in block order, so the result does not depend on which thread ran
    which block (more than one worker asked for on narrow x: blocks of ``TORCH_GRAIN_SIZE`` logits).
    """
    rows_total, n = x.shape
    k = weight.shape[0]
    rows = block_rows(x, block_bytes)
    blocks = -(-rows_total // rows)
    workers = worker_count(rows * k, blocks) if workers is None else workers
    if workers > 1 and rows * k > TORCH_GRAIN_SIZE:
        rows = max(1, TORCH_GRAIN_SIZE // k)
        blocks = -(-rows_total // rows)
    xn = x.detach().numpy()
    wt = weight.detach().T.contiguous().numpy()  # (n, K)
    z = torch.empty(rows_total, k, dtype=x.dtype)
    zn = z.numpy()
    shares = np.empty((blocks, k, n), dtype=xn.dtype)
    dz_all = torch.empty(rows_total, k, dtype=x.dtype)
    bias = bias.detach()
    one = k == 1

    def run(first: int, last: int) -> None:
        for index in range(first, last):
            start = index * rows
            stop = min(start + rows, rows_total)
            x_block = xn[start:stop]
            np.dot(x_block, wt, out=zn[start:stop])
            z_block = z[start:stop].add_(bias)
            s_block = None if sample_weight is None else sample_weight[start:stop]
            dz = backward(z_block.view(-1) if one else z_block, y[start:stop], m, s_block)
            dz_block = dz_all[start:stop]
            dz_block.copy_(dz.view_as(dz_block))
            np.dot(dz_block.numpy().T, x_block, out=shares[index])  # dz_bᵀ x_b while x_b is in cache

    with blas_on_calling_thread():
        in_parallel(run, blocks, workers)
    dweight = torch.from_numpy(shares.sum(0) if blocks > 1 else shares[0])
    return z, dweight, dz_all.sum(0)
