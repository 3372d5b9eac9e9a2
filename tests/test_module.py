"""``LogisticRegression``: the one-neuron module, its exact update and its gradient check."""

import math

import pytest
import torch

from torch_logreg import GradientMismatchError, LogisticRegression, check_gradients, data
from torch_logreg.nn import functional


def small_data(m=20, n=4, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=gen, dtype=torch.float64).to(dtype)
    y = (torch.rand(m, generator=gen, dtype=torch.float64) < 0.5).to(dtype)
    return x, y


def uniform_model(n, l2=0.0, seed=0, dtype=torch.float64, **kwargs):
    torch.manual_seed(seed)
    return LogisticRegression(n, l2=l2, init="uniform", dtype=dtype, **kwargs)


@pytest.fixture
def off_by_a_tenth_of_a_percent(monkeypatch):
    """Break the hand-written dz = (σ(z) − y)/m by a factor 1.001 (autograd's path is untouched)."""
    correct = functional.logistic_cost_backward
    monkeypatch.setattr(
        functional,
        "logistic_cost_backward",
        lambda z, y, *args, **kwargs: correct(z, y, *args, **kwargs) * 1.001,
    )


# ---------------------------------------------------------------- shapes and init


def test_forward_returns_one_logit_per_row():
    model = LogisticRegression(5)
    assert model(torch.ones(7, 5)).shape == (7,)
    assert model.weight.shape == (1, 5)
    assert model.bias.shape == (1,)


def test_parameters_start_at_zero_as_in_the_document():
    model = LogisticRegression(3)
    assert model.weight.tolist() == [[0.0, 0.0, 0.0]]
    assert model.bias.tolist() == [0.0]


def test_uniform_init_stays_within_one_over_root_n():
    model = uniform_model(16)  # bound 1/√16 = 0.25
    values = torch.cat([model.weight.flatten(), model.bias])
    assert values.abs().max() <= 0.25
    assert values.abs().min() > 0  # not the zero init


def test_module_follows_the_requested_dtype():
    model = LogisticRegression(2, dtype=torch.float64)
    assert model.weight.dtype == model.bias.dtype == torch.float64


def test_predict_is_strict_a_logit_of_zero_predicts_class_0():
    model = LogisticRegression(3)  # zeros: every logit is exactly 0
    x = torch.randn(4, 3)
    assert model.predict_proba(x).tolist() == [0.5] * 4
    assert model.predict(x).tolist() == [0.0] * 4
    with torch.no_grad():
        model.bias.fill_(1e-6)  # just above: σ > 0.5
    assert model.predict(x).tolist() == [1.0] * 4


# ---------------------------------------------------------------- gradients and updates


def test_cost_backward_fills_grad_with_the_documents_formulas():
    x, y = small_data(m=25, n=4)
    model = uniform_model(4, l2=0.5)
    model.cost(x, y).backward()

    with torch.no_grad():
        dz = (torch.sigmoid(x @ model.weight.T + model.bias).squeeze(1) - y) / 25  # (m,)
        expected_dweight = dz @ x + (0.5 / 25) * model.weight  # dzᵀx + (l2/m)·W, (1, n)
        expected_dbias = dz.sum().reshape(1)  # Σdz, no penalty
    torch.testing.assert_close(model.weight.grad, expected_dweight, atol=1e-15, rtol=0)
    torch.testing.assert_close(model.bias.grad, expected_dbias, atol=1e-15, rtol=0)


def test_cost_value_is_mean_cross_entropy_plus_the_penalty():
    x, y = small_data(m=10, n=3)
    model = uniform_model(3, l2=2.0)
    with torch.no_grad():
        a = torch.sigmoid(model(x))
        cross_entropy = -(y * a.log() + (1 - y) * (1 - a).log()).mean()  # fine at these small logits
        expected = cross_entropy + (2.0 / (2 * 10)) * model.weight.pow(2).sum()
    assert model.cost(x, y).item() == pytest.approx(expected.item(), rel=1e-13)


def test_one_gradient_descent_step_is_exactly_the_documents_update_with_an_unpenalized_bias():
    x, y = small_data(m=30, n=5, seed=3)
    m, alpha, l2 = 30, 0.1, 0.7
    model = uniform_model(5, l2=l2, seed=3)
    w0, b0 = model.weight.detach().clone(), model.bias.detach().clone()
    residual = torch.sigmoid(x @ w0.T + b0).squeeze(1) - y  # σ(z) − y, (m,)

    optimizer = torch.optim.SGD(model.parameters(), lr=alpha)
    optimizer.zero_grad()
    model.cost(x, y).backward()
    optimizer.step()

    expected_w = w0 - alpha * (x.T @ residual / m + (l2 / m) * w0.squeeze(0))  # w − α(Xᵀ(σ(z)−y)/m + (l2/m)w)
    expected_b = b0 - alpha * residual.sum() / m  # b − α·Σ(σ(z)−y)/m: no l2 term
    torch.testing.assert_close(model.weight.detach(), expected_w.reshape(1, 5), atol=1e-15, rtol=0)
    torch.testing.assert_close(model.bias.detach(), expected_b.reshape(1), atol=1e-15, rtol=0)
    # Had the bias been penalized it would sit α·(l2/m)·|b| ≈ 1e-4 away: far outside 1e-15.
    penalized_b = expected_b - alpha * (l2 / m) * b0
    assert (model.bias.detach() - penalized_b).abs().item() > 1e-4


def test_any_torch_optimizer_can_train_it():
    split = data.breast_cancer()
    model = LogisticRegression(split.n_features, dtype=torch.float64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    first = model.cost(split.x_train, split.y_train).item()
    for _ in range(50):
        optimizer.zero_grad()
        model.cost(split.x_train, split.y_train).backward()
        optimizer.step()
    assert first == pytest.approx(math.log(2), rel=1e-12)  # zero init: σ(0) = 0.5 everywhere
    assert model.cost(split.x_train, split.y_train).item() < 0.1


# ---------------------------------------------------------------- gradient check


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_check_gradients_passes_on_the_module(dtype):
    x, y = small_data(dtype=dtype)
    model = uniform_model(4, l2=0.3, dtype=dtype)
    worst = check_gradients(model, x, y)
    assert 0 <= worst < (1e-6 if dtype == torch.float32 else 1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_check_gradients_catches_a_backward_off_by_a_tenth_of_a_percent(dtype, off_by_a_tenth_of_a_percent):
    x, y = small_data(dtype=dtype)
    model = uniform_model(4, l2=0.3, dtype=dtype)
    with pytest.raises(GradientMismatchError, match="differs from autograd"):
        check_gradients(model, x, y)


def test_check_grad_makes_cost_raise_on_a_mismatch(off_by_a_tenth_of_a_percent):
    x, y = small_data()
    model = uniform_model(4, check_grad=True)
    with pytest.raises(GradientMismatchError):
        model.cost(x, y)


def test_check_grad_lets_cost_through_when_the_gradients_are_right():
    x, y = small_data()
    checked = uniform_model(4, check_grad=True)
    plain = uniform_model(4)
    assert checked.cost(x, y).item() == plain.cost(x, y).item()


# ---------------------------------------------------------------- the L2 objective


def test_l2_optimum_matches_scikit_learn_with_c_equal_one_over_l2():
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    split = data.breast_cancer()
    l2 = 1.0
    model = LogisticRegression(split.n_features, l2=l2, dtype=torch.float64)
    optimizer = torch.optim.LBFGS(
        model.parameters(),
        lr=1,
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        cost = model.cost(split.x_train, split.y_train)
        cost.backward()
        return cost

    optimizer.step(closure)
    reference = sklearn_linear.LogisticRegression(C=1 / l2, tol=1e-12, max_iter=10_000)
    reference.fit(split.x_train.numpy(), split.y_train.numpy())

    coef = torch.from_numpy(reference.coef_)  # (1, n)
    intercept = torch.from_numpy(reference.intercept_)  # (1,)
    torch.testing.assert_close(model.weight.detach(), coef, atol=1e-4, rtol=0)
    torch.testing.assert_close(model.bias.detach(), intercept, atol=1e-4, rtol=0)


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"in_features": 0}, "in_features"),
        ({"in_features": 3, "l2": -0.1}, "l2"),
        ({"in_features": 3, "init": "normal"}, "init"),
    ],
)
def test_invalid_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**kwargs)


def test_repr_names_what_matters():
    assert (
        repr(LogisticRegression(3, l2=0.5))
        == "LogisticRegression(in_features=3, num_classes=2, l2=0.5, init='zeros')"
    )


def test_every_public_name_loads_and_what_the_readme_names_is_exported():
    import torch_logreg

    for name in torch_logreg.__all__:
        assert getattr(torch_logreg, name) is not None
    assert callable(torch_logreg.read_table)
    with pytest.raises(AttributeError):
        torch_logreg.no_such_name  # noqa: B018


def test_subpackages_load_on_first_use_as_attributes():
    import torch_logreg

    assert callable(torch_logreg.data.load_breast_cancer)
    assert torch_logreg.stats.summary is not None
