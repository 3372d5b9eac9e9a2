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

    # The functions each path passes over x with: row blocks (7 parameters: the cost, gradient and
    # Hessian in one pass), the model's own, small x.
    where, attributes = {
        "one neuron, x over 1 MB (row blocks)": (LF, ["cost_and_grads", "cost_grad_hessian", "hessian"]),
        "3 classes (any model)": (model, ["cost_and_grads"]),
        "one neuron, small x (cached)": (LF, ["logistic_cost_forward"]),
    }[name]
    passes = []
    for attribute in attributes:
        real = getattr(where, attribute)
        monkeypatch.setattr(where, attribute, lambda *a, real=real, **k: passes.append(1) or real(*a, **k))
    start = newton.cost_and_gradient(x, y)
    assert start[0] == cost and start[1] is gradient and not passes  # remembered, not recomputed
    newton.step_on(x, y)
    assert len(passes) <= 1  # the accepted candidate's pass (row blocks: H too); never the start's again


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


def _blocked_newton_run(monkeypatch, fused_up_to: int, dtype=torch.float64):
    """Newton's row-block steps to convergence on 100k×4, H from the cost's pass (fused) or its own."""
    from torch_logreg.training import newton_one_neuron

    monkeypatch.setattr(newton_one_neuron, "FUSED_MAX_PARAMETERS", fused_up_to)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(100_000, 4, generator=gen, dtype=torch.float64)
    y = (torch.rand(100_000, generator=gen, dtype=torch.float64) < torch.sigmoid(x[:, 0] - x[:, 3])).double()
    model = LogisticRegression(4, l2=0.5).to(dtype)
    newton, costs = Newton(model), []
    assert newton._path(x.to(dtype), None, None) == "blocked"
    while not newton.converged and len(costs) < 30:
        costs.append(newton.step_on(x.to(dtype), y.to(dtype)))
    return costs, torch.cat([model.weight.detach().reshape(-1), model.bias.detach()])


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_blocked_newton_with_h_from_the_costs_pass_takes_the_same_steps(monkeypatch, dtype, atol):
    # H formed in the pass of the accepted candidate's cost and gradient, for the next step, is the
    # separate Hessian pass's H: the same steps, the same optimum.
    fused_costs, fused_theta = _blocked_newton_run(monkeypatch, 16, dtype)
    plain_costs, plain_theta = _blocked_newton_run(monkeypatch, 0, dtype)
    assert len(fused_costs) == len(plain_costs) <= 8
    assert fused_costs == pytest.approx(plain_costs, abs=atol)
    torch.testing.assert_close(fused_theta, plain_theta, atol=atol, rtol=0)


def test_a_remembered_hessian_is_not_used_once_the_weights_change(monkeypatch):
    # A resume (or a user) writing W between steps makes the remembered cost, gradient and H stale:
    # the next step is a fresh optimizer's from the new weights.
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(60_000, 3, generator=gen, dtype=torch.float64)  # 1.4 MB: row blocks
    y = (torch.rand(60_000, generator=gen, dtype=torch.float64) < torch.sigmoid(x[:, 1])).double()
    model = LogisticRegression(3, l2=0.5).double()
    newton = Newton(model)
    newton.step_on(x, y)
    assert newton._known_hessian() is not None  # the accepted candidate's H, kept for the next step
    with torch.no_grad():
        model.weight.mul_(0.5)
    fresh = copy.deepcopy(model)
    newton.step_on(x, y)
    Newton(fresh).step_on(x, y)
    for mine, expected in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(mine, expected)
