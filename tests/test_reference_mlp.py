"""The vectorized MLP equals the per-example loop with one hidden layer (``torch_logreg.reference``)."""

import pytest
import torch

from torch_logreg import MLP, reference
from torch_logreg.nn import functional


@pytest.mark.parametrize("l2", [0.0, 0.6])
@pytest.mark.parametrize("n, h", [(1, 1), (2, 4), (5, 3)])
@pytest.mark.parametrize("activation", functional.ACTIVATIONS)
def test_mlp_equals_the_per_example_loop_with_one_hidden_layer(activation, n, h, l2):
    gen = torch.Generator().manual_seed(n * 10 + h)
    X = torch.randn(n, 13, generator=gen, dtype=torch.float64)  # the document's layout: (n, m)
    Y = (torch.rand(1, 13, generator=gen, dtype=torch.float64) < 0.5).to(torch.float64)  # (1, m)
    torch.manual_seed(n * 10 + h)
    model = MLP(n, hidden=(h,), activation=activation, l2=l2, dtype=torch.float64)
    W1, b1, W2, b2 = (p.detach() for p in model.parameters())  # (h, n), (h,), (1, h), (1,)

    J, grads = reference.loop_cost_and_grads_one_hidden(W1, b1.reshape(h, 1), W2, b2, X, Y, activation, l2)

    cost, (dW1, db1, dW2, db2) = model.cost_and_grads(X.T, Y.reshape(-1), with_cost=True)
    assert cost.item() == pytest.approx(J, abs=1e-12)
    torch.testing.assert_close(dW1, grads["dW1"], atol=1e-12, rtol=0)
    torch.testing.assert_close(db1.reshape(h, 1), grads["db1"], atol=1e-12, rtol=0)
    torch.testing.assert_close(dW2, grads["dW2"], atol=1e-12, rtol=0)
    torch.testing.assert_close(db2.reshape(1, 1), grads["db2"], atol=1e-12, rtol=0)

    model.cost(X.T, Y.reshape(-1)).backward()  # and through the autograd Functions
    for parameter, expected in zip(model.parameters(), grads.values()):
        torch.testing.assert_close(parameter.grad.reshape(expected.shape), expected, atol=1e-12, rtol=0)


def test_the_loop_and_the_mlp_take_relus_derivative_at_zero_as_zero():
    # One hidden relu unit whose z is exactly 0 for the only example: no gradient flows into W1, b1 (as in
    # PyTorch).
    W1, b1 = torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64)
    W2, b2 = torch.tensor([[2.0]], dtype=torch.float64), 0.5
    X, Y = torch.tensor([[0.0]], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64)
    _, grads = reference.loop_cost_and_grads_one_hidden(W1, b1, W2, b2, X, Y, "relu")
    assert grads["dW1"].item() == 0.0 and grads["db1"].item() == 0.0
    assert grads["db2"].item() != 0.0

    model = MLP(1, hidden=(1,), activation="relu", dtype=torch.float64)
    with torch.no_grad():
        for parameter, value in zip(model.parameters(), [W1, b1.reshape(1), W2, torch.tensor([b2])]):
            parameter.copy_(value)
    _, (dW1, db1, _, db2) = model.cost_and_grads(X.T, Y.reshape(-1))
    assert dW1.item() == 0.0 and db1.item() == 0.0
    assert db2.item() == pytest.approx(grads["db2"].item(), abs=1e-15)
