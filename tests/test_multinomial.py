"""Softmax regression: the K-class formulas, their Hessian, and the optimum scikit-learn finds."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from torch_logreg import LogisticRegression, check_gradients
from torch_logreg.nn import functional as LF
from torch_logreg.nn.losses import BinomialLoss, MultinomialLoss, loss_for
from torch_logreg.training.optim import Newton


def blobs(m=300, n=4, k=3, seed=0, spread=1.5):
    """K Gaussian clusters that overlap: a finite optimum even with l2 = 0."""
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, n, generator=gen, dtype=torch.float64) * spread
    y = torch.arange(m) % k
    x = centers[y] + torch.randn(m, n, generator=gen, dtype=torch.float64)
    return x, y


# ---------------------------------------------------------------- the formulas


def test_softmax_cost_is_the_mean_cross_entropy():
    z = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=torch.float64)
    y = torch.tensor([1, 2])
    by_hand = -(torch.log_softmax(z, 1)[0, 1] + torch.log_softmax(z, 1)[1, 2]) / 2
    assert LF.softmax_cost_forward(z, y).item() == pytest.approx(by_hand.item(), rel=1e-15)


def test_softmax_cost_is_exact_and_finite_at_logits_of_a_thousand():
    z = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([1, 1])
    # row 1: a wrong-side logit gap of 2000 costs exactly 2000; row 2: right with margin 1000, costs ≈ 0
    assert LF.softmax_cost_forward(z, y).item() == 1000.0
    dz = LF.softmax_cost_backward(z, y)
    assert torch.isfinite(dz).all()
    assert dz[0].tolist() == [0.5, -0.5, 0.0]


@pytest.mark.parametrize(
    "z, y", [(25.0, 1.0), (-25.0, 0.0), (25.0, 0.0), (-25.0, 1.0), (1000.0, 1.0), (15.5, 1.0)]
)
def test_binary_cost_is_exact_beyond_softplus_threshold(z, y):
    # F.softplus returns z itself above 20, so a right answer at z = 25 cost exactly 0, not e^-25
    expected = np.logaddexp(0.0, z) - y * z if not (y == 1.0 and z > 0) else np.log1p(np.exp(-z))
    value = LF.logistic_cost_forward(
        torch.tensor([z], dtype=torch.float64), torch.tensor([y], dtype=torch.float64)
    )
    assert value.item() == pytest.approx(expected, rel=1e-15, abs=0)
    assert (value.item() > 0) == (expected > 0)  # e^-25 survives; e^-1000 underflows in float64 too


def test_vectorized_softmax_gradients_match_the_per_example_loop():
    from torch_logreg.reference import loop_softmax_cost_and_grads

    x, y = blobs(m=40, n=3, k=4, seed=1)
    gen = torch.Generator().manual_seed(2)
    weight, bias = (
        torch.randn(4, 3, generator=gen, dtype=torch.float64),
        torch.randn(4, generator=gen, dtype=torch.float64),
    )
    cost, dweight, dbias = LF.softmax_cost_and_grads(x, y, weight, bias, with_cost=True)
    loop_cost, loop_dweight, loop_dbias = loop_softmax_cost_and_grads(weight, bias, x.T, y)
    assert cost.item() == pytest.approx(loop_cost, abs=1e-12)
    torch.testing.assert_close(dweight, loop_dweight, atol=1e-12, rtol=0)
    torch.testing.assert_close(dbias, loop_dbias, atol=1e-12, rtol=0)


@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_cost_passes_gradcheck(weighted):
    x, y = blobs(m=20, n=3, k=3)
    weight = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    s = torch.rand(20, dtype=torch.float64) + 0.1 if weighted else None
    assert torch.autograd.gradcheck(
        lambda w, b: LF.softmax_cost(LF.linear(x, w, b), y, s), (weight, bias), atol=1e-8, rtol=1e-6
    )


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 12), n=st.integers(1, 5), k=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_hand_written_softmax_gradients_equal_autograd_for_any_shape(m, n, k, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=gen, dtype=torch.float64)
    y = torch.randint(0, k, (m,), generator=gen)
    model = LogisticRegression(n, num_classes=max(k, 3), l2=0.3, init="uniform", dtype=torch.float64)
    check_gradients(model, x, y)
    _, (dweight, dbias) = model.cost_and_grads(x, y)
    model.zero_grad()
    with LF.plain_autograd():
        model.cost(x, y).backward()
    torch.testing.assert_close(dweight, model.weight.grad, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(dbias, model.bias.grad, atol=1e-12, rtol=1e-10)


def test_sample_weight_two_equals_a_repeated_row():
    x, y = blobs(m=30, n=3, k=3)
    model = LogisticRegression(3, num_classes=3, l2=0.5, init="uniform", dtype=torch.float64)
    weights = torch.ones(30, dtype=torch.float64)
    weights[4] = 2.0
    repeated_x, repeated_y = torch.cat([x, x[4:5]]), torch.cat([y, y[4:5]])
    cost_w, grads_w = model.cost_and_grads(x, y, sample_weight=weights, with_cost=True)
    cost_r, grads_r = model.cost_and_grads(repeated_x, repeated_y, with_cost=True)
    assert cost_w.item() == pytest.approx(cost_r.item(), rel=1e-14)
    for a, b in zip(grads_w, grads_r):
        torch.testing.assert_close(a, b, atol=1e-15, rtol=1e-13)


# ---------------------------------------------------------------- the Hessians


@pytest.mark.parametrize(
    "num_classes, l2, weighted", [(2, 0.0, False), (2, 0.7, True), (3, 0.0, False), (4, 0.7, True)]
)
def test_closed_form_hessian_equals_autograds(num_classes, l2, weighted):
    x, y = blobs(m=40, n=3, k=num_classes)
    model = LogisticRegression(3, num_classes=num_classes, l2=l2, init="uniform", dtype=torch.float64)
    s = torch.rand(40, dtype=torch.float64) + 0.2 if weighted else None
    y = model.loss.targets(y, torch.float64)
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    theta = torch.nn.utils.parameters_to_vector(params).detach()

    def cost(flat):
        weight, bias = flat[: shapes[0].numel()].view(shapes[0]), flat[shapes[0].numel() :]
        z = LF.linear_forward(x, weight, bias)
        return model.loss.cost_forward(z, y, sample_weight=s) + LF.l2_forward(
            weight, l2, len(x) if s is None else s.sum()
        )

    expected = torch.autograd.functional.hessian(cost, theta)
    torch.testing.assert_close(model.hessian(x, sample_weight=s), expected, atol=1e-13, rtol=1e-11)


@pytest.mark.parametrize("l2, null_count", [(0.0, 1 + 3), (0.5, 1)])
def test_softmax_hessian_is_singular_exactly_along_the_directions_the_model_pins(l2, null_count):
    x, y = blobs(m=60, n=3, k=3)
    model = LogisticRegression(3, num_classes=3, l2=l2, init="uniform", dtype=torch.float64)
    hessian = model.hessian(x)
    null = model.null_directions()
    assert null.shape == (3 * 3 + 3, null_count)
    torch.testing.assert_close(null.T @ null, torch.eye(null_count, dtype=torch.float64))
    assert (hessian @ null).abs().max() < 1e-13  # flat along every pinned direction
    eigenvalues = torch.linalg.eigvalsh(hessian)
    assert (eigenvalues < 1e-12).sum() == null_count  # and only along those


# ---------------------------------------------------------------- the optimum


@pytest.mark.parametrize("l2", [1.0, 0.1])
@pytest.mark.parametrize("dataset", [dict(seed=0, k=3, n=4), dict(seed=5, k=5, n=2, spread=3.0)])
def test_newton_reaches_scikit_learns_multinomial_optimum(dataset, l2):
    x, y = blobs(**dataset)
    model = LogisticRegression(x.shape[1], num_classes=dataset["k"], l2=l2, dtype=torch.float64)
    newton = Newton(model)
    for _ in range(50):
        newton.step_on(x, y)
        if newton.converged:
            break
    assert newton.converged
    reference = SkLogisticRegression(C=1 / l2, tol=1e-12, max_iter=10_000).fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(model.predict_proba(x).numpy(), reference.predict_proba(x.numpy()), atol=1e-4)
    # the pinned common bias shift: Newton stays on the minimum-norm solution
    assert abs(float(model.bias.detach().sum())) < 1e-8


def test_unpenalized_newton_keeps_the_weights_summing_to_zero_over_classes():
    x, y = blobs(m=200, n=3, k=4, spread=1.0)
    model = LogisticRegression(3, num_classes=4, l2=0.0, dtype=torch.float64)
    newton = Newton(model)
    for _ in range(60):
        newton.step_on(x, y)
        if newton.converged:
            break
    assert newton.converged
    assert model.weight.detach().sum(0).abs().max() < 1e-8 and abs(float(model.bias.detach().sum())) < 1e-8
    _, grads = model.cost_and_grads(x, y)
    assert max(float(g.abs().max()) for g in grads) < 1e-8


# ---------------------------------------------------------------- the module


def test_k_class_module_shapes_and_predictions():
    model = LogisticRegression(4, num_classes=5, init="uniform")
    x = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    assert model(torch.from_numpy(x)).shape == (7, 5)
    proba = model.predict_proba(x)
    assert proba.shape == (7, 5) and proba.grad_fn is None
    torch.testing.assert_close(proba.sum(1), torch.ones(7))
    predicted = model.predict(x)
    assert predicted.dtype == torch.int64 and torch.equal(predicted, proba.argmax(1))


def test_binary_module_keeps_one_neuron_and_its_threshold():
    model = LogisticRegression(2)
    assert model.weight.shape == (1, 2) and isinstance(model.loss, BinomialLoss)
    with torch.no_grad():
        model.bias.fill_(0.3)  # σ(0.3) ≈ 0.574 for every row
    x = np.zeros((3, 2))
    assert model.predict_proba(x).shape == (3,)
    assert model.predict(x).tolist() == [1, 1, 1] and model.predict(x).dtype == torch.int64
    assert model.predict(x, threshold=0.6).tolist() == [0, 0, 0]


def test_losses_are_chosen_by_the_number_of_classes():
    assert isinstance(loss_for(2), BinomialLoss)
    assert isinstance(loss_for(3), MultinomialLoss)
    with pytest.raises(ValueError, match="num_classes"):
        loss_for(1)


@pytest.mark.parametrize("num_classes", [2, 3])
def test_parts_of_the_rows_add_up_to_the_whole_when_each_divides_by_the_whole_count(num_classes):
    # What a worker of several does: its rows' share of the mean, with the L2 term counted once.
    x, y = blobs(m=50, n=3, k=num_classes)
    model = LogisticRegression(3, num_classes=num_classes, l2=0.4, init="uniform", dtype=torch.float64)
    y = model.loss.targets(y, torch.float64)
    whole_cost, whole = model.cost_and_grads(x, y, with_cost=True)
    first_cost, first = model.cost_and_grads(x[:20], y[:20], rows=50, l2_rows=50, with_cost=True)
    rest_cost, rest = model.cost_and_grads(x[20:], y[20:], rows=50, l2_rows=float("inf"), with_cost=True)
    assert (first_cost + rest_cost).item() == pytest.approx(whole_cost.item(), rel=1e-14)
    for part_a, part_b, total in zip(first, rest, whole):
        torch.testing.assert_close(part_a + part_b, total, atol=1e-15, rtol=1e-13)
    autograd_cost = model.cost(x[:20], y[:20], rows=50) + model.cost(
        x[20:], y[20:], rows=50, l2_rows=float("inf")
    )
    assert autograd_cost.item() == pytest.approx(whole_cost.item(), rel=1e-14)


def test_softmax_newton_with_a_sampled_hessian_reaches_the_exact_optimum():
    x, y = blobs(m=3000, n=3, k=3, seed=7)
    exact_model = LogisticRegression(3, num_classes=3, l2=0.5, dtype=torch.float64)
    sampled_model = LogisticRegression(3, num_classes=3, l2=0.5, dtype=torch.float64)
    for model, rows in ((exact_model, 0), (sampled_model, 200)):
        newton = Newton(model, hessian_rows=rows, seed=3)
        for _ in range(40):
            newton.step_on(x, y)
            if newton.converged:
                break
        assert newton.converged
    assert newton.param_groups[0]["hessian_rows"] in (0, 200)
    for a, b in zip(sampled_model.parameters(), exact_model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=0)


@pytest.mark.parametrize("optimizer", ["newton", "lbfgs"])
@pytest.mark.parametrize("dataset", [dict(seed=0, k=3, n=4), dict(seed=5, k=5, n=2, spread=3.0)])
def test_the_trainer_reaches_scikit_learns_multinomial_optimum(dataset, optimizer):
    from torch_logreg.data import make_split
    from torch_logreg.training.config import load_config
    from torch_logreg.training.trainer import train

    x, y = blobs(**dataset)
    k = dataset["k"]
    split = make_split(
        x,
        y.double(),
        x[:0],
        y[:0].double(),
        [f"x{j}" for j in range(x.shape[1])],
        standardize=False,
        classes=list(range(k)),
    )
    config = load_config(
        None,
        [
            f"optimizer.name={optimizer}",
            "optimizer.lr=1",
            "model.l2=1.0",
            "train.dtype=float64",
            "train.device=cpu",
            "train.print_cost=false",
            "train.iterations=200",
        ],
    )
    result = train(config, data=split, save=False)
    assert result.metrics["converged"], result.metrics["warnings"]
    reference = SkLogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(
        result.model.predict_proba(x).numpy(), reference.predict_proba(x.numpy()), atol=1e-4
    )
