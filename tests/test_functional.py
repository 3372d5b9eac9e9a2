"""The hand-written backward formulas of ``torch_logreg.nn.functional`` against autograd."""

import types

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from torch_logreg.nn import functional

GRADCHECK_TOLERANCE = {"atol": 1e-8, "rtol": 1e-6}
# hand-written vs autograd: the same formulas summed in a different order differ by a few ulps.
CLOSE = {torch.float64: {"atol": 1e-12, "rtol": 1e-10}, torch.float32: {"atol": 1e-6, "rtol": 1e-5}}


def random_problem(m, n, dtype=torch.float64, device="cpu", seed=0, scale=1.0):
    """x (m, n), y (m,) in {0, 1}, weight (1, n), bias (1,); logits grow with ``scale``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=gen, dtype=torch.float64)
    y = (torch.rand(m, generator=gen, dtype=torch.float64) < 0.5).to(torch.float64)
    weight = torch.randn(1, n, generator=gen, dtype=torch.float64) * scale
    bias = torch.randn(1, generator=gen, dtype=torch.float64) * scale
    return [t.to(device=device, dtype=dtype) for t in (x, y, weight, bias)]


def composed_cost(x, y, weight, bias, l2):
    """J = logistic_cost(linear(x, W, b)) + l2_penalty(W): every autograd Function in one graph."""
    z = functional.linear(x, weight, bias).squeeze(1)
    return functional.logistic_cost(z, y) + functional.l2_penalty(weight, l2, x.shape[0])


def hand_and_autograd(x, y, weight, bias, l2):
    """(cost, grads) from the hand-written backward, then the same from stock autograd ops."""
    inputs = [t.detach().requires_grad_() for t in (x, weight, bias)]
    hand_cost = composed_cost(inputs[0], y, inputs[1], inputs[2], l2)
    hand = torch.autograd.grad(hand_cost, inputs)
    with functional.plain_autograd():
        auto_cost = composed_cost(inputs[0], y, inputs[1], inputs[2], l2)
        auto = torch.autograd.grad(auto_cost, inputs)
    return (hand_cost, hand), (auto_cost, auto)


# ---------------------------------------------------------------- gradcheck, float64


def test_linear_function_passes_gradcheck_for_x_weight_and_bias():
    x, _, weight, bias = random_problem(6, 4)
    weight = torch.randn(3, 4, dtype=torch.float64)  # k = 3 outputs: the Function is a full layer
    bias = torch.randn(3, dtype=torch.float64)
    inputs = [t.requires_grad_() for t in (x, weight, bias)]
    assert torch.autograd.gradcheck(functional.linear, inputs, **GRADCHECK_TOLERANCE)


def test_linear_function_without_bias_passes_gradcheck():
    x, _, weight, _ = random_problem(6, 4)
    inputs = (x.requires_grad_(), weight.requires_grad_())
    assert torch.autograd.gradcheck(lambda x, w: functional.linear(x, w, None), inputs, **GRADCHECK_TOLERANCE)


def test_logistic_cost_function_passes_gradcheck_for_the_logits():
    z = (torch.randn(8, dtype=torch.float64) * 3).requires_grad_()
    y = torch.tensor([0.0, 1.0] * 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: functional.logistic_cost(z, y), (z,), **GRADCHECK_TOLERANCE)


def test_l2_penalty_function_passes_gradcheck():
    weight = torch.randn(1, 5, dtype=torch.float64, requires_grad=True)
    penalty = lambda w: functional.l2_penalty(w, 0.7, 11)  # noqa: E731
    assert torch.autograd.gradcheck(penalty, (weight,), **GRADCHECK_TOLERANCE)


# ---------------------------------------------------------------- hand-written == autograd


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hand_written_gradients_equal_autograd_on_random_data(dtype, device):
    x, y, weight, bias = random_problem(40, 7, dtype=dtype, device=device, seed=1)
    (hand_cost, hand), (auto_cost, auto) = hand_and_autograd(x, y, weight, bias, l2=0.3)
    torch.testing.assert_close(hand_cost, auto_cost, **CLOSE[dtype])
    for name, h, a in zip(("x", "weight", "bias"), hand, auto):
        assert h.dtype == dtype and h.device.type == device, name
        torch.testing.assert_close(h, a, **CLOSE[dtype], msg=f"gradient of {name}")


@settings(max_examples=50, deadline=None)
@given(
    m=st.integers(1, 50),
    n=st.integers(1, 10),
    scale=st.sampled_from([0.01, 1.0, 10.0, 100.0, 1000.0]),
    l2=st.sampled_from([0.0, 0.5]),
    seed=st.integers(0, 2**31 - 1),
)
def test_hand_written_gradients_equal_autograd_for_any_shape_and_scale(m, n, scale, l2, seed):
    # scale 1000 puts most logits in the thousands, deep in σ's saturation.
    x, y, weight, bias = random_problem(m, n, seed=seed, scale=scale)
    (hand_cost, hand), (auto_cost, auto) = hand_and_autograd(x, y, weight, bias, l2)
    assert torch.isfinite(hand_cost)
    torch.testing.assert_close(hand_cost, auto_cost, **CLOSE[torch.float64])
    for h, a in zip(hand, auto):
        assert torch.isfinite(h).all()
        torch.testing.assert_close(h, a, **CLOSE[torch.float64])


@settings(max_examples=50, deadline=None)
@given(
    logits=st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=50),
    data=st.data(),
)
def test_logistic_cost_gradient_is_sigma_minus_y_over_m_for_any_logits(logits, data):
    labels = data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=len(logits), max_size=len(logits)))
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(labels, dtype=torch.float64)
    cost = functional.logistic_cost(z, y)
    (dz,) = torch.autograd.grad(cost, z)
    assert torch.isfinite(cost) and cost >= 0
    torch.testing.assert_close(dz, (torch.sigmoid(z.detach()) - y) / len(logits), atol=0, rtol=0)
    assert dz.abs().max() <= 1 / len(logits)


@pytest.mark.parametrize("l2", [0.0, 0.4])
def test_cost_and_grads_equals_autograd_of_cost(l2):
    x, y, weight, bias = random_problem(30, 5, seed=2)
    weight.requires_grad_()
    bias.requires_grad_()
    cost = functional.cost(x, y, weight, bias, l2)  # stock ops only: autograd differentiates it
    auto_dweight, auto_dbias = torch.autograd.grad(cost, (weight, bias))

    value, dweight, dbias = functional.cost_and_grads(
        x, y, weight.detach(), bias.detach(), l2, with_cost=True
    )

    assert dweight.shape == (1, 5) and dbias.shape == (1,)
    torch.testing.assert_close(value, cost.detach(), atol=0, rtol=0)
    torch.testing.assert_close(dweight, auto_dweight, **CLOSE[torch.float64])
    torch.testing.assert_close(dbias, auto_dbias, **CLOSE[torch.float64])


def test_cost_and_grads_skips_the_cost_unless_asked():
    x, y, weight, bias = random_problem(5, 2)
    value, _, _ = functional.cost_and_grads(x, y, weight, bias)
    assert value is None


# ---------------------------------------------------------------- numerical stability


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logits_of_1000_on_the_wrong_side_cost_exactly_1000_with_finite_gradients(dtype):
    z = torch.tensor([1000.0, -1000.0], dtype=dtype, requires_grad=True)
    y = torch.tensor([0.0, 1.0], dtype=dtype)  # both confidently wrong
    cost = functional.logistic_cost(z, y)
    cost.backward()
    assert cost.item() == 1000.0
    # dz = (σ(z) − y)/m = (1 − 0)/2 and (0 − 1)/2
    assert z.grad.tolist() == [0.5, -0.5]


def test_the_documents_literal_formula_overflows_where_the_softplus_form_does_not():
    z = torch.tensor([1000.0, -1000.0, -1000.0], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)  # wrong, wrong, right
    a = torch.sigmoid(z)  # saturates to exactly 1, 0, 0
    literal = -(y * torch.log(a) + (1 - y) * torch.log(1 - a))
    ours = torch.nn.functional.softplus(z) - y * z  # the per-example term of logistic_cost_forward

    assert literal[0].item() == float("inf")  # log(1 − 1)
    assert literal[1].item() == float("inf")  # log(0)
    assert torch.isnan(literal[2])  # y·log(a) = 0·(−inf)
    assert ours.tolist() == [1000.0, 1000.0, 0.0]
    assert functional.logistic_cost_forward(z, y).item() == pytest.approx(2000.0 / 3, rel=1e-15)


def test_cost_and_grads_stay_finite_for_saturated_logits():
    x = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0], dtype=torch.float64)
    weight = torch.tensor([[1000.0]], dtype=torch.float64)  # z = ±1000, both wrong
    value, dweight, dbias = functional.cost_and_grads(
        x, y, weight, torch.zeros(1, dtype=torch.float64), with_cost=True
    )
    assert value.item() == 1000.0
    assert dweight.tolist() == [[1.0]]  # (0.5·1 + (−0.5)·(−1))
    assert dbias.tolist() == [0.0]


# ---------------------------------------------------------------- needs_input_grad


def test_logistic_cost_returns_no_gradient_for_the_labels():
    z = torch.randn(5, dtype=torch.float64, requires_grad=True)
    y = torch.ones(5, dtype=torch.float64, requires_grad=True)  # even when y asks for one
    functional.logistic_cost(z, y).backward()
    assert z.grad is not None
    assert y.grad is None

    ctx = types.SimpleNamespace(
        saved_tensors=(z.detach(), y.detach(), None), needs_input_grad=(True, True, True)
    )
    dz, dy, dweights = functional.LogisticCostFunction.backward(ctx, torch.tensor(1.0, dtype=torch.float64))
    assert dz is not None and dy is None and dweights is None


def test_linear_does_not_compute_the_input_gradient_when_x_needs_none(monkeypatch):
    calls = []
    original = functional.linear_backward

    def spy(grad_z, x, weight, need_x=True, need_weight=True, need_bias=True):
        calls.append((need_x, need_weight, need_bias))
        return original(grad_z, x, weight, need_x, need_weight, need_bias)

    monkeypatch.setattr(functional, "linear_backward", spy)
    x, _, weight, bias = random_problem(6, 3)  # x is data: requires_grad is False
    weight.requires_grad_()
    bias.requires_grad_()
    functional.linear(x, weight, bias).sum().backward()

    assert calls == [(False, True, True)]
    assert x.grad is None
    assert weight.grad.shape == (1, 3) and bias.grad.shape == (1,)


def test_linear_backward_returns_none_for_every_input_that_needs_no_gradient():
    x, _, weight, _ = random_problem(4, 2)
    ctx = types.SimpleNamespace(
        saved_tensors=(x, weight), needs_input_grad=(False, True, False), has_bias=True
    )
    dx, dweight, dbias = functional.LinearFunction.backward(ctx, torch.ones(4, 1, dtype=torch.float64))
    assert dx is None and dbias is None
    torch.testing.assert_close(dweight, x.sum(0, keepdim=True), atol=0, rtol=0)  # gᵀx with g = 1


@pytest.mark.parametrize("block_bytes", [8, 256, 1 << 20])
def test_cost_and_grads_in_row_blocks_equals_autograd(monkeypatch, block_bytes):
    # On the CPU, very large x is processed in blocks of rows; tiny blocks exercise the
    # same path on small data (m = 101 rows of 3 features: 101, 10 and 1 block(s)).
    monkeypatch.setattr(functional, "CPU_GRADIENT_BLOCK_BYTES", block_bytes)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(101, 3, generator=gen, dtype=torch.float64)
    y = (torch.rand(101, generator=gen) > 0.4).double()
    weight = torch.randn(1, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(1, generator=gen, dtype=torch.float64, requires_grad=True)

    cost, dweight, dbias = functional.cost_and_grads(
        x, y, weight.detach(), bias.detach(), l2=0.4, with_cost=True
    )

    reference = (
        F.binary_cross_entropy_with_logits(x @ weight[0] + bias, y) + 0.4 / (2 * 101) * weight.pow(2).sum()
    )
    reference.backward()
    assert abs(cost.item() - reference.item()) < 1e-14
    assert torch.allclose(dweight, weight.grad, atol=1e-15, rtol=0) and torch.allclose(
        dbias, bias.grad, atol=1e-15, rtol=0
    )


@pytest.mark.parametrize("block_bytes", [64, 1 << 20])
def test_hessian_equals_autograds_second_derivative(monkeypatch, block_bytes):
    monkeypatch.setattr(functional, "CPU_BLOCK_BYTES", block_bytes)
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(60, 4, generator=gen, dtype=torch.float64)
    y = (torch.rand(60, generator=gen) > 0.5).double()
    theta = torch.randn(5, generator=gen, dtype=torch.float64)

    def cost(t):  # θ = [W, b]
        return functional.cost(x, y, t[:4].reshape(1, 4), t[4:], l2=0.8)

    expected = torch.autograd.functional.hessian(cost, theta)
    got = functional.hessian(x, theta[:4].reshape(1, 4), theta[4:], l2=0.8)
    assert torch.allclose(got, expected, atol=1e-14, rtol=1e-12)
    no_l2 = functional.hessian(x, theta[:4].reshape(1, 4), theta[4:], l2=0.0)
    assert abs(got[4, 4] - no_l2[4, 4]) < 1e-15  # the bias entry carries no l2 term


@pytest.mark.parametrize(
    "name, derivative",
    [
        ("sigmoid", lambda a: a * (1 - a)),
        ("tanh", lambda a: 1 - a * a),
        ("relu", lambda a: (a > 0).double()),
    ],
)
def test_each_activation_derivative_is_its_formula_from_the_output(name, derivative):
    z = torch.cat([torch.randn(200, dtype=torch.float64) * 3, torch.zeros(5, dtype=torch.float64)])
    a = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[name](z)
    grad_a = torch.randn_like(a)
    backward = getattr(functional, f"{name}_backward")
    torch.testing.assert_close(backward(grad_a, a), grad_a * derivative(a), atol=1e-15, rtol=1e-14)
    if name == "relu":
        assert (backward(grad_a, a)[z == 0] == 0).all()  # 0 at z = 0, as PyTorch


def test_with_grad_off_each_wrapper_gives_the_functions_value_and_records_nothing():
    gen = torch.Generator().manual_seed(3)
    x, w, b = (torch.randn(*shape, generator=gen, dtype=torch.float64) for shape in ((7, 4), (3, 4), (3,)))
    w.requires_grad_(True)
    z1 = torch.randn(7, generator=gen, dtype=torch.float64, requires_grad=True)
    y1, y3 = (z1 > 0).double().detach(), torch.randint(0, 3, (7,), generator=gen)
    calls = {
        "linear": lambda: functional.linear(x, w, b),
        "logistic_cost": lambda: functional.logistic_cost(z1, y1),
        "softmax_cost": lambda: functional.softmax_cost(x @ w.T, y3),
        "l2_penalty": lambda: functional.l2_penalty(w, 0.3, 7),
        **{
            f"activation {name}": (lambda name=name: functional.activation(name, x @ w.T))
            for name in functional.ACTIVATIONS
        },
    }
    for name, call in calls.items():
        recorded = call()
        with torch.no_grad():
            plain = call()
        assert recorded.grad_fn is not None and plain.grad_fn is None, name
        assert torch.equal(plain, recorded.detach()), name
