"""The vectorized math equals the document's per-example loop (``torch_logreg.reference``)."""

import pytest
import torch

from torch_logreg import document, reference
from torch_logreg.nn import functional


def document_layout_problem(n, m=13, seed=0):
    """w (n, 1), b, X (n, m), Y (1, m) in float64, logits of moderate size (the loop takes log σ)."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, m, generator=gen, dtype=torch.float64)
    Y = (torch.rand(1, m, generator=gen, dtype=torch.float64) < 0.5).to(torch.float64)
    w = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    b = float(torch.randn((), generator=gen, dtype=torch.float64))
    return w, b, X, Y


@pytest.mark.parametrize("n", [1, 2, 7])
def test_cost_and_grads_equal_the_per_example_loop(n):
    w, b, X, Y = document_layout_problem(n)
    J, dw, db = reference.loop_cost_and_grads(w, b, X, Y)

    value, dweight, dbias = functional.cost_and_grads(
        X.T, Y.reshape(-1), w.T, torch.tensor([b], dtype=torch.float64), with_cost=True
    )
    assert value.item() == pytest.approx(J, abs=1e-12)
    torch.testing.assert_close(dweight.T, dw, atol=1e-12, rtol=0)
    assert dbias.item() == pytest.approx(db, abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 7])
def test_document_propagate_equals_the_per_example_loop(n):
    w, b, X, Y = document_layout_problem(n, seed=n)
    J, dw, db = reference.loop_cost_and_grads(w, b, X, Y)
    grads, cost = document.propagate(w, b, X, Y)
    assert cost == pytest.approx(J, abs=1e-12)
    torch.testing.assert_close(grads["dw"], dw, atol=1e-12, rtol=0)
    assert grads["db"] == pytest.approx(db, abs=1e-12)


def test_loop_accepts_flat_weights_and_labels():
    w, b, X, Y = document_layout_problem(3)
    flat = reference.loop_cost_and_grads(w.reshape(-1), b, X, Y.reshape(-1))
    column = reference.loop_cost_and_grads(w, b, X, Y)
    assert flat[0] == column[0] and flat[2] == column[2]
    assert torch.equal(flat[1], column[1])


def test_loop_returns_the_documented_types_and_shapes():
    w, b, X, Y = document_layout_problem(4)
    J, dw, db = reference.loop_cost_and_grads(w, b, X, Y)
    assert isinstance(J, float) and isinstance(db, float)
    assert dw.shape == (4, 1) and dw.dtype == torch.float64


def test_gradient_descent_step_equals_one_iteration_of_optimize():
    w, b, X, Y = document_layout_problem(2)
    new_w, new_b = reference.gradient_descent_step(w, b, X, Y, learning_rate=0.3)
    params, _, _ = document.optimize(w, b, X, Y, num_iterations=1, learning_rate=0.3)
    torch.testing.assert_close(params["w"], new_w, atol=1e-12, rtol=0)
    assert params["b"] == pytest.approx(new_b, abs=1e-12)
    assert not torch.equal(new_w, w)  # it did move
