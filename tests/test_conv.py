"""The hand-written convolution and pooling: gradcheck in float64, agreement with stock PyTorch, and a
deliberately broken backward for each Function that the checks must catch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd.gradcheck import GradcheckError

from torch_logreg.nn import conv
from torch_logreg.nn import functional as tf

GRADCHECK = {"eps": 1e-6, "atol": 1e-8, "rtol": 1e-6}
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
        ],
    ),
]

# (batch, channels, height, width, out channels, kernel, stride, padding, dilation)
CONV_CASES = {
    "odd sizes": (2, 3, 7, 5, 4, 3, 1, 0, 1),
    "stride 2": (2, 2, 9, 8, 3, 3, 2, 0, 1),
    "padding": (1, 2, 5, 6, 2, 3, 1, 1, 1),
    "stride and padding, odd": (2, 1, 7, 7, 2, (3, 2), (2, 3), (1, 2), 1),
    "dilation": (1, 2, 9, 9, 2, 3, 1, 1, 2),
    "kernel past the border": (2, 2, 4, 3, 3, 5, 1, 2, 1),
    "batch 1, 1x1 kernel": (1, 3, 4, 4, 2, 1, 1, 0, 1),
}


def _conv_inputs(case, dtype=torch.float64, device="cpu", seed=0):
    n, c, h, w, o, k, s, p, d = case
    g = torch.Generator().manual_seed(seed)
    k2 = (k, k) if isinstance(k, int) else k
    x = torch.randn(n, c, h, w, generator=g, dtype=dtype).to(device).requires_grad_()
    weight = torch.randn(o, c, *k2, generator=g, dtype=dtype).to(device).requires_grad_()
    bias = torch.randn(o, generator=g, dtype=dtype).to(device).requires_grad_()
    return x, weight, bias, dict(stride=s, padding=p, dilation=d)


@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv2d_gradcheck(case):
    x, weight, bias, geometry = _conv_inputs(case)
    assert torch.autograd.gradcheck(lambda *t: tf.conv2d(*t, **geometry), (x, weight, bias), **GRADCHECK)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv2d_equals_stock_pytorch_in_value_and_gradient(case, device):
    x, weight, bias, geometry = _conv_inputs(case, torch.float32, device, seed=1)
    ours = tf.conv2d(x, weight, bias, **geometry)
    grad_y = torch.randn_like(ours)
    hand = torch.autograd.grad(ours, (x, weight, bias), grad_y)
    stock = F.conv2d(x, weight, bias, **geometry)
    auto = torch.autograd.grad(stock, (x, weight, bias), grad_y)
    torch.testing.assert_close(ours, stock)
    for h, a in zip(hand, auto):
        torch.testing.assert_close(h, a, atol=1e-4, rtol=1e-4)


def test_conv2d_without_bias_and_under_no_grad():
    x, weight, _, geometry = _conv_inputs(CONV_CASES["padding"])
    assert torch.autograd.gradcheck(lambda a, b: tf.conv2d(a, b, None, **geometry), (x, weight), **GRADCHECK)
    with torch.no_grad():
        torch.testing.assert_close(tf.conv2d(x, weight, **geometry), F.conv2d(x, weight, **geometry))


POOL_CASES = {
    "2x2": (2, 3, 6, 6, 2, None, 0),
    "odd input, 3x3 stride 2": (1, 2, 7, 5, 3, 2, 0),
    "overlapping windows": (2, 1, 6, 6, 3, 1, 0),
    "padding": (1, 2, 5, 5, 3, 2, 1),
    "batch 1, rectangular": (1, 1, 5, 8, (2, 3), (1, 2), 0),
}


def _pool_input(case, dtype=torch.float64, device="cpu", seed=0):
    n, c, h, w, k, s, p = case
    g = torch.Generator().manual_seed(seed)
    # distinct values: max pooling's gradient is a subgradient at ties, which finite differences cannot check
    x = torch.randperm(n * c * h * w, generator=g).to(dtype).reshape(n, c, h, w) / 7
    return x.to(device).requires_grad_(), dict(kernel_size=k, stride=s, padding=p)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("case", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_pooling_gradcheck(pool, case):
    x, geometry = _pool_input(case)
    assert torch.autograd.gradcheck(lambda t: getattr(tf, pool)(t, **geometry), (x,), **GRADCHECK)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("case", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_pooling_equals_stock_pytorch(pool, case, device):
    x, geometry = _pool_input(case, torch.float32, device, seed=2)
    ours = getattr(tf, pool)(x, **geometry)
    grad_y = torch.randn_like(ours)
    stock = getattr(F, pool)(x, **geometry)
    torch.testing.assert_close(ours, stock)
    torch.testing.assert_close(
        torch.autograd.grad(ours, x, grad_y)[0], torch.autograd.grad(stock, x, grad_y)[0]
    )


def test_max_pool_ties_send_the_whole_gradient_to_the_first_maximum_as_pytorch_does():
    x = torch.ones(1, 1, 2, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(tf.max_pool2d(x, 2).sum(), x)
    assert grad.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]
    (stock,) = torch.autograd.grad(F.max_pool2d(x, 2).sum(), x)
    assert torch.equal(grad, stock)


def test_flatten_and_the_activations_work_on_any_shape():
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert tf.flatten(x).shape == (2, 60)
    assert torch.autograd.gradcheck(tf.flatten, (x,), **GRADCHECK)
    for name in tf.ACTIVATIONS:
        assert torch.autograd.gradcheck(lambda t, name=name: tf.activation(name, t), (x,), **GRADCHECK)


# ---------------------------------------------------------------- the checks catch a wrong backward


class _ConvWrongInputGrad(conv.Conv2dFunction):
    @staticmethod
    def backward(ctx, grad_y):
        grads = list(conv.Conv2dFunction.backward(ctx, grad_y))
        grads[0] = grads[0].flip(-1)  # dX mirrored left to right: the classic transposed-kernel slip
        return tuple(grads)


class _ConvWrongWeightGrad(conv.Conv2dFunction):
    @staticmethod
    def backward(ctx, grad_y):
        grads = list(conv.Conv2dFunction.backward(ctx, grad_y))
        grads[1] = grads[1] / grad_y.shape[0]  # dW averaged over the batch instead of summed
        return tuple(grads)


class _ConvWrongBiasGrad(conv.Conv2dFunction):
    @staticmethod
    def backward(ctx, grad_y):
        grads = list(conv.Conv2dFunction.backward(ctx, grad_y))
        grads[2] = grad_y.sum((0, 2))[:, 0] if grads[2] is not None else None  # db summed over one axis only
        return tuple(grads)


class _MaxPoolWrong(conv.MaxPool2dFunction):
    @staticmethod
    def backward(ctx, grad_y, grad_indices=None):
        (indices,) = ctx.saved_tensors
        n, c, h, w = ctx.input_shape
        spread = grad_y.new_zeros(n, c, h * w)
        spread.scatter_add_(
            2, indices.reshape(n, c, -1).roll(1, -1), grad_y.reshape(n, c, -1)
        )  # wrong window
        return spread.reshape(n, c, h, w), None, None, None


class _AvgPoolWrong(conv.AvgPool2dFunction):
    @staticmethod
    def backward(ctx, grad_y):
        grad = conv.AvgPool2dFunction.backward(ctx, grad_y)[0]
        return grad * ctx.geometry[0][0], None, None, None  # forgot to divide by the window's area


class _FlattenWrong(conv.FlattenFunction):
    @staticmethod
    def backward(ctx, grad_y):
        n, c, h, w = ctx.input_shape
        return grad_y.reshape(n, h, w, c).permute(
            0, 3, 1, 2
        )  # channels-last order read back as channels-first


@pytest.mark.parametrize("broken", [_ConvWrongInputGrad, _ConvWrongWeightGrad, _ConvWrongBiasGrad])
def test_gradcheck_catches_a_broken_convolution_backward(broken):
    x, weight, bias, geometry = _conv_inputs(CONV_CASES["stride and padding, odd"])
    args = (geometry["stride"], geometry["padding"], geometry["dilation"])
    from torch.nn.modules.utils import _pair

    args = tuple(_pair(a) for a in args)
    assert torch.autograd.gradcheck(
        lambda *t: conv.Conv2dFunction.apply(*t, *args), (x, weight, bias), **GRADCHECK
    )
    with pytest.raises(GradcheckError):
        torch.autograd.gradcheck(lambda *t: broken.apply(*t, *args), (x, weight, bias), **GRADCHECK)


@pytest.mark.parametrize(
    "broken, good, case",
    [(_MaxPoolWrong, conv.MaxPool2dFunction, "2x2"), (_AvgPoolWrong, conv.AvgPool2dFunction, "2x2")],
)
def test_gradcheck_catches_a_broken_pooling_backward(broken, good, case):
    x, geometry = _pool_input(POOL_CASES[case])
    args = conv._pool_geometry(geometry["kernel_size"], geometry["stride"], geometry["padding"])

    def first(function):
        return lambda t: (lambda out: out[0] if isinstance(out, tuple) else out)(function.apply(t, *args))

    assert torch.autograd.gradcheck(first(good), (x,), **GRADCHECK)
    with pytest.raises(GradcheckError):
        torch.autograd.gradcheck(first(broken), (x,), **GRADCHECK)


def test_gradcheck_catches_a_broken_flatten_backward():
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        torch.autograd.gradcheck(_FlattenWrong.apply, (x,), **GRADCHECK)


def test_a_small_cnn_from_these_parts_matches_autograd_through_plain_autograd():
    """Conv -> relu -> max pool -> conv -> tanh -> avg pool -> flatten -> linear, against stock ops."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 2, 9, 9, generator=g, dtype=torch.float64)
    params = [
        torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
        for shape in [(4, 2, 3, 3), (4,), (5, 4, 3, 3), (5,), (2, 5), (2,)]
    ]

    def cost(w1, b1, w2, b2, w3, b3):
        a = tf.max_pool2d(tf.activation("relu", tf.conv2d(x, w1, b1, padding=1)), 2)
        a = tf.avg_pool2d(tf.activation("tanh", tf.conv2d(a, w2, b2)), 2)
        return tf.softmax_cost(tf.linear(tf.flatten(a), w3, b3), torch.tensor([0, 1, 1]))

    hand = torch.autograd.grad(cost(*params), params)
    with tf.plain_autograd():
        auto = torch.autograd.grad(cost(*params), params)
    for h, a in zip(hand, auto):
        torch.testing.assert_close(h, a, atol=1e-12, rtol=1e-10)
