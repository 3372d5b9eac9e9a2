"""The optimizers' own rules: when Newton samples its Hessian, its stopping tolerance, what it remembers."""

import copy

import pytest
import torch

from torch_logreg import LogisticRegression
from torch_logreg.training.optim import Newton, auto_hessian_rows, default_grad_tol


def test_auto_samples_the_hessian_only_on_tall_data_with_more_than_ten_parameters():
    assert auto_hessian_rows(100_000, 101) == 10_100  # 100k×100: 100 rows per parameter
    assert auto_hessian_rows(15_000, 101) == 0  # not tall enough: fewer than 2 × 10_100 rows
    assert (
        auto_hessian_rows(1_000_000, 3) == 0
    )  # 1M×2: H costs what the gradient does, exact converges faster
    assert auto_hessian_rows(427, 31) == 0  # the default data: every row, as the document's run


def test_the_gradient_tolerance_scales_with_the_dtype():
    assert default_grad_tol(torch.float64) == 1e-8 and default_grad_tol(torch.float32) == 1e-4


def _newton_models():
    from torch_logreg import LogisticRegression

    return {
        "one neuron, small x (cached)": (LogisticRegression(6, l2=0.1).double(), 200),
        "one neuron, x over 1 MB (row blocks)": (LogisticRegression(6, l2=0.1).double(), 30_000),
        "3 classes (any model)": (LogisticRegression(6, num_classes=3, l2=0.1).double(), 200),
    }


@pytest.mark.parametrize("name", list(_newton_models()))
def test_a_newton_step_on_new_data_starts_from_that_data_not_the_last_steps(name):
    # A mini-batch Newton run steps on a new batch each time: the cost and gradient the last
    # line search accepted belong to the old batch and must not be reused.
    from torch_logreg.training.optim import Newton

    model, m = _newton_models()[name]
    gen = torch.Generator().manual_seed(0)
    classes = 3 if "3 classes" in name else 2
    batches = [
        (
            torch.randn(m, 6, generator=gen, dtype=torch.float64),
            model.loss.targets(torch.randint(0, classes, (m,), generator=gen), torch.float64),
        )
        for _ in range(2)
    ]
    newton = Newton(model)
    newton.step_on(*batches[0])
    fresh = copy.deepcopy(model)
    newton.step_on(*batches[1])
    Newton(fresh).step_on(*batches[1])
    for mine, expected in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(mine, expected)


@pytest.mark.parametrize("name", list(_newton_models()))
def test_cost_and_gradient_is_the_models_and_the_next_step_starts_from_it(name, monkeypatch):
    # The trainer logs the full-batch cost and gradient before each Newton step: the step
    # must reuse that pair rather than pass over x once more.
    from torch_logreg.nn import functional as LF
    from torch_logreg.training.optim import Newton

    model, m = _newton_models()[name]
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(m, 6, generator=gen, dtype=torch.float64)
    y = model.loss.targets(
        torch.randint(0, 3 if "3 classes" in name else 2, (m,), generator=gen), torch.float64
    )
    newton = Newton(model)
    cost, gradient = newton.cost_and_gradient(x, y)

    expected = model.cost(x, y)
    grads = torch.autograd.grad(expected, list(model.parameters()))
    assert cost == pytest.approx(expected.item(), rel=1e-12)
    torch.testing.assert_close(gradient, torch.cat([g.reshape(-1) for g in grads]), rtol=1e-10, atol=1e-14)

    # The one function each path passes over x with: row blocks, the model's own, small x.
    where, attribute = {
        "one neuron, x over 1 MB (row blocks)": (LF, "cost_and_grads"),
        "3 classes (any model)": (model, "cost_and_grads"),
        "one neuron, small x (cached)": (LF, "logistic_cost_forward"),
    }[name]
    real, passes = getattr(where, attribute), []
    monkeypatch.setattr(where, attribute, lambda *a, **k: passes.append(1) or real(*a, **k))
    start = newton.cost_and_gradient(x, y)
    assert start[0] == cost and start[1] is gradient and not passes  # remembered, not recomputed
    newton.step_on(x, y)
    assert len(passes) <= 1  # the accepted candidate's pass (row blocks); never the start's again


def test_newton_takes_its_data_as_torch_optim_takes_a_closure():
    """set_data then step() is the torch.optim signature; step_on does both; a closure is refused."""
    torch.manual_seed(0)
    x = torch.randn(40, 3, dtype=torch.float64)
    y = (x[:, 0] > 0).to(torch.float64)
    by_step, by_step_on = LogisticRegression(3, l2=1.0).double(), LogisticRegression(3, l2=1.0).double()
    newton = Newton(by_step)
    with pytest.raises(RuntimeError, match="set_data"):
        newton.step()
    newton.set_data(x, y)
    cost = newton.step()
    assert cost == Newton(by_step_on).step_on(x, y)
    assert torch.equal(by_step.weight, by_step_on.weight)
    with pytest.raises(TypeError, match="closure"):
        newton.step(lambda: 0.0)


def test_every_registered_optimizer_declares_its_capabilities():
    """The trainer and steps read only the registry: every optimizer it builds carries its capabilities."""
    from torch_logreg.training.capabilities import capabilities
    from torch_logreg.training.optimizers import OPTIMIZERS, make_optimizer

    for name, spec in OPTIMIZERS.items():
        optimizer = make_optimizer(name, LogisticRegression(3), lr=0.1)
        assert capabilities(optimizer) == spec.capabilities, name
    assert [n for n, s in OPTIMIZERS.items() if s.capabilities.iterates_to_convergence] == ["lbfgs", "newton"]


def test_newton_uses_the_fast_paths_only_of_a_model_that_offers_them():
    """One neuron offers (W, b); softmax and the reduced model of torchrun offer none."""
    assert Newton(LogisticRegression(3)).one_neuron
    assert not Newton(LogisticRegression(3, num_classes=3)).one_neuron
