"""The CNN's graph-free ``cost_and_grads``: the same cost and gradients as autograd (stock ops) and as the
hand-written Functions, for every option the CNN has, and a broken formula that the comparison catches."""

import pytest
import torch
from torch import nn

from torch_logreg import CNN
from torch_logreg.nn import cnn_fast_path
from torch_logreg.nn import conv_formulas as CF
from torch_logreg.nn import functional as LF

# (image_shape, channels, kernel_size, hidden, batch): odd sizes, a pool that stops at one pixel, an even
# kernel (padding k // 2 grows the image by one), one channel, batch 1
SHAPES = {
    "odd image, two blocks": ((2, 7, 5), (3, 4), 3, (5,), 6),
    "one channel, 8x8": ((1, 8, 8), (4, 3), 3, (6,), 5),
    "pools down to one pixel": ((1, 3, 3), (2, 2, 2), 3, (), 4),
    "5x5 kernel, no hidden layer": ((3, 6, 6), (2,), 5, (), 3),
    "even kernel": ((2, 5, 6), (3,), 2, (4,), 3),
    "batch 1": ((2, 6, 7), (3, 2), 3, (4,), 1),
}


def make_cnn(shape_case, pool="max", activation="relu", num_classes=3, l2=0.0):
    image, channels, kernel, hidden, _ = shape_case
    torch.manual_seed(0)
    return CNN(
        image[0] * image[1] * image[2],
        image,
        channels,
        kernel,
        pool,
        hidden,
        num_classes,
        activation,
        l2=l2,
        init="uniform",  # nonzero biases: every formula's bias term is exercised
        dtype=torch.float64,
    )


def data(model, batch, num_classes, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, model.in_features, generator=g, dtype=torch.float64)
    y = torch.randint(0, num_classes, (batch,), generator=g)
    return x, (y.double() if num_classes == 2 else y)


def autograd_cost_and_grads(model, x, y, **kwargs):
    """The reference: autograd's gradients of ``model.cost`` in stock PyTorch ops."""
    with LF.plain_autograd(), torch.enable_grad():
        cost = model.cost(x, y, **kwargs)
        return cost.detach(), torch.autograd.grad(cost, list(model.parameters()))


def function_cost_and_grads(model, x, y, **kwargs):
    """The hand-written autograd Functions: ``model.cost(x, y).backward()``'s gradients."""
    with torch.enable_grad():
        cost = model.cost(x, y, **kwargs)
        return cost.detach(), torch.autograd.grad(cost, list(model.parameters()))


def assert_same(found, expected, atol=1e-10):
    (cost, grads), (expected_cost, expected_grads) = found, expected
    torch.testing.assert_close(cost, expected_cost, rtol=0, atol=atol)
    assert len(grads) == len(expected_grads)
    for grad, want in zip(grads, expected_grads):
        assert grad.shape == want.shape
        torch.testing.assert_close(grad, want, rtol=0, atol=atol)


@pytest.mark.parametrize("shape_case", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("pool", ["max", "avg", "none"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_fast_path_equals_autograd_and_the_functions_in_float64(shape_case, pool, activation):
    model = make_cnn(shape_case, pool, activation, l2=0.4)
    x, y = data(model, shape_case[-1], 3)
    fast = model.cost_and_grads(x, y, with_cost=True)
    assert_same(fast, autograd_cost_and_grads(model, x, y))
    assert_same(fast, function_cost_and_grads(model, x, y))


@pytest.mark.parametrize("num_classes", [2, 4])
def test_fast_path_takes_weights_rows_and_l2_rows_as_cost_does(num_classes):
    model = make_cnn(SHAPES["odd image, two blocks"], num_classes=num_classes, l2=0.7)
    x, y = data(model, 6, num_classes)
    weights = torch.tensor([0.5, 2.0, 1.0, 0.0, 3.0, 1.5], dtype=torch.float64)
    for kwargs in [{}, {"sample_weight": weights}, {"rows": 40, "l2_rows": 100}, {"l2_rows": float("inf")}]:
        fast = model.cost_and_grads(x, y, with_cost=True, **kwargs)
        assert_same(fast, autograd_cost_and_grads(model, x, y, **kwargs))
    assert model.cost_and_grads(x, y)[0] is None  # the cost only when asked


def test_fast_path_takes_images_or_rows_and_reuses_its_buffers_across_batch_sizes():
    model = make_cnn(SHAPES["one channel, 8x8"])
    for batch in (5, 2, 5):
        x, y = data(model, batch, 3, seed=batch)
        rows, images = model.cost_and_grads(x, y)[1], model.cost_and_grads(x.view(batch, 1, 8, 8), y)[1]
        for a, b, c in zip(rows, images, autograd_cost_and_grads(model, x, y)[1]):
            assert torch.equal(a, b)
            torch.testing.assert_close(a, c, rtol=0, atol=1e-10)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_also_when_relu_comes_after_the_pool():
    # Zero kernels and a positive bias make every pixel of every window equal: a tie everywhere.
    model = make_cnn(SHAPES["odd image, two blocks"], "max", "relu")
    with torch.no_grad():
        for layer in model.convolutions:
            layer.weight.zero_()
            layer.bias.fill_(0.3)
    x, y = data(model, 6, 3)
    fast = model.cost_and_grads(x, y, with_cost=True)
    assert_same(fast, autograd_cost_and_grads(model, x, y))
    assert_same(fast, function_cost_and_grads(model, x, y))


def test_float32_fast_path_matches_stock_pytorch_on_the_benchmark_network():
    torch.manual_seed(0)
    model = CNN(3 * 12 * 12, (3, 12, 12), (8, 8), 3, "max", (16,), 10, "relu")
    stock = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 3 * 3, 16), nn.ReLU(), nn.Linear(16, 10),
    )  # fmt: skip
    for mine, theirs in zip(model.parameters(), stock.parameters()):
        theirs.data.copy_(mine.data)
    x, y = torch.randn(7, 3, 12, 12), torch.randint(0, 10, (7,))
    nn.functional.cross_entropy(stock(x), y).backward()
    for grad, theirs in zip(model.cost_and_grads(x, y)[1], stock.parameters()):
        torch.testing.assert_close(grad, theirs.grad, rtol=1e-4, atol=1e-6)


def test_the_comparison_catches_a_broken_formula_in_the_fast_path(monkeypatch):
    model = make_cnn(SHAPES["odd image, two blocks"], l2=0.4)
    x, y = data(model, 6, 3)
    reference = autograd_cost_and_grads(model, x, y)
    right = CF.conv2d_backward_weight

    def flipped_kernel(*args, **kwargs):  # dW with the kernel mirrored: the classic correlation slip
        return right(*args, **kwargs).flip(-1)

    monkeypatch.setattr(CF, "conv2d_backward_weight", flipped_kernel)
    with pytest.raises(AssertionError):
        assert_same(model.cost_and_grads(x, y, with_cost=True), reference)
    monkeypatch.undo()
    right_pool = CF.max_pool2d_backward

    def next_window(grad_y, indices, shape, out=None):  # each dY sent to its neighbour's arg-max
        return right_pool(grad_y, indices.roll(1, -1), shape, out)

    monkeypatch.setattr(CF, "max_pool2d_backward", next_window)
    with pytest.raises(AssertionError):
        assert_same(model.cost_and_grads(x, y, with_cost=True), reference)
    monkeypatch.undo()
    assert_same(model.cost_and_grads(x, y, with_cost=True), reference)


def test_inside_plain_autograd_the_fast_path_steps_aside_for_autograd():
    model = make_cnn(SHAPES["batch 1"])
    x, y = data(model, 1, 3)
    with LF.plain_autograd():
        cost, grads = model.cost_and_grads(x, y, with_cost=True)
    expected_cost, expected = autograd_cost_and_grads(model, x, y)
    assert torch.equal(cost, expected_cost) and all(torch.equal(a, b) for a, b in zip(grads, expected))


def test_its_gradients_are_ordinary_tensors_that_autograd_can_accumulate_into():
    model = make_cnn(SHAPES["batch 1"])
    x, y = data(model, 1, 3)
    cost, grads = model.cost_and_grads(x, y, with_cost=True)
    assert not cost.is_inference() and not any(grad.is_inference() for grad in grads)
    expected = [2 * grad for grad in grads]
    for param, grad in zip(model.parameters(), grads):
        param.grad = grad  # as the trainer's step sets them
    model.cost(x, y).backward()  # accumulates in place into every .grad: twice the gradient
    for param, want in zip(model.parameters(), expected):
        torch.testing.assert_close(param.grad, want, rtol=0, atol=1e-12)


def test_a_large_batch_unfolds_its_images_a_chunk_at_a_time_with_the_same_gradients(monkeypatch):
    model = make_cnn(SHAPES["odd image, two blocks"], l2=0.4)
    x, y = data(model, 6, 3)
    whole = model.cost_and_grads(x, y, with_cost=True)
    # two images' worth in block 1 (7×5 positions × 3×3 cells × 2 channels), all six in block 2
    monkeypatch.setattr(cnn_fast_path, "PATCH_ELEMENTS", 2 * 7 * 5 * 9 * 2)
    chunked = model.cost_and_grads(x, y, with_cost=True)
    assert_same(chunked, whole, atol=1e-12)
    assert_same(chunked, autograd_cost_and_grads(model, x, y))
    buffers = model.__dict__["_fast_path_buffers"]
    assert buffers[("patches", 0)].shape[0] == 2 and buffers[("patches", 1)].shape[0] == 6
