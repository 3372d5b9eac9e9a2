"""The graph-free cost, gradients and Hessian of the one-layer models (one neuron, softmax) over all of
x (m, n), read in row blocks: the fast paths a model offers (``cost_and_grads``) and Newton's Hessian.

Each is the formulas of ``formulas`` summed over blocks; ``functional`` exports every name here.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import one_pass, one_pass_hessian
from .formulas import (
    l2_backward,
    l2_forward,
    linear_backward,
    linear_forward,
    logistic_cost_backward,
    logistic_cost_forward,
    softmax_cost_backward,
    softmax_cost_forward,
)
from .neuron_logits import fast_logits

# Rows per block on the CPU for the Hessian: about 4 MB of x, so that its (rows, n)
# scratch product stays that small and in cache for xᵀ diag(c) x.
CPU_BLOCK_BYTES = 4 << 20
# The gradient's full-batch CPU step reads x once in cache-sized blocks (``one_pass``); these
# larger blocks serve what is left: the cost alone (log steps) and gradients that autograd
# records.  Their temporaries are m-vectors (z, dz), so a block only bounds their size.
CPU_GRADIENT_BLOCK_BYTES = 64 << 20


def row_blocks(x: Tensor, *others: Tensor, block_bytes: int | None = None) -> list[tuple[Tensor, ...]]:
    """[(x_block, *other_blocks)] in blocks of about ``block_bytes`` (default ``CPU_BLOCK_BYTES``) of x
    on the CPU; one block elsewhere."""
    m = x.shape[0]
    block_bytes = CPU_BLOCK_BYTES if block_bytes is None else block_bytes
    rows = max(1, block_bytes // (x.shape[1] * x.element_size())) if x.device.type == "cpu" else m
    if m <= rows:
        return [(x, *others)]
    return list(zip(x.split(rows), *(t.split(rows) for t in others)))


def block_logits(x_block: Tensor, w: Tensor, bias: Tensor) -> Tensor:
    """z = x·w + b for one neuron and one block of rows.  x_block: (k, n), w: (n,) -> (k,).

    A large CPU block without autograd goes through NumPy's row dot products
    (``neuron_logits.fast_logits``: torch's gemv, MKL in the PyTorch wheels, reads it at about a
    third of their speed on an AMD EPYC, ``benchmarks/gemv_blocks.py``); anything else through
    torch's gemv.  The training step's gradient goes through ``one_pass``; the cost alone and the
    Hessian come here.
    """
    fast = fast_logits(x_block, w, bias)  # a large CPU block without autograd: NumPy's row products
    return torch.addmv(bias, x_block, w) if fast is None else fast


def block_scratch(blocks: list, *inputs: Tensor) -> Tensor | None:
    """One buffer of a block's size, reused by every block: a fresh ~1 MB tensor per block
    can come from a new mapping each time, and its page faults cost ~20× the multiply.
    None for a single block, and when autograd records ``inputs`` (``out=`` would break it)."""
    if len(blocks) == 1 or (torch.is_grad_enabled() and any(t.requires_grad for t in inputs)):
        return None
    return torch.empty_like(blocks[0][0])


def _blocks_with_weights(x: Tensor, y: Tensor, sample_weight: Tensor | None) -> list[tuple]:
    """The gradient's ``row_blocks`` of (x, y, s), with s None in every block when there are no weights."""
    if sample_weight is None:
        return [(xb, yb, None) for xb, yb in row_blocks(x, y, block_bytes=CPU_GRADIENT_BLOCK_BYTES)]
    return row_blocks(x, y, sample_weight, block_bytes=CPU_GRADIENT_BLOCK_BYTES)


def normalizers(x: Tensor, sample_weight: Tensor | None, rows=None, l2_rows=None):
    """(m, the L2 term's m).  m divides the loss sum: ``rows`` when given (a worker of several
    passes the global count, so the workers' parts add up to the mean), else the rows here or
    Σs.  The L2 term's m is ``l2_rows`` when given (a mini-batch passes the full count; inf
    leaves the term out), else m."""
    m = rows if rows is not None else (x.shape[0] if sample_weight is None else sample_weight.sum())
    return m, (m if l2_rows is None else l2_rows)


def cost(
    x: Tensor,
    y: Tensor,
    weight: Tensor,
    bias: Tensor,
    l2: float = 0.0,
    *,
    sample_weight: Tensor | None = None,
    rows=None,
    l2_rows=None,
) -> Tensor:
    """J for a one-neuron model without autograd.  x: (m, n), y: (m,), weight: (1, n), bias: (1,)."""
    value, _, _ = cost_and_grads(
        x,
        y,
        weight,
        bias,
        l2,
        with_cost=True,
        sample_weight=sample_weight,
        rows=rows,
        l2_rows=l2_rows,
        need_grads=False,
    )
    return value


def cost_and_grads(
    x: Tensor,
    y: Tensor,
    weight: Tensor,
    bias: Tensor,
    l2: float = 0.0,
    *,
    with_cost: bool = False,
    sample_weight: Tensor | None = None,
    rows=None,
    l2_rows=None,
    need_grads: bool = True,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """(J or None, dW (1, n), db (1,)) in one forward pass, without autograd.

    The vectorized form of the document's loop: z = x Wᵀ + b, dz = s·(σ(z) − y)/m,
    dW = dzᵀ x + (l2/m) W, db = Σ dz.  The cost is computed only when asked for,
    since a training loop needs it only on the steps it logs.

    This is ``linear_forward`` / ``linear_backward`` for one neuron in vector form
    (addmv, mv): on small data every op saved is a microsecond a step.  On the CPU, float32
    and float64 x without autograd is read once (``one_pass.grads``: cache-sized row blocks);
    otherwise very large x goes in ``row_blocks`` (``CPU_GRADIENT_BLOCK_BYTES``).  Either way
    the blocks' sums add up to the same J, dW, db.
    Tests hold it against the autograd Functions.
    """
    m, l2_m = normalizers(x, sample_weight, rows, l2_rows)
    w = weight.reshape(-1)  # (n,)
    value = dweight = dbias = None
    if need_grads and one_pass.supports(x, weight, bias):  # the CPU step: x read once, in cached blocks
        z, dweight, dbias = one_pass.grads(x, weight, bias, logistic_cost_backward, y, m, sample_weight)
        value = logistic_cost_forward(z.view(-1), y, m, sample_weight) if with_cost else None
        blocks = []
    elif x.shape[0] * x.shape[1] * x.element_size() <= CPU_GRADIENT_BLOCK_BYTES:
        blocks = [(x, y, sample_weight)]  # one block (small x): no split, a few microseconds a step
    else:
        blocks = _blocks_with_weights(x, y, sample_weight)
    for x_block, y_block, s_block in blocks:
        z = block_logits(x_block, w, bias)  # (rows,)
        if with_cost:
            part = logistic_cost_forward(z, y_block, m, s_block)
            value = part if value is None else value + part
        if not need_grads:
            continue
        dz = logistic_cost_backward(z, y_block, m, s_block)  # (rows,)
        if dweight is None:
            dweight, dbias = torch.mv(x_block.T, dz), dz.sum()  # dzᵀ x, Σ dz
        else:
            dweight.addmv_(x_block.T, dz)
            dbias += dz.sum()
    if l2 and with_cost:
        value = value + l2_forward(weight, l2, l2_m)
    if not need_grads:
        return value, None, None
    dweight = dweight.view_as(weight)
    if l2:
        dweight = dweight + l2_backward(weight, l2, l2_m)
    return value, dweight, dbias.reshape(1)


def hessian(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    l2: float = 0.0,
    *,
    sample_weight: Tensor | None = None,
    rows=None,
    l2_rows=None,
) -> Tensor:
    """∇²J over θ = [W, b]: [x, 1]ᵀ diag(s·a(1−a)) [x, 1] / m + (l2/m)·I on W only.  -> (n+1, n+1).

    The second derivative of the cost: ∂dz/∂z = s·a(1−a)/m, chained through z = x Wᵀ + b.
    The bias entry gets no l2 term, as the bias is never penalized.  On the CPU without sample
    weights or autograd, ``one_pass_hessian`` forms the sums (x read once, the Gram by syrk).
    """
    m, l2_m = normalizers(x, sample_weight, rows, l2_rows)
    if sample_weight is None and one_pass_hessian.supports(x, weight, bias):  # CPU: x once, the Gram by syrk
        top_left, top_right, corner = one_pass_hessian.curvature_sums(x, weight, bias, m)
    else:
        top_left, top_right, corner = _curvature_sums(x, weight, bias, m, sample_weight)
    top_left.diagonal().add_(l2 / l2_m)
    bottom = torch.cat([top_right, corner]).unsqueeze(0)  # (1, n + 1)
    return torch.cat([torch.cat([top_left, top_right.unsqueeze(1)], 1), bottom], 0)


def _curvature_sums(x: Tensor, weight: Tensor, bias: Tensor, m, sample_weight: Tensor | None):
    """(xᵀ diag(c) x, xᵀ c, Σ c) with c = s·a(1 − a)/m, in ``row_blocks``: any device, weights, autograd."""
    n = x.shape[1]
    w = weight.reshape(-1)
    # Contiguous accumulators: addmm_ into a strided view of the result ran ~40× slower.
    top_left = torch.zeros(n, n, dtype=x.dtype, device=x.device)
    top_right = torch.zeros(n, dtype=x.dtype, device=x.device)
    corner = torch.zeros(1, dtype=x.dtype, device=x.device)
    blocks = (
        [(xb, None) for (xb,) in row_blocks(x)] if sample_weight is None else row_blocks(x, sample_weight)
    )
    scratch = block_scratch(blocks, x, weight, bias)
    for x_block, s_block in blocks:
        a = torch.sigmoid(block_logits(x_block, w, bias))
        curvature = a * (1 - a) / m  # (rows,)
        if s_block is not None:
            curvature = curvature * s_block
        weighted = (
            torch.mul(x_block, curvature.unsqueeze(1), out=scratch[: len(x_block)])
            if scratch is not None
            else x_block * curvature.unsqueeze(1)
        )  # (rows, n)
        top_left.addmm_(weighted.T, x_block)  # xᵀ diag(c) x
        top_right += weighted.sum(0)  # xᵀ c
        corner += curvature.sum()  # Σ c
    return top_left, top_right, corner


def softmax_cost_and_grads(
    x: Tensor,
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
    """(J or None, dW (K, n), db (K,)) for softmax regression, without autograd.

    z = x Wᵀ + b (m, K), dz = s·(softmax(z) − onehot(y))/m, dW = dzᵀ x + (l2/m) W, db = Σ dz:
    ``linear_forward``, ``softmax_cost_backward`` and ``linear_backward`` in one pass.
    """
    m, l2_m = normalizers(x, sample_weight, rows, l2_rows)
    if one_pass.supports(x, weight, bias):  # the CPU step: x read once, in cached blocks
        z, dweight, dbias = one_pass.grads(x, weight, bias, softmax_cost_backward, y, m, sample_weight)
    else:
        z = linear_forward(x, weight, bias)
        dz = softmax_cost_backward(z, y, m, sample_weight)
        _, dweight, dbias = linear_backward(dz, x, weight, need_x=False)
    value = softmax_cost_forward(z, y, m, sample_weight) if with_cost else None
    if l2:
        dweight = dweight.add_(l2_backward(weight, l2, l2_m))
        if with_cost:
            value = value + l2_forward(weight, l2, l2_m)
    return value, dweight, dbias


def softmax_hessian(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    l2: float = 0.0,
    *,
    sample_weight: Tensor | None = None,
    rows=None,
    l2_rows=None,
) -> Tensor:
    """∇²J of softmax regression over θ = [W (K·n, row-major), b (K)].  -> (K(n+1), K(n+1)).

    H = (1/m) Σᵢ sᵢ·(diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ + (l2/m)·I on W, with x̃ = [x, 1] and p = softmax(z):
    built per class as [W_k, b_k] blocks, then reordered to the parameters' order.

    H is singular: adding one constant to every class's bias changes no probability (for
    any l2, as the bias is not penalized), and with l2 = 0 neither does adding one vector
    to every class's weights.  ``training.optim.Newton`` solves along the other directions only.
    """
    m_rows, n = x.shape
    k = weight.shape[0]
    m, l2_m = normalizers(x, sample_weight, rows, l2_rows)
    x_tilde = torch.cat([x, torch.ones(m_rows, 1, dtype=x.dtype, device=x.device)], 1)  # (m, n+1)
    p = torch.softmax(linear_forward(x, weight, bias), 1)  # (m, K)
    row_weight = (
        torch.ones(m_rows, dtype=x.dtype, device=x.device) if sample_weight is None else sample_weight
    ) / m  # (m,)
    spread = (p.unsqueeze(2) * x_tilde.unsqueeze(1)).reshape(m_rows, k * (n + 1))  # pᵢ ⊗ x̃ᵢ
    blocks = -(spread * row_weight.unsqueeze(1)).T @ spread  # −Σ s pᵢpᵢᵀ ⊗ x̃ᵢx̃ᵢᵀ / m
    diagonal = torch.einsum(
        "ik,ia,ib->kab", p * row_weight.unsqueeze(1), x_tilde, x_tilde
    )  # Σ s pᵢₖ x̃ᵢx̃ᵢᵀ / m
    per_class = blocks.view(k, n + 1, k, n + 1)
    for c in range(k):
        per_class[c, :, c, :] += diagonal[c]
    # [W_k, b_k] per class -> [W row-major, b]: the order of model.parameters().
    order = torch.cat(
        [
            torch.arange(k * (n + 1), device=x.device).view(k, n + 1)[:, :n].reshape(-1),
            torch.arange(k, device=x.device) * (n + 1) + n,
        ]
    )
    hess = blocks[order][:, order]
    hess.diagonal()[: k * n] += l2 / l2_m
    return hess
