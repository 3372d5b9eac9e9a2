"""Cost and gradients of logistic regression in one pass over X: a fused Triton kernel.

It computes what ``torch_logreg.nn.functional.cost_and_grads`` computes, for x (m, n),
y (m,), weight W (1, n), bias b (1,):

    z  = x Wᵀ + b,   a = σ(z),   dz = (a − y) / m
    dW = dzᵀ x + (l2/m)·W                                        (1, n)
    db = Σ dz                                                    (1,)
    J  = (1/m) Σ [softplus(z) − y·z] + (l2/2m)·‖W‖²              ()

with softplus(z) = max(z, 0) + log1p(exp(−|z|)), never log σ(z).

The eager formulas read X twice (x Wᵀ, then dzᵀ x); this kernel reads each row once,
forms its z, and weights the same registers by dz.  A grid of at most
programs_per_sm × SMs programs strides over blocks of BLOCK_M rows; each keeps its
partial dW, db and J in registers and writes them once, as one row of a small
(programs, n + 2) buffer, at the end.  Summing those rows with torch, rather than
atomic adds, fixes the order of the additions: the same inputs give the same bits on
every run, as the training loop promises.  Nothing reads a tensor back to the host,
so a call can be captured in a CUDA graph (pass ``out`` buffers).  x may be float32 or bfloat16; every sum is
accumulated in float32.
"""

from __future__ import annotations

import contextlib
import functools
from typing import NamedTuple

import torch
from torch import Tensor

try:  # triton is an optional extra (``pip install torch_logreg[cuda]``)
    import triton
    import triton.language as tl
except ImportError:
    triton = None
_INTERPRETED = False  # set below: whether triton runs kernels with its CPU interpreter

# The whole row must sit in registers to form z before dz can weight it, so n is one
# block of columns.  Tiles are capped at 128×128 values (the measured float32 tile): at
# n = 1024 that leaves 16 rows, and the tile already takes all 255 registers a thread
# has (sm_90); wider rows would spill and need a kernel that loops over column blocks.
MAX_FEATURES = 1024
_TILE_VALUES = 128 * 128

# dtype -> (BLOCK_M, num_warps, programs per SM), measured on an H200 by a prototype:
# float32 reached 94% of copy bandwidth at 10M×128; for bfloat16 only the programs per
# SM were measured.  A 128×128 tile takes ~200 registers a thread, so only 2 programs
# are resident per SM and more run as successive waves.
LAUNCH_SETTINGS = {torch.float32: (128, 4, 16), torch.bfloat16: (128, 4, 2)}
_INTERPRETER_PROGRAMS = 4  # on the CPU interpreter, enough to exercise the grid stride


class FusedOutputs(NamedTuple):
    """Output buffers, overwritten by each call: cost (), dweight (1, n), dbias (1,)."""

    cost: Tensor
    dweight: Tensor
    dbias: Tensor

    @classmethod
    def allocate(cls, n: int, device: torch.device | str) -> FusedOutputs:
        """float32 buffers for n features on ``device``, to reuse across calls and graph replays."""
        zeros = functools.partial(torch.zeros, dtype=torch.float32, device=device)
        return cls(zeros(()), zeros(1, n), zeros(1))


def triton_available() -> bool:
    """Whether triton is installed (the kernel exists only then)."""
    return triton is not None


def supports(x: Tensor) -> bool:
    """Whether the kernel handles x: 2-D, contiguous, float32/bfloat16, 1 ≤ n ≤ MAX_FEATURES,
    on CUDA, or on the CPU when triton runs its interpreter (TRITON_INTERPRET=1 at import)."""
    return (
        triton is not None
        and x.dim() == 2
        and x.is_contiguous()
        and x.dtype in LAUNCH_SETTINGS
        and 1 <= x.shape[0] < 2**31  # row indices are int32 in the kernel
        and 1 <= x.shape[1] <= MAX_FEATURES
        and (x.is_cuda or (x.device.type == "cpu" and _INTERPRETED))
    )


@functools.lru_cache(maxsize=None)
def _sm_count(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count


def _check_arguments(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, out: FusedOutputs | None) -> None:
    """A ValueError naming the argument whose shape, dtype or device the kernel cannot take."""
    if not supports(x):
        raise ValueError(
            f"fused kernel does not support x {tuple(x.shape)} {x.dtype} on {x.device}; see supports()"
        )
    m, n = x.shape
    for name, tensor, shape in (("y", y, (m,)), ("weight", weight, (1, n)), ("bias", bias, (1,))):
        if tensor.shape != shape or tensor.dtype != torch.float32 or tensor.device != x.device:
            raise ValueError(
                f"{name} must be float32 {shape} on {x.device}, got {tensor.dtype} {tuple(tensor.shape)}"
            )
    if out is not None:
        for buffer, shape in zip(out, ((), (1, n), (1,))):
            if buffer.shape != shape or buffer.dtype != torch.float32 or buffer.device != x.device:
                raise ValueError(f"out buffers must be FusedOutputs.allocate({n}, {x.device})")


def fused_cost_and_grads(
    x: Tensor,
    y: Tensor,
    weight: Tensor,
    bias: Tensor,
    l2: float = 0.0,
    with_cost: bool = True,
    out: FusedOutputs | None = None,
    *,
    block_m: int | None = None,
    num_warps: int | None = None,
    programs_per_sm: int | None = None,
) -> tuple[Tensor | None, Tensor, Tensor]:
    """(J or None, dW (1, n), db (1,)) of ``nn.functional.cost_and_grads``, reading x once.

    Args:
        x: (m, n) float32 or bfloat16, contiguous (see ``supports``).
        y: (m,) float32 labels in {0, 1}.  weight: (1, n) float32.  bias: (1,) float32.
        l2: L2 strength; the penalty is (l2/2m)·‖W‖² on the weights only.
        with_cost: also return J; otherwise the cost is neither computed nor returned.
        out: ``FusedOutputs`` to fill instead of allocating (for CUDA graphs);
            the returned tensors are then these buffers.
        block_m, num_warps, programs_per_sm: override ``LAUNCH_SETTINGS`` (benchmarking).
    """
    _check_arguments(x, y, weight, bias, out)
    m, n = x.shape
    default_block_m, default_warps, default_programs = LAUNCH_SETTINGS[x.dtype]
    block_n = triton.next_power_of_2(n)
    block_m = block_m or min(default_block_m, _TILE_VALUES // block_n)
    if x.is_cuda:
        programs = (programs_per_sm or default_programs) * _sm_count(x.device)
    else:
        programs = _INTERPRETER_PROGRAMS
    grid = (min(triton.cdiv(m, block_m), programs),)
    # Row p: program p's Σ dz·x (n), Σ dz, Σ cost terms; every program writes its whole row.
    partials = torch.empty(grid[0], n + 2, dtype=torch.float32, device=x.device)
    # triton launches on the current device, which need not be x's.
    with torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext():
        _cost_and_grads_kernel[grid](
            x, y.contiguous(), weight.contiguous(), bias, partials,
            m, n, x.stride(0), partials.stride(0),
            WITH_COST=with_cost, BLOCK_M=block_m, BLOCK_N=block_n, num_warps=num_warps or default_warps,
        )  # fmt: skip
    sums = partials.sum(0) / m  # a fixed-order reduction: deterministic
    dweight = sums[:n].view(1, n)
    if l2:
        dweight = dweight + weight * (l2 / m)
    dbias = sums[n : n + 1]
    cost = None
    if with_cost:
        cost = sums[n + 1] + weight.pow(2).sum() * (l2 / (2 * m)) if l2 else sums[n + 1]
    if out is None:
        return cost, dweight, dbias
    out.dweight.copy_(dweight)
    out.dbias.copy_(dbias)
    if with_cost:
        out.cost.copy_(cost)
    return (out.cost if with_cost else None), out.dweight, out.dbias


if triton is not None:

    @triton.jit
    def _log1p(e):
        """log(1 + e) to a few ulp for e ∈ [0, 1] (Kahan's trick: the rounding of 1 + e
        cancels in log(u)·e/(u − 1)); libdevice.log1p does not run under the interpreter."""
        u = 1.0 + e
        return tl.where(u == 1.0, e, tl.log(u) * (e / tl.where(u == 1.0, 1.0, u - 1.0)))

    @triton.jit
    def _cost_and_grads_kernel(
        x_ptr, y_ptr, w_ptr, b_ptr,  # x (m, n) with rows stride_xm apart, y (m,), W (n,), b (1,)
        partial_ptr,  # (programs, n + 2): this program's [Σ dz·x, Σ dz, Σ cost terms]
        m, n, stride_xm, stride_partial,
        WITH_COST: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        cols = tl.arange(0, BLOCK_N)
        col_mask = cols < n
        w = tl.load(w_ptr + cols, mask=col_mask, other=0.0)  # (BLOCK_N,)
        b = tl.load(b_ptr)
        dw = tl.zeros([BLOCK_N], dtype=tl.float32)  # Σ (a − y)·x over this program's rows
        # Per-row slots, summed once at the end: a cross-thread sum every block would cost more.
        db = tl.zeros([BLOCK_M], dtype=tl.float32)  # Σ (a − y)
        cost = tl.zeros([BLOCK_M], dtype=tl.float32)  # Σ softplus(z) − y·z
        for start in range(pid * BLOCK_M, m, tl.num_programs(0) * BLOCK_M):
            rows = start + tl.arange(0, BLOCK_M)
            row_mask = rows < m
            row_ptrs = x_ptr + rows.to(tl.int64) * stride_xm  # int64: m·n may pass 2³¹
            tile_mask = row_mask[:, None] & col_mask[None, :]
            x = tl.load(row_ptrs[:, None] + cols[None, :], mask=tile_mask, other=0.0).to(tl.float32)
            y = tl.load(y_ptr + rows, mask=row_mask, other=0.0)
            z = tl.sum(x * w[None, :], axis=1) + b  # (BLOCK_M,)
            # e = exp(−|z|) ∈ (0, 1] serves both σ and softplus and never overflows.
            e = tl.exp(-tl.abs(z))
            # σ(z) − y over one denominator, (1 or e) − y − y·e over 1 + e, so a confident
            # right answer keeps its tiny gradient (float32 σ(20) rounds to 1).
            a_minus_y = (tl.where(z >= 0, 1.0, e) - y - y * e) / (1.0 + e)
            dz = tl.where(row_mask, a_minus_y, 0.0)  # masked rows have z = b, and σ(b) ≠ 0
            dw += tl.sum(dz[:, None] * x, axis=0)
            db += dz
            if WITH_COST:
                # softplus(z) − y·z, with max(z, 0) − y·z first: for y ∈ {0, 1} that is exact
                # (0 or |z|), so a tiny log1p term of a confident right answer is not rounded off.
                cost += tl.where(row_mask, tl.maximum(z, 0.0) - y * z + _log1p(e), 0.0)
        row = partial_ptr + pid * stride_partial
        tl.store(row + cols, dw, mask=col_mask)
        tl.store(row + n, tl.sum(db, axis=0))
        tl.store(row + n + 1, tl.sum(cost, axis=0))  # zeros when WITH_COST is off

    # The decorator picked the interpreter if TRITON_INTERPRET was set when it ran.
    _INTERPRETED = not isinstance(_cost_and_grads_kernel, triton.runtime.JITFunction)
