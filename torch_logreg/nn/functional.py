"""The math of logistic regression, written once.

For m examples x (m, n), labels y (m,) in {0, 1}, weight W (1, n) and bias b (1,):

    z = x Wᵀ + b                                   logits, (m, 1)
    a = σ(z)                                       probabilities
    J = (1/m) Σ [softplus(z) − y·z] + (l2 / 2m)·‖W‖²

The cost is the document's J = −(1/m) Σ [y log a + (1−y) log(1−a)] rewritten
from the logits: −y log σ(z) − (1−y) log(1−σ(z)) = softplus(z) − y·z exactly,
computed as max(z, 0) − y·z + log1p(e^(−|z|)), which never takes the log of 0
and never rounds e^(−|z|) away (``F.softplus`` returns z itself above z = 20),
so saturated logits give the exact, finite cost where the document's literal
code gives inf or NaN.

K classes (softmax regression): W (K, n), b (K,), integer labels y (m,) in 0..K−1:

    z = x Wᵀ + b                                   logits, (m, K)
    J = (1/m) Σᵢ [logsumexp(zᵢ) − zᵢ,yᵢ] + (l2 / 2m)·‖W‖²
    dz = (softmax(z) − onehot(y)) / m              (m, K): the document's a − y, per class

With sample weights s (m,), every (1/m) Σ becomes (1/Σs) Σ sᵢ·, and dz gains the
factor sᵢ: weight 2 is the same as the row repeated.  A mini-batch passes the full
training count (or Σs) as ``l2_rows``, so every optimizer minimizes one objective.

Backward, the document's equations:

    dz = (a − y) / m                               (m, 1)
    dW = dzᵀ x + (l2/m)·W                          (1, n)   (document: dw = X dzᵀ)
    db = Σ dz                                      (1,)
    dx = dz W                                      (m, n)   (so layers can stack)

Activations for hidden layers, each with its derivative written from its output a:
sigmoid a(1 − a), tanh 1 − a², relu 1 where a > 0 (0 at z = 0, as PyTorch).

Two layers of API:

* plain formula functions (``*_forward`` / ``*_backward``, ``cost_and_grads``)
  that a training loop can call without autograd;
* ``torch.autograd.Function`` wrappers (``linear``, ``logistic_cost``,
  ``l2_penalty``) whose ``backward`` calls those same formulas, so
  ``cost.backward()`` runs the document's equations and any ``torch.optim``
  optimizer works.

Inside ``with plain_autograd():`` the wrappers switch to stock PyTorch ops that
autograd differentiates by itself; ``torch_logreg.nn.gradcheck`` uses that to hold
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


def linear_forward(x: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor | None = None) -> Tensor:
    """z = x Wᵀ + b.  x: (m, n), weight: (k, n), bias: (k,) -> z: (m, k), into ``out`` when given."""
    if bias is None:
        return torch.matmul(x, weight.T, out=out)
    return torch.addmm(bias, x, weight.T, out=out)


def linear_backward(
    grad_z: Tensor, x: Tensor, weight: Tensor, need_x: bool = True, need_weight: bool = True, need_bias: bool = True,
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


def logistic_cost_backward(z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None) -> Tensor:
    """dz = ∂J/∂z = s·(σ(z) − y) / m.  z, y: (k,) -> (k,); m defaults to k (Σs)."""
    dz = torch.sigmoid(z).sub_(y)  # in place on σ(z)'s fresh buffer
    if sample_weight is not None:
        return dz.mul_(sample_weight).div_(_count(m, sample_weight.sum()))
    return dz.div_(_count(m, z.numel()))


def softmax_cost_forward(z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None) -> Tensor:
    """J = (1/m) Σᵢ sᵢ·[logsumexp(zᵢ) − zᵢ,yᵢ].  z: (k, K), y: (k,) int64 in 0..K−1 -> ().

    logsumexp subtracts each row's max first, so logits of ±1000 give the exact cost.
    """
    loss = torch.logsumexp(z, 1) - z.gather(1, y.unsqueeze(1)).squeeze(1)
    if sample_weight is not None:
        return (loss * sample_weight).sum() / _count(m, sample_weight.sum())
    return loss.sum() / _count(m, len(z))


def softmax_cost_backward(z: Tensor, y: Tensor, m=None, sample_weight: Tensor | None = None) -> Tensor:
    """dz = ∂J/∂z = s·(softmax(z) − onehot(y)) / m.  z: (k, K), y: (k,) int64 -> (k, K)."""
    dz = torch.softmax(z, 1)
    dz.scatter_add_(1, y.unsqueeze(1), torch.full_like(z[:, :1], -1.0))  # − onehot(y)
    if sample_weight is not None:
        return dz.mul_(sample_weight.unsqueeze(1)).div_(_count(m, sample_weight.sum()))
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


# Rows per block on the CPU for the Hessian: about 4 MB of x, so that its (rows, n)
# scratch product stays that small and in cache for xᵀ diag(c) x.
CPU_BLOCK_BYTES = 4 << 20
# The gradient's blocks are far larger: its temporaries are m-vectors (z, dz), and on the
# Intel Xeon this project runs on, gemv and mv over all of x matched or beat cache-sized
# blocks (100k×100: 1.75 against 2.28 ms; 2M×128: 81 against 90 ms; 1M×128: 44 against
# 42 ms).  The cache-sized blocks were tuned on an AMD EPYC, where they were 2× faster.
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
    """z = x·w + b for one neuron and one block of rows, by gemv.  x_block: (k, n), w: (n,) -> (k,).

    A multiply and a row sum (kept for AMD EPYC, where MKL's gemv read streamed blocks
    ~3× slower) ran 1.4–2.5× slower than gemv on the Intel Xeon this project now runs
    on, at every width tried (benchmarks/step_time.py), so gemv it is.
    """
    return torch.addmv(bias, x_block, w)


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


def cost(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, l2: float = 0.0, *,
         sample_weight: Tensor | None = None, rows=None, l2_rows=None) -> Tensor:
    """J for a one-neuron model without autograd.  x: (m, n), y: (m,), weight: (1, n), bias: (1,)."""
    value, _, _ = cost_and_grads(x, y, weight, bias, l2, with_cost=True, sample_weight=sample_weight,
                                 rows=rows, l2_rows=l2_rows, need_grads=False)
    return value


def cost_and_grads(
    x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, l2: float = 0.0, *, with_cost: bool = False,
    sample_weight: Tensor | None = None, rows=None, l2_rows=None, need_grads: bool = True,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """(J or None, dW (1, n), db (1,)) in one forward pass, without autograd.

    The vectorized form of the document's loop: z = x Wᵀ + b, dz = s·(σ(z) − y)/m,
    dW = dzᵀ x + (l2/m) W, db = Σ dz.  The cost is computed only when asked for,
    since a training loop needs it only on the steps it logs.

    This is ``linear_forward`` / ``linear_backward`` for one neuron in vector form
    (addmv, mv): on small data every op saved is a microsecond a step.  On the CPU,
    very large x is processed in ``row_blocks`` (``CPU_GRADIENT_BLOCK_BYTES``) whose sums
    add up to the same J, dW, db.
    Tests hold it against the autograd Functions.
    """
    m, l2_m = normalizers(x, sample_weight, rows, l2_rows)
    w = weight.reshape(-1)  # (n,)
    value = dweight = dbias = None
    for x_block, y_block, s_block in _blocks_with_weights(x, y, sample_weight):
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


def hessian(x: Tensor, weight: Tensor, bias: Tensor, l2: float = 0.0, *,
            sample_weight: Tensor | None = None, rows=None, l2_rows=None) -> Tensor:
    """∇²J over θ = [W, b]: [x, 1]ᵀ diag(s·a(1−a)) [x, 1] / m + (l2/m)·I on W only.  -> (n+1, n+1).

    The second derivative of the cost: ∂dz/∂z = s·a(1−a)/m, chained through z = x Wᵀ + b.
    The bias entry gets no l2 term, as the bias is never penalized.
    """
    n = x.shape[1]
    m, l2_m = normalizers(x, sample_weight, rows, l2_rows)
    w = weight.reshape(-1)
    # Contiguous accumulators: addmm_ into a strided view of the result ran ~40× slower.
    top_left = torch.zeros(n, n, dtype=x.dtype, device=x.device)
    top_right = torch.zeros(n, dtype=x.dtype, device=x.device)
    corner = torch.zeros(1, dtype=x.dtype, device=x.device)
    blocks = [(xb, None) for (xb,) in row_blocks(x)] if sample_weight is None else row_blocks(x, sample_weight)
    scratch = block_scratch(blocks, x, weight, bias)
    for x_block, s_block in blocks:
        a = torch.sigmoid(block_logits(x_block, w, bias))
        curvature = a * (1 - a) / m  # (rows,)
        if s_block is not None:
            curvature = curvature * s_block
        weighted = torch.mul(x_block, curvature.unsqueeze(1), out=scratch[: len(x_block)]) if scratch is not None \
            else x_block * curvature.unsqueeze(1)  # (rows, n)
        top_left.addmm_(weighted.T, x_block)  # xᵀ diag(c) x
        top_right += weighted.sum(0)  # xᵀ c
        corner += curvature.sum()  # Σ c
    top_left.diagonal().add_(l2 / l2_m)
    bottom = torch.cat([top_right, corner]).unsqueeze(0)  # (1, n + 1)
    return torch.cat([torch.cat([top_left, top_right.unsqueeze(1)], 1), bottom], 0)


def softmax_cost_and_grads(
    x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, l2: float = 0.0, *, with_cost: bool = False,
    sample_weight: Tensor | None = None, rows=None, l2_rows=None,
) -> tuple[Tensor | None, Tensor, Tensor]:
    """(J or None, dW (K, n), db (K,)) for softmax regression, without autograd.

    z = x Wᵀ + b (m, K), dz = s·(softmax(z) − onehot(y))/m, dW = dzᵀ x + (l2/m) W, db = Σ dz:
    ``linear_forward``, ``softmax_cost_backward`` and ``linear_backward`` in one pass.
    """
    m, l2_m = normalizers(x, sample_weight, rows, l2_rows)
    z = linear_forward(x, weight, bias)
    value = softmax_cost_forward(z, y, m, sample_weight) if with_cost else None
    dz = softmax_cost_backward(z, y, m, sample_weight)
    _, dweight, dbias = linear_backward(dz, x, weight, need_x=False)
    if l2:
        dweight = dweight.add_(l2_backward(weight, l2, l2_m))
        if with_cost:
            value = value + l2_forward(weight, l2, l2_m)
    return value, dweight, dbias


def softmax_hessian(x: Tensor, weight: Tensor, bias: Tensor, l2: float = 0.0, *,
                    sample_weight: Tensor | None = None, rows=None, l2_rows=None) -> Tensor:
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
    row_weight = (torch.ones(m_rows, dtype=x.dtype, device=x.device) if sample_weight is None
                  else sample_weight) / m  # (m,)
    spread = (p.unsqueeze(2) * x_tilde.unsqueeze(1)).reshape(m_rows, k * (n + 1))  # pᵢ ⊗ x̃ᵢ
    blocks = -(spread * row_weight.unsqueeze(1)).T @ spread  # −Σ s pᵢpᵢᵀ ⊗ x̃ᵢx̃ᵢᵀ / m
    diagonal = torch.einsum("ik,ia,ib->kab", p * row_weight.unsqueeze(1), x_tilde, x_tilde)  # Σ s pᵢₖ x̃ᵢx̃ᵢᵀ / m
    per_class = blocks.view(k, n + 1, k, n + 1)
    for c in range(k):
        per_class[c, :, c, :] += diagonal[c]
    # [W_k, b_k] per class -> [W row-major, b]: the order of model.parameters().
    order = torch.cat([torch.arange(k * (n + 1), device=x.device).view(k, n + 1)[:, :n].reshape(-1),
                       torch.arange(k, device=x.device) * (n + 1) + n])
    hess = blocks[order][:, order]
    hess.diagonal()[: k * n] += l2 / l2_m
    return hess


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
    """J = (1/Σs) Σ s·(softplus(z) − y·z); backward dz = s·(σ(z) − y)/Σs.  No gradient for y or s."""

    @staticmethod
    def forward(z: Tensor, y: Tensor, sample_weight: Tensor | None) -> Tensor:
        return logistic_cost_forward(z, y, sample_weight=sample_weight)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_cost: Tensor):
        z, y, sample_weight = ctx.saved_tensors
        dz = logistic_cost_backward(z, y, sample_weight=sample_weight) * grad_cost if ctx.needs_input_grad[0] else None
        return dz, None, None


class SoftmaxCostFunction(torch.autograd.Function):
    """J = (1/Σs) Σ s·(logsumexp(z) − z_y); backward dz = s·(softmax(z) − onehot(y))/Σs.  No gradient for y or s."""

    @staticmethod
    def forward(z: Tensor, y: Tensor, sample_weight: Tensor | None) -> Tensor:
        return softmax_cost_forward(z, y, sample_weight=sample_weight)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_cost: Tensor):
        z, y, sample_weight = ctx.saved_tensors
        dz = softmax_cost_backward(z, y, sample_weight=sample_weight) * grad_cost if ctx.needs_input_grad[0] else None
        return dz, None, None


class L2PenaltyFunction(torch.autograd.Function):
    """(l2 / 2m)·‖W‖²; backward (l2/m)·W.  l2 and m are constants."""

    @staticmethod
    def forward(weight: Tensor, l2: float, m) -> Tensor:
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


class _ActivationFunction(torch.autograd.Function):
    """a = g(z), backward dz = da ⊙ g′ written from a (what the backward needs, saved instead of z)."""

    formula = staticmethod(torch.sigmoid)
    derivative = staticmethod(sigmoid_backward)

    @classmethod
    def forward(cls, z: Tensor) -> Tensor:
        return cls.formula(z)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @classmethod
    def backward(cls, ctx, grad_a: Tensor):
        (a,) = ctx.saved_tensors
        return cls.derivative(grad_a, a) if ctx.needs_input_grad[0] else None


class SigmoidFunction(_ActivationFunction):
    """a = σ(z); dz = da·a(1 − a)."""

    formula, derivative = staticmethod(torch.sigmoid), staticmethod(sigmoid_backward)


class TanhFunction(_ActivationFunction):
    """a = tanh(z); dz = da·(1 − a²)."""

    formula, derivative = staticmethod(torch.tanh), staticmethod(tanh_backward)


class ReluFunction(_ActivationFunction):
    """a = max(z, 0); dz = da where a > 0, else 0 (also at z = 0, as PyTorch)."""

    formula, derivative = staticmethod(torch.relu), staticmethod(relu_backward)


def _apply(function: type[torch.autograd.Function], *inputs):
    """``function.apply(*inputs)``, or with grad mode off its ``forward`` alone: no graph is being
    recorded, so the same formula runs without the Function's bookkeeping (a third of a small
    evaluation's time)."""
    return function.apply(*inputs) if torch.is_grad_enabled() else function.forward(*inputs)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """z = x Wᵀ + b.  x: (m, n), weight: (k, n), bias: (k,) -> (m, k)."""
    if _PLAIN_AUTOGRAD.get():
        return F.linear(x, weight, bias)
    return _apply(LinearFunction, x, weight, bias)


def logistic_cost(z: Tensor, y: Tensor, sample_weight: Tensor | None = None) -> Tensor:
    """J = (1/Σs) Σ s·(softplus(z) − y·z), the mean cross-entropy of σ(z) against y.  z, y: (m,) -> ()."""
    y = y.to(z.dtype)
    if _PLAIN_AUTOGRAD.get():
        if sample_weight is None:
            return F.binary_cross_entropy_with_logits(z, y)
        return F.binary_cross_entropy_with_logits(z, y, weight=sample_weight, reduction="sum") / sample_weight.sum()
    return _apply(LogisticCostFunction, z, y, sample_weight)


def softmax_cost(z: Tensor, y: Tensor, sample_weight: Tensor | None = None) -> Tensor:
    """J = (1/Σs) Σᵢ sᵢ·(logsumexp(zᵢ) − zᵢ,yᵢ), softmax cross-entropy.  z: (m, K), y: (m,) int64 -> ()."""
    y = y.long()
    if _PLAIN_AUTOGRAD.get():
        if sample_weight is None:
            return F.cross_entropy(z, y)
        return (F.cross_entropy(z, y, reduction="none") * sample_weight).sum() / sample_weight.sum()
    return _apply(SoftmaxCostFunction, z, y, sample_weight)


def l2_penalty(weight: Tensor, l2: float, m) -> Tensor:
    """(l2 / 2m)·‖W‖².  l2 and m are constants; only W gets a gradient, (l2/m)·W."""
    if _PLAIN_AUTOGRAD.get():
        return weight.pow(2).sum() * (l2 / (2 * m))
    return _apply(L2PenaltyFunction, weight, l2, m)


# Each activation's hand-written Function (its ``formula`` and ``derivative`` are what a
# graph-free fast path calls too) and the stock op that plain_autograd swaps in.
ACTIVATION_FUNCTIONS = {"sigmoid": SigmoidFunction, "tanh": TanhFunction, "relu": ReluFunction}
_STOCK_ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
ACTIVATIONS = tuple(ACTIVATION_FUNCTIONS)


def activation(name: str, z: Tensor) -> Tensor:
    """a = g(z) for g in ``ACTIVATIONS``, with the hand-written backward (stock ops under plain_autograd)."""
    if _PLAIN_AUTOGRAD.get():
        return _STOCK_ACTIVATIONS[name](z)
    return _apply(ACTIVATION_FUNCTIONS[name], z)


# Convolution and pooling live in conv.py (a sibling, for length) and are part of this API, under
# torch.nn.functional's names.
from .conv import avg_pool2d, conv2d, flatten, max_pool2d  # noqa: E402,F401
from .style_losses import content_loss, gram_matrix, style_loss, total_variation  # noqa: E402,F401
