"""The math of logistic regression, written once.

For m examples x (m, n), labels y (m,) in {0, 1}, weight W (1, n) and bias b (1,):

    z = x Wᵀ + b                                   logits, (m, 1)
    a = σ(z)                                       probabilities
    J = (1/m) Σ [softplus(z) − y·z] + (l2 / 2m)·‖W‖²

The cost is the document's J = −(1/m) Σ [y log a + (1−y) log(1−a)] rewritten
from the logits: −y log σ(z) − (1−y) log(1−σ(z)) = softplus(z) − y·z exactly,
and softplus never takes the log of 0, so saturated logits give a finite cost
where the document's literal code gives inf or NaN.

Backward, the document's equations:

    dz = (a − y) / m                               (m, 1)
    dW = dzᵀ x + (l2/m)·W                          (1, n)   (document: dw = X dzᵀ)
    db = Σ dz                                      (1,)
    dx = dz W                                      (m, n)   (so layers can stack)

Two layers of API:

* plain formula functions (``*_forward`` / ``*_backward``, ``cost_and_grads``)
  that a training loop can call without autograd;
* ``torch.autograd.Function`` wrappers (``linear``, ``logistic_cost``,
  ``l2_penalty``) whose ``backward`` calls those same formulas, so
  ``cost.backward()`` runs the document's equations and any ``torch.optim``
  optimizer works.

Inside ``with plain_autograd():`` the wrappers switch to stock PyTorch ops that
autograd differentiates by itself; ``torch_logreg.gradcheck`` uses that to hold
the hand-written gradients against autograd for any model built from them.
"""

from __future__ import annotations

import contextlib
import contextvars

import torch
import torch.nn.functional as F
from torch import Tensor

_PLAIN_AUTOGRAD = contextvars.ContextVar("torch_logreg_plain_autograd", default=False)


@contextlib.contextmanager
def plain_autograd():
    """Make ``linear``, ``logistic_cost`` and ``l2_penalty`` use stock autograd ops."""
    token = _PLAIN_AUTOGRAD.set(True)
    try:
        yield
    finally:
        _PLAIN_AUTOGRAD.reset(token)


# --------------------------------------------------------------------------
# Formulas (no autograd)
# --------------------------------------------------------------------------


def linear_forward(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """z = x Wᵀ + b.  x: (m, n), weight: (k, n), bias: (k,) -> z: (m, k)."""
    if bias is None:
        return x @ weight.T
    return torch.addmm(bias, x, weight.T)


def linear_backward(
    grad_z: Tensor, x: Tensor, weight: Tensor, need_x: bool = True, need_weight: bool = True, need_bias: bool = True
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """dx = g W, dW = gᵀ x, db = Σ_rows g.  grad_z: (m, k) -> (m, n), (k, n), (k,).

    A gradient that is not needed is returned as None and never computed.
    """
    dx = grad_z @ weight if need_x else None
    dweight = grad_z.T @ x if need_weight else None
    dbias = grad_z.sum(0) if need_bias else None
    return dx, dweight, dbias


def logistic_cost_forward(z: Tensor, y: Tensor, m: int | None = None) -> Tensor:
    """J = (1/m) Σ softplus(z) − y·z, the cross-entropy of σ(z) against y.  z, y: (k,) -> ().

    m defaults to k; a block of the rows passes the whole count, and the blocks' J add up.
    """
    return (F.softplus(z) - y * z).sum() / (m or z.numel())


def logistic_cost_backward(z: Tensor, y: Tensor, m: int | None = None) -> Tensor:
    """dz = ∂J/∂z = (σ(z) − y) / m.  z, y: (k,) -> (k,); m defaults to k."""
    return torch.sigmoid(z).sub_(y).div_(m or z.numel())  # in place on σ(z)'s fresh buffer


def l2_forward(weight: Tensor, l2: float, m: int) -> Tensor:
    """(l2 / 2m)·‖W‖², on the weights only (the bias is never penalized)."""
    return weight.pow(2).sum() * (l2 / (2 * m))


def l2_backward(weight: Tensor, l2: float, m: int) -> Tensor:
    """∂/∂W of the L2 term: (l2/m)·W."""
    return weight * (l2 / m)


# Rows per block on the CPU: about 1 MB of x, so that the block is still in cache when
# dzᵀx reads it a second time.  On 100k×100 this makes a step ~10× faster than two
# passes over all of x; on 1M×128 about 2× (measured in benchmarks/profile_ops.py).
CPU_BLOCK_BYTES = 1 << 20


def row_blocks(x: Tensor, *others: Tensor) -> list[tuple[Tensor, ...]]:
    """[(x_block, *other_blocks)] in blocks of about ``CPU_BLOCK_BYTES`` of x on the CPU; one block elsewhere."""
    m = x.shape[0]
    rows = max(1, CPU_BLOCK_BYTES // (x.shape[1] * x.element_size())) if x.device.type == "cpu" else m
    if m <= rows:
        return [(x, *others)]
    return list(zip(x.split(rows), *(t.split(rows) for t in others)))


def block_logits(x_block: Tensor, w: Tensor, bias: Tensor, scratch: Tensor | None) -> Tensor:
    """z = x·w + b for one neuron and one block of rows.  x_block: (k, n), w: (n,) -> (k,).

    A block streamed from memory (one of many) takes a multiply into ``scratch`` and a
    row sum: MKL's gemv read such blocks ~3× slower (AMD EPYC, benchmarks/profile_ops.py).
    Data that stays in cache, as small data sets do step after step, is faster through
    gemv (``scratch`` None).
    """
    if scratch is not None:
        return torch.mul(x_block, w, out=scratch[: len(x_block)]).sum(1).add_(bias)
    return torch.addmv(bias, x_block, w)


def block_scratch(blocks: list, *inputs: Tensor) -> Tensor | None:
    """One buffer of a block's size, reused by every block: a fresh ~1 MB tensor per block
    can come from a new mapping each time, and its page faults cost ~20× the multiply.
    None for a single block, and when autograd records ``inputs`` (``out=`` would break it)."""
    if len(blocks) == 1 or (torch.is_grad_enabled() and any(t.requires_grad for t in inputs)):
        return None
    return torch.empty_like(blocks[0][0])


def cost(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, l2: float = 0.0) -> Tensor:
    """J for a one-neuron model without autograd.  x: (m, n), y: (m,), weight: (1, n), bias: (1,)."""
    m, w = x.shape[0], weight.reshape(-1)
    blocks = row_blocks(x, y)
    scratch = block_scratch(blocks, x, weight, bias)
    value = sum(logistic_cost_forward(block_logits(xb, w, bias, scratch), yb, m) for xb, yb in blocks)
    return value + l2_forward(weight, l2, m) if l2 else value


def cost_and_grads(
    x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, l2: float = 0.0, *, with_cost: bool = False
) -> tuple[Tensor | None, Tensor, Tensor]:
    """(J or None, dW (1, n), db (1,)) in one forward pass, without autograd.

    The vectorized form of the document's loop: z = x Wᵀ + b, dz = (σ(z) − y)/m,
    dW = dzᵀ x + (l2/m) W, db = Σ dz.  The cost is computed only when asked for,
    since a training loop needs it only on the steps it logs.

    This is ``linear_forward`` / ``linear_backward`` for one neuron in vector form
    (addmv, mv): on small data every op saved is a microsecond a step.  On the CPU,
    large x is processed in ``row_blocks`` whose sums add up to the same J, dW, db.
    Tests hold it against the autograd Functions.
    """
    m = x.shape[0]
    w = weight.reshape(-1)  # (n,)
    value = dweight = dbias = None
    blocks = row_blocks(x, y)
    scratch = block_scratch(blocks, x, weight, bias)
    for x_block, y_block in blocks:
        z = block_logits(x_block, w, bias, scratch)  # (rows,)
        dz = logistic_cost_backward(z, y_block, m)  # (rows,)
        if dweight is None:
            dweight, dbias = torch.mv(x_block.T, dz), dz.sum()  # dzᵀ x, Σ dz
            value = logistic_cost_forward(z, y_block, m) if with_cost else None
        else:
            dweight.addmv_(x_block.T, dz)
            dbias += dz.sum()
            if with_cost:
                value += logistic_cost_forward(z, y_block, m)
    dweight = dweight.view_as(weight)
    if l2:
        dweight = dweight + l2_backward(weight, l2, m)
        if with_cost:
            value = value + l2_forward(weight, l2, m)
    return value, dweight, dbias.reshape(1)


def hessian(x: Tensor, weight: Tensor, bias: Tensor, l2: float = 0.0) -> Tensor:
    """∇²J over θ = [W, b]: [x, 1]ᵀ diag(a(1−a)) [x, 1] / m + (l2/m)·I on W only.  -> (n+1, n+1).

    The second derivative of the cost: ∂dz/∂z = a(1−a)/m, chained through z = x Wᵀ + b.
    The bias entry gets no l2 term, as the bias is never penalized.
    """
    m, n = x.shape
    w = weight.reshape(-1)
    # Contiguous accumulators: addmm_ into a strided view of the result ran ~40× slower.
    top_left = torch.zeros(n, n, dtype=x.dtype, device=x.device)
    top_right = torch.zeros(n, dtype=x.dtype, device=x.device)
    corner = torch.zeros(1, dtype=x.dtype, device=x.device)
    blocks = row_blocks(x)
    scratch = block_scratch(blocks, x, weight, bias)
    for (x_block,) in blocks:
        a = torch.sigmoid(block_logits(x_block, w, bias, scratch))
        curvature = a * (1 - a) / m  # (rows,)
        weighted = torch.mul(x_block, curvature.unsqueeze(1), out=scratch[: len(x_block)]) if scratch is not None \
            else x_block * curvature.unsqueeze(1)  # (rows, n)
        top_left.addmm_(weighted.T, x_block)  # xᵀ diag(c) x
        top_right += weighted.sum(0)  # xᵀ c
        corner += curvature.sum()  # Σ c
    top_left.diagonal().add_(l2 / m)
    bottom = torch.cat([top_right, corner]).unsqueeze(0)  # (1, n + 1)
    return torch.cat([torch.cat([top_left, top_right.unsqueeze(1)], 1), bottom], 0)


# --------------------------------------------------------------------------
# autograd Functions: forward and backward side by side, backward = the formulas
# --------------------------------------------------------------------------


class LinearFunction(torch.autograd.Function):
    """z = x Wᵀ + b with the hand-written backward of ``linear_backward``."""

    @staticmethod
    def forward(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        return linear_forward(x, weight, bias)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias = inputs
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None

    @staticmethod
    def backward(ctx, grad_z: Tensor):
        x, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad
        return linear_backward(grad_z, x, weight, need_x, need_weight, need_bias and ctx.has_bias)


class LogisticCostFunction(torch.autograd.Function):
    """J = mean(softplus(z) − y·z); backward dz = (σ(z) − y)/m.  No gradient for y."""

    @staticmethod
    def forward(z: Tensor, y: Tensor) -> Tensor:
        return logistic_cost_forward(z, y)

    @staticmethod
    def setup_context(ctx, inputs, output):
        z, y = inputs
        ctx.save_for_backward(z, y)

    @staticmethod
    def backward(ctx, grad_cost: Tensor):
        z, y = ctx.saved_tensors
        dz = logistic_cost_backward(z, y) * grad_cost if ctx.needs_input_grad[0] else None
        return dz, None


class L2PenaltyFunction(torch.autograd.Function):
    """(l2 / 2m)·‖W‖²; backward (l2/m)·W.  l2 and m are constants."""

    @staticmethod
    def forward(weight: Tensor, l2: float, m: int) -> Tensor:
        return l2_forward(weight, l2, m)

    @staticmethod
    def setup_context(ctx, inputs, output):
        weight, l2, m = inputs
        ctx.save_for_backward(weight)
        ctx.l2, ctx.m = l2, m

    @staticmethod
    def backward(ctx, grad_cost: Tensor):
        (weight,) = ctx.saved_tensors
        dweight = l2_backward(weight, ctx.l2, ctx.m) * grad_cost if ctx.needs_input_grad[0] else None
        return dweight, None, None


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """z = x Wᵀ + b.  x: (m, n), weight: (k, n), bias: (k,) -> (m, k)."""
    if _PLAIN_AUTOGRAD.get():
        return F.linear(x, weight, bias)
    return LinearFunction.apply(x, weight, bias)


def logistic_cost(z: Tensor, y: Tensor) -> Tensor:
    """J = mean(softplus(z) − y·z) = mean cross-entropy of σ(z) against y.  z, y: (m,) -> ()."""
    if _PLAIN_AUTOGRAD.get():
        return F.binary_cross_entropy_with_logits(z, y.to(z.dtype))
    return LogisticCostFunction.apply(z, y.to(z.dtype))


def l2_penalty(weight: Tensor, l2: float, m: int) -> Tensor:
    """(l2 / 2m)·‖W‖².  l2 and m are constants; only W gets a gradient, (l2/m)·W."""
    if _PLAIN_AUTOGRAD.get():
        return weight.pow(2).sum() * (l2 / (2 * m))
    return L2PenaltyFunction.apply(weight, l2, m)
