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

import torch
import torch.nn.functional as F
from torch import Tensor

from .autograd_switch import _PLAIN_AUTOGRAD, _apply, plain_autograd  # noqa: F401

# The formulas (no autograd) and the whole-batch fast paths live in their own files; every name is
# exported here, so ``nn.functional`` stays the one place to import the math from.
from .formulas import (  # noqa: E402,F401
    _count,
    l2_backward,
    l2_forward,
    linear_backward,
    linear_forward,
    logistic_cost_backward,
    logistic_cost_forward,
    relu_backward,
    sigmoid_backward,
    softmax_cost_backward,
    softmax_cost_forward,
    softplus,
    tanh_backward,
)
from .second_order import cost_grad_hessian  # noqa: E402,F401
from .whole_batch import (  # noqa: E402,F401
    CPU_BLOCK_BYTES,
    CPU_GRADIENT_BLOCK_BYTES,
    _blocks_with_weights,
    block_logits,
    block_scratch,
    cost,
    cost_and_grads,
    hessian,
    normalizers,
    row_blocks,
    softmax_cost_and_grads,
    softmax_hessian,
)

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
        dz = (
            logistic_cost_backward(z, y, sample_weight=sample_weight) * grad_cost
            if ctx.needs_input_grad[0]
            else None
        )
        return dz, None, None


class SoftmaxCostFunction(torch.autograd.Function):
    """J = (1/Σs) Σ s·(logsumexp(z) − z_y); backward dz = s·(softmax(z) − onehot(y))/Σs.

    No gradient for y or s."""

    @staticmethod
    def forward(z: Tensor, y: Tensor, sample_weight: Tensor | None) -> Tensor:
        return softmax_cost_forward(z, y, sample_weight=sample_weight)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_cost: Tensor):
        z, y, sample_weight = ctx.saved_tensors
        dz = (
            softmax_cost_backward(z, y, sample_weight=sample_weight) * grad_cost
            if ctx.needs_input_grad[0]
            else None
        )
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
        return (
            F.binary_cross_entropy_with_logits(z, y, weight=sample_weight, reduction="sum")
            / sample_weight.sum()
        )
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
