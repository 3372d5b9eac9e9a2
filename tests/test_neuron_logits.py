"""One neuron's logits by NumPy's row dot products (``nn.neuron_logits``): the same z = x w + b as torch's
product, for the model's forward and the cost-only passes, and only where no autograd graph is wanted."""

import numpy as np
import pytest
import torch

from torch_logreg.nn import functional as LF
from torch_logreg.nn import neuron_logits, one_pass, whole_batch
from torch_logreg.nn.logistic import LogisticRegression

TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-6}


def problem(dtype, rows=3000, features=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=gen, dtype=torch.float64).to(dtype)
    w = torch.randn(features, generator=gen, dtype=torch.float64).to(dtype)
    return x, w, torch.tensor([0.7], dtype=dtype)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 64 KB, so that test-sized x is "large" (several blocks)."""
    monkeypatch.setattr(one_pass, "BLOCK_BYTES", 1 << 16)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("product", ["vecdot", "einsum"])
def test_fast_logits_equal_torchs_product(small_blocks, monkeypatch, dtype, product):
    if product == "vecdot" and not hasattr(np, "vecdot"):
        pytest.skip("NumPy before 2.0 has no vecdot")
    monkeypatch.setattr(one_pass, "row_product", lambda x: product)
    monkeypatch.setattr(neuron_logits, "row_product", lambda x: product)
    x, w, b = problem(dtype)
    z = neuron_logits.fast_logits(x, w, b)
    expected = torch.addmv(b.double(), x.double(), w.double())
    assert z is not None and z.dtype == dtype and z.shape == (len(x),)
    assert torch.allclose(z.double(), expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * 10)


def test_a_product_that_mixes_up_or_drops_a_feature_is_caught(small_blocks, monkeypatch):
    x, w, b = problem(torch.float64)
    expected = torch.addmv(b, x, w)
    wrong = {
        "weights in the wrong order": lambda rows, weights, out: np.dot(rows, weights[::-1].copy(), out=out),
        "a feature dropped": lambda rows, weights, out: np.dot(rows[:, 1:], weights[1:], out=out),
    }
    for name, product in wrong.items():
        monkeypatch.setitem(one_pass.ROW_PRODUCTS, "vecdot", product)
        monkeypatch.setattr(neuron_logits, "row_product", lambda x: "vecdot")
        z = neuron_logits.fast_logits(x, w, b)
        assert not torch.allclose(z, expected, rtol=1e-12, atol=1e-11), name


@pytest.mark.parametrize(
    "case",
    ["one block", "narrow rows", "autograd records", "half precision", "mixed dtypes", "off the CPU (meta)"],
)
def test_torchs_own_product_is_kept_where_the_fast_one_does_not_apply(small_blocks, case):
    x, w, b = problem(torch.float64)
    if case == "one block":
        x = x[:10]
    elif case == "narrow rows":
        x = x[:, :3].contiguous()
        w = w[:3]
    elif case == "autograd records":
        w = w.clone().requires_grad_()
    elif case == "half precision":
        x, w, b = x.half(), w.half(), b.half()
    elif case == "mixed dtypes":
        w, b = w.float(), b.float()
    else:
        x = torch.empty(len(x), x.shape[1], device="meta", dtype=x.dtype)
    assert neuron_logits.fast_logits(x, w, b) is None


def test_the_model_forward_and_cost_take_the_fast_logits_without_autograd_only(small_blocks, monkeypatch):
    x, _, _ = problem(torch.float64)
    y = (torch.rand(len(x), generator=torch.Generator().manual_seed(1)) > 0.5).double()
    model = LogisticRegression(x.shape[1], 2, dtype=torch.float64)
    with torch.no_grad():
        model.weight.normal_(generator=torch.Generator().manual_seed(2))
        model.bias.fill_(-0.3)
    calls = []
    real = neuron_logits.fast_logits
    monkeypatch.setattr(
        "torch_logreg.nn.logistic.fast_logits", lambda *a: calls.append("forward") or real(*a)
    )
    monkeypatch.setattr(
        "torch_logreg.nn.whole_batch.fast_logits", lambda *a: calls.append("cost") or real(*a)
    )
    expected = LF.linear(x, model.weight, model.bias).squeeze(-1)
    with torch.no_grad():
        z = model(x)
        cost = whole_batch.cost(x, y, model.weight, model.bias)
    assert calls == ["forward", "cost"]
    assert torch.allclose(z, expected, rtol=1e-12, atol=1e-12)
    assert torch.allclose(cost, LF.logistic_cost_forward(expected, y, len(x)), rtol=1e-12)
    # With autograd recording, the forward is the hand-written Function's, and gradients flow.
    z = model(x)
    assert z.grad_fn is not None
    z.sum().backward()
    assert torch.allclose(model.weight.grad.reshape(-1), x.sum(0), rtol=1e-12)
