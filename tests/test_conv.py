"""The hand-written convolution, pooling and flatten backwards (``nn/conv.py``) against autograd."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torch_logreg.nn import conv, functional
from torch_logreg.nn.gradcheck import GradientMismatchError, check_gradients

GRADCHECK_TOLERANCE = {"atol": 1e-8, "rtol": 1e-6}
CLOSE = {torch.float64: {"atol": 1e-12, "rtol": 1e-10}, torch.float32: {"atol": 1e-5, "rtol": 1e-4}}


def randn(*shape, seed=0, dtype=torch.float64, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)


# (N, C, H, W), (O, kh, kw), stride, padding, dilation: each row one case the issue names.
CONV_CASES = {
    "odd sizes": ((2, 3, 7, 5), (4, 3, 3), 1, 0, 1),
    "stride 2 leaving a row and a column over": ((2, 2, 9, 8), (3, 3, 3), 2, 0, 1),
    "stride per dimension": ((2, 2, 9, 8), (3, 3, 2), (3, 2), (1, 0), 1),
    "padding": ((2, 2, 5, 6), (3, 3, 3), 1, 2, 1),
    "dilation": ((2, 1, 9, 9), (2, 3, 3), 1, 1, 2),
    "dilation, stride and padding together": ((2, 2, 11, 10), (3, 3, 2), 2, 1, (2, 3)),
    "kernel larger than the input": ((2, 2, 3, 3), (2, 5, 5), 1, 2, 1),
    "kernel past the border, stride 2": ((2, 1, 4, 5), (2, 4, 4), 2, 2, 1),
    "batch 1": ((1, 3, 6, 6), (2, 3, 3), 1, 1, 1),
    "1x1 kernel": ((2, 4, 5, 5), (3, 1, 1), 1, 0, 1),
}


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_passes_gradcheck_for_x_weight_and_bias(case):
    (n, c, h, w), (o, kh, kw), stride, padding, dilation = CONV_CASES[case]
    inputs = [randn(n, c, h, w, seed=1), randn(o, c, kh, kw, seed=2), randn(o, seed=3)]
    inputs = [t.requires_grad_() for t in inputs]
    function = lambda x, weight, bias: functional.conv2d(x, weight, bias, stride, padding, dilation)
    assert torch.autograd.gradcheck(function, inputs, **GRADCHECK_TOLERANCE)


def test_conv2d_without_bias_passes_gradcheck():
    x, weight = randn(2, 2, 6, 5, seed=1).requires_grad_(), randn(3, 2, 3, 3, seed=2).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: functional.conv2d(x, w, None, 2, 1), (x, weight),
                                    **GRADCHECK_TOLERANCE)


# (N, C, H, W), kernel, stride, padding
POOL_CASES = {
    "odd sizes, default stride": ((2, 3, 7, 5), 2, None, 0),
    "overlapping windows (stride 1)": ((2, 2, 6, 6), 3, 1, 0),
    "stride 2 with padding": ((2, 2, 7, 8), 3, 2, 1),
    "rectangular kernel and stride": ((2, 2, 7, 9), (2, 3), (1, 2), (1, 1)),
    "batch 1": ((1, 2, 5, 5), 2, None, 0),
    "window as large as the input": ((2, 2, 4, 4), 4, None, 0),
}


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("pool", [functional.max_pool2d, functional.avg_pool2d])
def test_pooling_passes_gradcheck(pool, case):
    shape, kernel, stride, padding = POOL_CASES[case]
    x = randn(*shape, seed=4).requires_grad_()  # distinct values: no ties, so max is differentiable
    for fast in (False, True):
        assert torch.autograd.gradcheck(lambda x: pool(x, kernel, stride, padding), (x,), fast_mode=fast,
                                        **GRADCHECK_TOLERANCE)


def test_flatten_passes_gradcheck_and_is_a_view_of_nn_flattens_shape():
    x = randn(2, 3, 4, 5).requires_grad_()
    assert torch.autograd.gradcheck(functional.flatten, (x,), **GRADCHECK_TOLERANCE)
    flat = functional.flatten(x.detach())
    assert flat.shape == nn.Flatten()(x).shape == (2, 60)
    assert flat.data_ptr() == x.data_ptr()


@pytest.mark.parametrize("name", functional.ACTIVATIONS)
def test_activations_pass_gradcheck_on_feature_maps(name):
    z = randn(2, 3, 4, 5).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: functional.activation(name, z), (z,), **GRADCHECK_TOLERANCE)


# ---------------------------------------------------------------- tie rule


def test_max_pool_gives_a_tied_window_gradient_to_its_first_maximum_in_row_major_order():
    x = torch.tensor([[[[1.0, 5.0, 5.0],
                        [5.0, 2.0, 0.0],
                        [5.0, 0.0, 0.0]]]], dtype=torch.float64, requires_grad=True)
    functional.max_pool2d(x, 3).sum().backward()
    expected = torch.zeros_like(x)
    expected[0, 0, 0, 1] = 1.0  # first 5 of the top row, not the one right of it or below
    assert torch.equal(x.grad, expected)
    stock = x.detach().clone().requires_grad_()
    F.max_pool2d(stock, 3).sum().backward()
    assert torch.equal(x.grad, stock.grad)


def test_overlapping_max_windows_add_their_gradients_at_a_shared_maximum():
    x = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    x[0, 0, 1, 1] = 1.0  # the maximum of all four 2x2 windows at stride 1
    x.requires_grad_()
    y = functional.max_pool2d(x, 2, 1)
    y.backward(torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64))
    assert x.grad[0, 0, 1, 1] == 10.0
    assert x.grad.sum() == 10.0


# ---------------------------------------------------------------- hand-written == stock autograd


def small_network_cost(x, y, conv1, conv2, head):
    """conv → relu → max pool → conv (stride 2, padding) → tanh → avg pool → flatten → linear → softmax."""
    a = functional.activation("relu", functional.conv2d(x, *conv1, 1, 1))
    a = functional.max_pool2d(a, 2)
    a = functional.activation("tanh", functional.conv2d(a, *conv2, 2, 1, 1))
    a = functional.avg_pool2d(a, 2, 1, 1)
    return functional.softmax_cost(functional.linear(functional.flatten(a), *head), y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_gradient_of_a_small_cnn_equals_stock_autograd(dtype, device):
    x = randn(5, 3, 11, 11, seed=5, dtype=dtype, device=device).requires_grad_()
    y = torch.tensor([0, 1, 2, 1, 0], device=device)
    params = [randn(*shape, seed=6 + i, dtype=dtype, device=device).requires_grad_() for i, shape in enumerate(
        [(4, 3, 3, 3), (4,), (6, 4, 3, 3), (6,), (3, 6 * 4 * 4), (3,)])]
    args = (x, y, params[0:2], params[2:4], params[4:6])
    hand_cost = small_network_cost(*args)
    hand = torch.autograd.grad(hand_cost, [x, *params])
    with functional.plain_autograd():
        auto_cost = small_network_cost(*args)
        auto = torch.autograd.grad(auto_cost, [x, *params])
    torch.testing.assert_close(hand_cost, auto_cost, **CLOSE[dtype])
    for h, a in zip(hand, auto):
        torch.testing.assert_close(h, a, **CLOSE[dtype])


def test_grad_mode_off_runs_the_same_forward_values():
    x, weight, bias = randn(2, 3, 8, 8), randn(4, 3, 3, 3), randn(4)
    with torch.no_grad():
        fast = functional.max_pool2d(functional.conv2d(x, weight, bias, 1, 1), 2)
    with functional.plain_autograd():
        stock = functional.max_pool2d(functional.conv2d(x, weight, bias, 1, 1), 2)
    assert torch.equal(fast, stock)


# ---------------------------------------------------------------- broken backwards are caught


class WrongInputGradConv(conv.Conv2dFunction):
    """dX from the kernel's spatial axes swapped (Wᵀ instead of W): right shape, wrong values."""

    @staticmethod
    def backward(ctx, grad_y):
        x, weight = ctx.saved_tensors
        dx, dweight, dbias = conv.conv2d_backward(grad_y, x, weight.transpose(2, 3).contiguous(), *ctx.geometry,
                                                  need_bias=ctx.has_bias)
        return dx, dweight, dbias, None, None, None


class WrongWeightGradConv(conv.Conv2dFunction):
    """dW with stride and dilation not swapped in the correlation of X with dY."""

    @staticmethod
    def backward(ctx, grad_y):
        x, weight = ctx.saved_tensors
        stride, padding, dilation = ctx.geometry
        dx, _, dbias = conv.conv2d_backward(grad_y, x, weight, stride, padding, dilation,
                                            need_weight=False, need_bias=ctx.has_bias)
        wide = F.conv2d(x.transpose(0, 1), grad_y.transpose(0, 1), None, stride, padding, dilation)
        dweight = wide[:, :, : weight.shape[2], : weight.shape[3]].transpose(0, 1)
        return dx, dweight, dbias, None, None, None


class OverwritingMaxPool(conv.MaxPool2dFunction):
    """dX written at the arg-max (max_unpool2d) instead of added: overlapping windows lose gradient."""

    @staticmethod
    def backward(ctx, grad_y, _grad_indices):
        (indices,) = ctx.saved_tensors
        return F.max_unpool2d(grad_y, indices, 3, 1, output_size=ctx.input_shape[2:]), None, None, None


class UnscaledAvgPool(conv.AvgPool2dFunction):
    """dY spread over each window divided by kh, not kh·kw."""

    @staticmethod
    def backward(ctx, grad_y):
        kernel, stride, padding = ctx.geometry
        return conv.avg_pool2d_backward(grad_y, ctx.input_shape, kernel, stride, padding) * kernel, None, None, None


class TransposedFlatten(conv.FlattenFunction):
    """dY reshaped in (N, H, W, C) order, then moved back: the right shape, entries misplaced."""

    @staticmethod
    def backward(ctx, grad_y):
        n, c, h, w = ctx.input_shape
        return grad_y.reshape(n, h, w, c).permute(0, 3, 1, 2), None, None


BROKEN = {
    "conv2d dX": (lambda x, w: WrongInputGradConv.apply(x, w, None, 1, 1, 1), [(2, 2, 5, 5), (3, 2, 3, 3)]),
    "conv2d dW": (lambda x, w: WrongWeightGradConv.apply(x, w, None, 2, 1, 1), [(2, 2, 7, 7), (3, 2, 3, 3)]),
    "max_pool2d": (lambda x: OverwritingMaxPool.apply(x, 3, 1, 0)[0], [(1, 1, 5, 5)]),
    "avg_pool2d": (lambda x: UnscaledAvgPool.apply(x, 3, 2, 1), [(1, 2, 5, 5)]),
    "flatten": (lambda x: TransposedFlatten.apply(x, 1, -1), [(2, 3, 2, 2)]),
}


@pytest.mark.parametrize("name", BROKEN)
def test_gradcheck_catches_a_deliberately_broken_backward(name):
    function, shapes = BROKEN[name]
    inputs = [randn(*shape, seed=10 + i).requires_grad_() for i, shape in enumerate(shapes)]
    if name == "max_pool2d":  # one peak shared by overlapping windows: the case that must add up
        inputs[0].data[0, 0, 2, 2] = 10.0
    # Slow mode checks the Jacobian one output at a time; fast mode projects it on random dY, which
    # is where gradients written over each other (overlapping max windows) show.
    passes = (torch.autograd.gradcheck(function, inputs, raise_exception=False, fast_mode=fast, **GRADCHECK_TOLERANCE)
              for fast in (True, False))
    assert not all(passes)


class TinyConvModel(nn.Module):
    """conv (stride 2) → relu → max pool → flatten → linear, with ``cost(x, y)``: what ``check_gradients`` needs."""

    def __init__(self):
        super().__init__()
        self.conv_weight = nn.Parameter(randn(3, 1, 3, 3, seed=20))
        self.conv_bias = nn.Parameter(randn(3, seed=21))
        self.head_weight = nn.Parameter(randn(2, 3 * 2 * 2, seed=22))
        self.head_bias = nn.Parameter(randn(2, seed=23))

    def cost(self, x, y):
        a = functional.activation("relu", functional.conv2d(x, self.conv_weight, self.conv_bias, 2, 1))
        a = functional.flatten(functional.max_pool2d(a, 2))
        return functional.softmax_cost(functional.linear(a, self.head_weight, self.head_bias), y)


def test_check_gradients_holds_a_conv_model_against_stock_ops_and_catches_a_broken_conv(monkeypatch):
    model, x, y = TinyConvModel(), randn(4, 1, 8, 8, seed=24), torch.tensor([0, 1, 1, 0])
    assert check_gradients(model, x, y) < 1e-12
    monkeypatch.setattr(conv, "Conv2dFunction", WrongWeightGradConv)
    with pytest.raises(GradientMismatchError, match="conv_weight"):
        check_gradients(model, x, y)
