"""The full-batch gradient of ``functional.cost_and_grads`` / ``softmax_cost_and_grads`` reading x once.

For x (m, n), the step needs z = x Wᵀ + b, then dz, then dW = dzᵀ x.  Computed as two
whole-x products it reads x from memory twice.  Here x goes in row blocks of about
``BLOCK_BYTES`` (a core's L2 cache): each block's logits z_b = x_b Wᵀ + b, its dz_b
(``functional.logistic_cost_backward`` / ``softmax_cost_backward`` with the whole count m as
divisor) and its share dz_bᵀ x_b are formed while x_b is still in cache.  The shares are
written to rows of a (blocks, K, n) buffer and summed once at the end, so the result does not
depend on timing; J comes from the whole z afterwards.

Everything runs in NumPy on x's own memory (no copy), under ``threads.blas_on_calling_thread``
(OpenBLAS on the calling thread, no spinning workers left for torch's OpenMP threads).  Measured
on an AMD EPYC (``benchmarks/gemv_blocks.py``):

* one neuron's logits come from row dot products (``ROW_PRODUCTS``: ``np.vecdot``), which read a
  block from memory at about the speed of one plain read of it, where OpenBLAS's gemv, twice as
  fast on a block in cache, reads memory at half that speed (torch's MKL gemv is slower still);
  K classes' logits come from OpenBLAS's gemm;
* dz_bᵀ x_b, on the block in cache, is OpenBLAS's gemv (``np.dot``);
* one neuron's dz_b is the formula's NumPy twin (``numpy_formulas``): on a block of a few thousand
  logits each op is mostly its fixed cost, paid holding the GIL, and a ufunc's is smaller than a
  torch op's; the softmax formula runs as torch ops;
* db = Σ dz never goes through torch's sum over all m logits, whose OpenMP region waits for a core
  on a busy machine.

The blocks are shared among torch's threads (``train.threads``, ``worker_count``), each taking the
next block not yet taken (``threads.in_parallel``): one core alone cannot draw the memory bandwidth
that a step reading x once is bound by, and NumPy's products release the GIL.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..threads import blas_on_calling_thread, in_parallel
from . import numpy_formulas

# The 1 MB L2 cache of each core (AMD EPYC, benchmarks/gemv_blocks.py: 1–2 MB blocks were within
# noise of each other, 256 KB ones slower for their fixed costs, one 40 MB block 2× slower).
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


# A helper thread is started for at least this many blocks per thread: handing work over and waiting
# for it costs about what one block's work does, so one or two blocks a thread would gain nothing.
MIN_BLOCKS_PER_WORKER = 4


def worker_count(block_logits: int, blocks: int) -> int:
    """Threads for a one pass of ``blocks`` blocks of ``block_logits`` logits (rows × K) each: torch's
    thread count (``train.threads``), each with at least ``MIN_BLOCKS_PER_WORKER`` blocks.  Narrow x,
    whose blocks hold more than ``TORCH_GRAIN_SIZE`` logits, stays on the calling thread: torch's own
    threads already share each block's dz formula, which is then most of its work."""
    if block_logits > TORCH_GRAIN_SIZE:
        return 1
    return max(1, min(torch.get_num_threads(), blocks // MIN_BLOCKS_PER_WORKER))


def _vecdot(x_block: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    np.vecdot(x_block, w, out=out)


def _einsum(x_block: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    np.einsum("ij,j->i", x_block, w, out=out)


def _gemv(x_block: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    np.dot(x_block, w, out=out)


# One neuron's logits of a block, z_b = x_b w (rows,), each the same sum of products: the row dot
# products stream x from memory at the speed of one plain read, where OpenBLAS's gemv, fast on a
# block in cache, reads a block from memory at half that speed (benchmarks/gemv_blocks.py).
# ``np.vecdot`` is NumPy 2's; einsum's loop is the same idea, somewhat slower in cache.
ROW_PRODUCTS = {"vecdot": _vecdot, "einsum": _einsum, "gemv": _gemv}
# Rows narrower than this many bytes go through gemv: each row's dot product has a fixed cost
# that rows of a few features do not pay back.
ROW_PRODUCT_MIN_BYTES = 256


def row_product(x: Tensor) -> str:
    """The name in ``ROW_PRODUCTS`` of the one-neuron logits product for x (m, n)."""
    if x.shape[1] * x.element_size() < ROW_PRODUCT_MIN_BYTES:
        return "gemv"
    return "vecdot" if hasattr(np, "vecdot") else "einsum"


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
    product: str | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(z (m, K), dW (K, n), db (K,)) with x read once.

    ``backward(z_b, y_b, m, s_b, out=dz_b)`` is the loss's dz formula; one with a NumPy twin
    (``numpy_formulas.TWINS``) runs as that on blocks of at most ``TORCH_GRAIN_SIZE`` logits, the
    others as torch ops.
    weight (K, n), bias (K,): K = 1 is the one-neuron model (z is then (m, 1) and ``backward``
    gets (k,) vectors; its logits come from ``ROW_PRODUCTS[product]``, None: ``row_product``).
    ``workers`` threads (None: ``worker_count``) take the blocks one at a time; every block's
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
    # Blocks of more logits than torch's grain (narrow x) keep the torch formula: torch's threads share it.
    twin = numpy_formulas.TWINS.get(backward) if k == 1 and rows <= TORCH_GRAIN_SIZE else None
    torch_ops = twin is None
    z = torch.empty(rows_total, k, dtype=x.dtype)
    dz = torch.empty(rows_total, k, dtype=x.dtype)
    shares = np.empty((blocks, k, n), dtype=x.numpy().dtype)
    if torch_ops:
        block, dbias = _torch_formula_block(
            x, weight, bias, backward, y, m, sample_weight, z, dz, shares, rows
        )
    else:
        logits = ROW_PRODUCTS[product or row_product(x)]
        block, dbias = _numpy_twin_block(x, weight, bias, twin, logits, y, m, sample_weight, z, dz, shares)

    def run(indices) -> None:
        with np.errstate(over="ignore"):  # NumPy's error state is per thread
            for index in indices:
                block(index, index * rows, (index + 1) * rows)

    with blas_on_calling_thread():
        in_parallel(run, blocks, workers)
    dweight = torch.from_numpy(shares.sum(0) if blocks > 1 else shares[0])
    return z, dweight, dbias()


def _numpy_twin_block(x, weight, bias, twin, logits, y, m, sample_weight, z, dz, shares):
    """(block(index, start, stop), finish()) of one neuron, all in NumPy: z_b = x_b w, dz_b by ``twin``
    (from z_b + b), dz_bᵀ x_b into ``shares[index]``; then finish adds b to z and returns db = Σ dz (1,)."""
    xn, w = x.detach().numpy(), weight.detach().reshape(-1).contiguous().numpy()
    b = bias.detach().numpy()[0]
    zn, dzn, yn = z.numpy()[:, 0], dz.numpy()[:, 0], y.detach().numpy()
    sn = None if sample_weight is None else sample_weight.detach().numpy()
    # The divisor in x's dtype, as torch's div_ takes it (a Python number or Σs, a CPU tensor).
    mn = np.asarray(m.item() if isinstance(m, Tensor) else m, dtype=xn.dtype)
    out = shares[:, 0]

    def block(index: int, start: int, stop: int) -> None:
        x_block, z_block, dz_block = xn[start:stop], zn[start:stop], dzn[start:stop]
        logits(x_block, w, z_block)  # x_b w; the twin adds b on its way
        twin(z_block, yn[start:stop], mn, None if sn is None else sn[start:stop], dz_block, b)
        np.dot(dz_block, x_block, out=out[index])  # dz_bᵀ x_b while x_b is in cache

    def finish() -> Tensor:
        # b joins z in one pass after the blocks: in the blocks, where two threads hand the GIL back and
        # forth at every NumPy call, one call fewer each is worth more than this pass.
        np.add(zn, b, out=zn)
        # db by NumPy's pairwise sum over dz's memory: torch's sum of m logits would open an OpenMP
        # region, which on a busy machine waits for its second thread to be scheduled (cProfile of
        # train(): at 100k×100 most of the step went there).
        return torch.from_numpy(dzn.sum(keepdims=True))

    return block, finish


def _torch_formula_block(x, weight, bias, backward, y, m, sample_weight, z, dz, shares, rows):
    """(block(index, start, stop), dbias()): z_b = x_b Wᵀ + b by NumPy's BLAS, dz_b by the torch formula
    ``backward`` (on (k,) vectors for one neuron), dz_bᵀ x_b into ``shares[index]`` and Σ_b dz_b into
    a row of its own; then db (K,) sums those rows."""
    xn, wt = x.detach().numpy(), weight.detach().T.contiguous().numpy()  # (n, K)
    zn, dzn = z.numpy(), dz.numpy().T  # (m, K), (K, m)
    one = weight.shape[0] == 1
    z_blocks = (z.view(-1) if one else z).split(rows)
    dz_blocks = (dz.view(-1) if one else dz).split(rows)
    y_blocks = y.split(rows)
    s_blocks = [None] * len(z_blocks) if sample_weight is None else sample_weight.split(rows)
    bias = bias.detach()
    # Σ dz block by block, on the block in cache: NumPy's sum down the columns of dz (m, K) would add
    # the rows one by one (less exact) and slowly; torch's over all of dz opens an OpenMP region.
    dz_rows, dbias_shares = dz.split(rows), torch.empty(len(z_blocks), weight.shape[0], dtype=x.dtype)

    def block(index: int, start: int, stop: int) -> None:
        x_block = xn[start:stop]
        np.dot(x_block, wt, out=zn[start:stop])
        z_block = z_blocks[index].add_(bias)
        backward(z_block, y_blocks[index], m, s_blocks[index], out=dz_blocks[index])
        np.dot(dzn[:, start:stop], x_block, out=shares[index])  # dz_bᵀ x_b while x_b is in cache
        torch.sum(dz_rows[index], 0, out=dbias_shares[index])

    return block, lambda: torch.from_numpy(np.ascontiguousarray(dbias_shares.numpy().T).sum(1))
