"""The CNN's cost and gradients without an autograd graph: what ``CNN.cost_and_grads`` runs.

The equations of ``cnn.py``'s docstring, each line a formula of ``conv_formulas`` or ``formulas`` (the
ones the autograd Functions call in their backward): one forward pass that keeps what each part's
backward needs, then the backward pass from the output layer down,

    dZ[L] = the loss's cost_backward;  dense layers: linear_backward, g′ from A
    dA[B] = dflat viewed as the last block's (N, c_B, H_B, W_B)
    block l:  dZ[l] = g′ and the pool's backward of dA[l];  dW[l] = conv2d_backward_weight;
              db[l] = Σ dZ[l];  dA[l−1] = conv2d_backward_input  (not for the image itself)
    every weight: + l2_backward

Besides skipping autograd (the pass runs in inference mode), two choices make it faster than the
same formulas through the Functions, and change no number:

* The images run channels-last ((N, H, W, C) in memory), where max pooling, the transposed convolution
  and dW's matrix products are fast; flattening reads the last block back in (C, H, W) order, the order
  of the dense head's weights.
* relu then max pooling is computed as max pooling then relu.  relu is non-decreasing, so
  max(relu(z)) = relu(max(z)) exactly, and the gradients agree too: where a window's max is > 0, the
  first arg-max of relu(z) is the first arg-max of z and relu′ = 1 there; where it is <= 0, both give
  0 (relu′(0) = 0).  relu and its derivative then touch a quarter of the pixels.

Large intermediates (the unfolded input of dW, the padded input, the pooling's dX) go into buffers
kept between calls (never part of the state), as ``MLP.cost_and_grads`` does.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from . import autograd_switch
from . import conv_formulas as CF
from . import functional as LF

_IN_PLACE = {"sigmoid": torch.sigmoid_, "tanh": torch.tanh_, "relu": torch.relu_}
_POOL = ((2, 2), (2, 2), (0, 0))  # the CNN's pooling: 2×2 windows, stride 2, no padding
_ONES = (1, 1)
PATCH_ELEMENTS = 1 << 24  # the most values of an unfolded input held at once (64 MB in float32)


class Block(NamedTuple):
    """What one convolution block's backward needs from its forward."""

    input: Tensor  # A[l−1], channels-last
    z_shape: torch.Size  # Z[l]'s (N, c_l, H, W)
    activated: Tensor  # g(Z[l]); with ``pool_first``, relu of the pooled Z[l]
    indices: Tensor | None  # max pooling's arg-max positions, or None
    pools: bool  # whether the block pools
    pool_first: bool  # relu after max pooling (the same numbers)


def cost_and_grads(
    model, x: Tensor, y: Tensor, *, sample_weight=None, rows=None, l2_rows=None, with_cost: bool = False
) -> tuple[Tensor | None, tuple[Tensor, ...]]:
    """(J or None, gradients in ``model.parameters()`` order) of ``model.cost(x, y, …)``, without a graph.

    Under ``functional.plain_autograd()`` it steps aside: autograd's gradients of the cost in stock ops.
    """
    if autograd_switch._PLAIN_AUTOGRAD.get():
        return _plain_autograd(model, x, y, sample_weight, rows, l2_rows, with_cost)
    # Inference mode skips autograd's per-op bookkeeping, which on small images is a fair part of the
    # step; the results are then copied out as ordinary tensors (an inference tensor cannot be updated
    # in place outside it, as autograd accumulating into a .grad would).
    with torch.inference_mode():
        value, grads = _graph_free(model, x, y, sample_weight, rows, l2_rows, with_cost)
    return (value.clone() if value is not None else None), tuple(grad.clone() for grad in grads)


def _graph_free(model, x, y, sample_weight, rows, l2_rows, with_cost: bool):
    """``cost_and_grads``' forward and backward passes (in inference mode)."""
    m, l2_m = LF.normalizers(x, sample_weight, rows, l2_rows)
    convolutions, dense = model.convolutions, model.dense_layers
    a = _channels_last(model.images(x).to(convolutions[0].weight.dtype))
    blocks = []
    for layer, pools in zip(convolutions, model.pooled):
        block, a = _block_forward(model, layer, pools, a)
        blocks.append(block)
    features = a.reshape(len(a), -1)  # (N, c_B·H_B·W_B) in (C, H, W) order: a copy from channels-last
    value, grads, grad_features = _dense_cost_and_grads(
        model, dense, features, y, m, sample_weight, with_cost
    )
    grad_a = _channels_last(grad_features.view(a.shape))
    for index in range(len(blocks) - 1, -1, -1):
        grad_a, block_grads = _block_backward(model, index, convolutions[index], blocks[index], grad_a)
        grads[:0] = block_grads
    if model.l2:
        for layer, position in zip([*convolutions, *dense], range(0, len(grads), 2)):
            weight = layer.weight.detach()
            grads[position] = grads[position] + LF.l2_backward(weight, model.l2, l2_m)
            if with_cost:
                value = value + LF.l2_forward(weight, model.l2, l2_m)
    return value, tuple(grads)


def _block_forward(model, layer, pools: bool, a: Tensor) -> tuple[Block, Tensor]:
    """(what the backward needs, A[l]): Z = W ⋆ A[l−1] + b, g, the pool.  a: channels-last."""
    padding = (layer.padding, layer.padding)
    z = CF.conv2d_forward(a, layer.weight.detach(), layer.bias.detach(), _ONES, padding, _ONES)
    if pools and model.pool == "max" and model.activation == "relu":
        pooled, indices = CF.max_pool2d_forward(z, *_POOL)
        out = torch.relu_(pooled)
        return Block(a, z.shape, out, indices, pools, pool_first=True), out
    activated = _IN_PLACE[model.activation](z)  # in place: the backward needs only g(Z)
    if not pools:
        return Block(a, z.shape, activated, None, pools, pool_first=False), activated
    if model.pool == "max":
        pooled, indices = CF.max_pool2d_forward(activated, *_POOL)
        return Block(a, z.shape, activated, indices, pools, pool_first=False), pooled
    return Block(a, z.shape, activated, None, pools, False), CF.avg_pool2d_forward(activated, *_POOL)


def _block_backward(model, index: int, layer, block: Block, grad_a: Tensor) -> tuple[Tensor | None, list]:
    """(dA[l−1] or None for the image, [dW[l], db[l]]) from dA[l]."""
    derivative = LF.ACTIVATION_FUNCTIONS[model.activation].derivative
    buffer = _scratch(model, ("pool", index), (block.z_shape.numel(),), grad_a) if block.pools else None
    if block.pool_first:
        grad_pooled = derivative(grad_a, block.activated, out=grad_a)  # dP = dA·relu′, over dA
        grad_z = CF.max_pool2d_backward(grad_pooled, block.indices, block.z_shape, out=buffer)
    else:
        if block.indices is not None:
            grad_a = CF.max_pool2d_backward(grad_a, block.indices, block.z_shape, out=buffer)
        elif block.pools:
            grad_a = CF.avg_pool2d_backward(grad_a, block.z_shape, *_POOL)
        grad_z = derivative(grad_a, block.activated, out=grad_a)  # dA is this call's own: in place
    grads = [_weight_gradient(model, index, layer, block.input, grad_z), CF.conv2d_backward_bias(grad_z)]
    if index == 0:
        return None, grads
    padding = (layer.padding, layer.padding)
    weight, size = layer.weight.detach(), block.input.shape[-2:]
    return CF.conv2d_backward_input(grad_z, weight, size, _ONES, padding, _ONES), grads


def _weight_gradient(model, index: int, layer, a: Tensor, grad_z: Tensor) -> Tensor:
    """dW[l] = Σ over chunks of images of ``conv2d_backward_weight``: the unfolded A[l−1] is k·k times
    its size, so a large batch (the trainer's evaluation of every training row) unfolds a chunk of
    at most ``PATCH_ELEMENTS`` values at a time."""
    kernel, padding = (layer.kernel_size, layer.kernel_size), (layer.padding, layer.padding)
    n, c, h, w = a.shape
    size = grad_z.shape[-2:]
    chunk = max(1, min(n, PATCH_ELEMENTS // (size[0] * size[1] * kernel[0] * kernel[1] * c)))
    patches = _scratch(model, ("patches", index), (chunk, *size, *kernel, c), grad_z)
    padded = _scratch(model, ("padded", index), (chunk, h + 2 * padding[0], w + 2 * padding[1], c), grad_z, 0)
    total = None
    for start in range(0, n, chunk):
        a_part, grad_part = a[start : start + chunk], grad_z[start : start + chunk]
        rows = len(a_part)
        CF.conv2d_patches(a_part, kernel, size, _ONES, padding, _ONES, patches[:rows], padded[:rows])
        part = CF.conv2d_backward_weight(grad_part, a_part, kernel, _ONES, padding, _ONES, patches[:rows])
        total = part if total is None else total.add_(part)
    return total


def _dense_cost_and_grads(model, dense, features: Tensor, y: Tensor, m, sample_weight, with_cost: bool):
    """(J without the L2 term or None, [dW, db] per dense layer, dfeatures): ``MLP.cost_and_grads``'
    equations on the flattened features."""
    params = [(layer.weight.detach(), layer.bias.detach()) for layer in dense]
    activations = [features]  # A[0] of the head, then each hidden layer's g(Z)
    for weight, bias in params[:-1]:
        activations.append(_IN_PLACE[model.activation](LF.linear_forward(activations[-1], weight, bias)))
    z = LF.linear_forward(activations[-1], *params[-1])  # (N, 1) or (N, K)
    value = model.loss.cost_forward(z, y, m, sample_weight) if with_cost else None
    grad_z = model.loss.cost_backward(z, y, m, sample_weight)
    derivative = LF.ACTIVATION_FUNCTIONS[model.activation].derivative
    grads = []
    for index in range(len(params) - 1, -1, -1):
        grad_a, grad_weight, grad_bias = LF.linear_backward(grad_z, activations[index], params[index][0])
        grads[:0] = [grad_weight, grad_bias]
        if index > 0:
            grad_z = derivative(grad_a, activations[index], out=grad_a)
    return value, grads, grad_a


def _channels_last(x: Tensor) -> Tensor:
    """x (N, C, H, W) laid out (N, H, W, C), with those strides even for C = 1 (where
    ``contiguous(memory_format=torch.channels_last)`` keeps the plain ones and the convolution then
    answers in the plain layout)."""
    n, c, h, w = x.shape
    return torch.empty_strided(x.shape, (h * w * c, 1, w * c, c), dtype=x.dtype, device=x.device).copy_(x)


def _scratch(model, key: tuple, shape: tuple, like: Tensor, fill: float | None = None) -> Tensor:
    """A buffer of ``shape`` kept between calls (never part of the state); ``fill`` sets a new one's
    values (a padded buffer's border stays 0: only its inside is ever written)."""
    cache = model.__dict__.setdefault("_fast_path_buffers", {})
    buffer = cache.get(key)
    if buffer is None or buffer.shape != shape or buffer.dtype != like.dtype or buffer.device != like.device:
        buffer = torch.empty(shape, dtype=like.dtype, device=like.device)
        if fill is not None:
            buffer.fill_(fill)
        cache[key] = buffer
    return buffer


def _plain_autograd(model, x, y, sample_weight, rows, l2_rows, with_cost: bool):
    """Autograd's gradients of ``model.cost`` (stock ops inside ``plain_autograd()``): the reference."""
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        cost = model.cost(x, y, sample_weight=sample_weight, rows=rows, l2_rows=l2_rows)
        grads = torch.autograd.grad(cost, params)
    return (cost.detach() if with_cost else None), grads
