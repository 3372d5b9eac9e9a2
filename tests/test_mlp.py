"""``MLP``: hidden layers from the hand-written parts, held against stock PyTorch autograd."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from torch_logreg import MLP, LogisticRegression, check_gradients
from torch_logreg.nn import functional, models

STOCK_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


def labelled_data(m, n, num_classes, seed=0, device="cpu"):
    """x (m, n) float64 and y (m,) float64 class indices, on ``device``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=gen, dtype=torch.float64)
    y = torch.randint(0, num_classes, (m,), generator=gen).to(torch.float64)
    return x.to(device), y.to(device)


def network(n, hidden, num_classes=2, activation="tanh", l2=0.0, seed=0, device="cpu", **kwargs):
    torch.manual_seed(seed)
    return MLP(
        n, hidden, num_classes, activation=activation, l2=l2, dtype=torch.float64, device=device, **kwargs
    )


def stock_gradients(model, x, y, sample_weight=None):
    """(J, gradients) of the same network written the way a PyTorch user would:
    ``nn.Linear`` + stock activations + ``BCEWithLogitsLoss`` / ``CrossEntropyLoss`` + an explicit L2 sum."""
    layers = []
    for index, layer in enumerate(model.layers):
        if index:
            layers.append(STOCK_ACTIVATIONS[model.activation]())
        stock = nn.Linear(layer.in_features, layer.out_features, dtype=x.dtype, device=x.device)
        with torch.no_grad():
            stock.weight.copy_(layer.weight)
            stock.bias.copy_(layer.bias)
        layers.append(stock)
    sequential = nn.Sequential(*layers)
    z = sequential(x)
    if model.num_classes == 2:
        pointwise = nn.BCEWithLogitsLoss(reduction="none")(z.squeeze(1), y)
    else:
        pointwise = nn.CrossEntropyLoss(reduction="none")(z, y.long())
    s = torch.ones_like(pointwise) if sample_weight is None else sample_weight
    cost = (s * pointwise).sum() / s.sum()
    weights = [module.weight for module in sequential if isinstance(module, nn.Linear)]
    cost = cost + model.l2 / (2 * s.sum()) * sum((w**2).sum() for w in weights)
    return cost.detach(), torch.autograd.grad(cost, list(sequential.parameters()))


def assert_gradients_equal(hand, stock, rel=1e-10):
    """Each hand-written gradient equals stock autograd's to ``rel`` of that gradient's largest |entry|."""
    assert len(hand) == len(stock)
    for h, s in zip(hand, stock):
        assert h.shape == s.shape
        assert float((h - s).abs().max()) <= rel * float(s.abs().max()), (h, s)


# ---------------------------------------------------------------- gradients against autograd


@pytest.mark.parametrize("l2", [0.0, 0.7])
@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("hidden", [(5,), (5, 4), (6, 5, 3)])
@pytest.mark.parametrize("activation", functional.ACTIVATIONS)
def test_hand_written_gradients_equal_stock_autograd(device, activation, hidden, num_classes, l2):
    x, y = labelled_data(m=17, n=3, num_classes=num_classes, device=device)
    model = network(3, hidden, num_classes, activation, l2, device=device)
    stock_cost, stock = stock_gradients(model, x, y)

    cost = model.cost(x, y)  # through the autograd Functions
    cost.backward()
    assert cost.item() == pytest.approx(stock_cost.item(), rel=1e-12)
    assert_gradients_equal([p.grad for p in model.parameters()], stock)

    fast_cost, fast = model.cost_and_grads(x, model.loss.targets(y, x.dtype), with_cost=True)  # no graph
    assert float(fast_cost) == pytest.approx(float(stock_cost), rel=1e-12)
    assert not any(g.requires_grad for g in fast)
    assert_gradients_equal(fast, stock)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 12),
    n=st.integers(1, 5),
    hidden=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    num_classes=st.integers(2, 4),
    activation=st.sampled_from(functional.ACTIVATIONS),
    l2=st.sampled_from([0.0, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_fast_gradients_equal_stock_autograd_for_any_shape(m, n, hidden, num_classes, activation, l2, seed):
    x, y = labelled_data(m, n, num_classes, seed=seed)
    model = network(n, hidden, num_classes, activation, l2, seed=seed)
    _, stock = stock_gradients(model, x, y)
    _, fast = model.cost_and_grads(x, model.loss.targets(y, x.dtype))
    assert_gradients_equal(fast, stock)


@pytest.mark.parametrize("num_classes", [2, 3])
def test_sample_weights_and_l2_rows_reach_the_fast_path(num_classes):
    x, y = labelled_data(m=11, n=3, num_classes=num_classes)
    s = torch.linspace(0.5, 2.0, 11, dtype=torch.float64)
    model = network(3, (4, 3), num_classes, "relu", l2=0.4)
    _, stock = stock_gradients(model, x, y, sample_weight=s)
    _, fast = model.cost_and_grads(x, model.loss.targets(y, x.dtype), sample_weight=s)
    assert_gradients_equal(fast, stock)

    # A mini-batch passes the full count to the L2 term: dW gains (l2/l2_rows)·W, db nothing.
    _, plain = network(3, (4, 3), num_classes, "relu", l2=0.0).cost_and_grads(
        x, model.loss.targets(y, x.dtype)
    )
    _, batch = model.cost_and_grads(x, model.loss.targets(y, x.dtype), l2_rows=1000)
    for (name, parameter), with_l2, without in zip(model.named_parameters(), batch, plain):
        extra = 0.4 / 1000 * parameter.detach() if name.endswith("weight") else torch.zeros_like(parameter)
        torch.testing.assert_close(with_l2 - without, extra, atol=1e-15, rtol=0)


@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("activation", functional.ACTIVATIONS)
def test_mlp_cost_passes_gradcheck_in_float64(activation, num_classes):
    x, y = labelled_data(m=9, n=3, num_classes=num_classes, seed=1)
    model = network(3, (4, 3), num_classes, activation, l2=0.5)
    names = [name for name, _ in model.named_parameters()]

    class Cost(nn.Module):  # so that functional_call swaps the parameters that penalty() reads too
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model.cost(x, y)

    def cost(x, *params):
        return torch.func.functional_call(Cost(), {f"model.{n}": p for n, p in zip(names, params)}, (x,))

    inputs = [x.clone().requires_grad_()] + [p.detach().clone().requires_grad_() for p in model.parameters()]
    assert torch.autograd.gradcheck(cost, inputs, atol=1e-8, rtol=1e-6)


def test_check_gradients_works_on_an_mlp_unchanged():
    x, y = labelled_data(m=10, n=2, num_classes=3)
    assert check_gradients(network(2, (5, 5), 3, "sigmoid", l2=0.2), x, y) < 1e-14
    network(2, (3,), 3, check_grad=True).cost(x, y).backward()  # the per-call check passes too


# ---------------------------------------------------------------- the L2 term


def test_penalty_is_l2_over_2m_times_every_weight_squared_and_no_bias():
    model = network(4, (6, 5), num_classes=3, l2=0.8)
    explicit = sum((layer.weight.detach() ** 2).sum().item() for layer in model.layers)  # W1, W2, W3; no b
    assert model.penalty(50).item() == pytest.approx(0.8 / (2 * 50) * explicit, rel=1e-14)

    x, y = labelled_data(m=50, n=4, num_classes=3)
    unpenalized = network(4, (6, 5), num_classes=3, l2=0.0)
    assert (model.cost(x, y) - unpenalized.cost(x, y)).item() == pytest.approx(
        0.8 / 100 * explicit, rel=1e-12
    )
    assert (model.cost(x, y, l2_rows=1000) - unpenalized.cost(x, y)).item() == pytest.approx(
        0.8 / 2000 * explicit, rel=1e-12
    )


# ---------------------------------------------------------------- construction and init


def test_layers_are_registered_in_order_with_nn_linear_shapes():
    model = MLP(3, hidden=(5, 4), num_classes=2)
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == [
        ("layer1.weight", (5, 3)),
        ("layer1.bias", (5,)),
        ("layer2.weight", (4, 5)),
        ("layer2.bias", (4,)),
        ("layer3.weight", (1, 4)),
        ("layer3.bias", (1,)),  # one output neuron for 2 classes
    ]
    assert MLP(3, hidden=(5,), num_classes=4).layer2.weight.shape == (4, 5)  # K neurons for K classes
    assert model.out_features == 1 and not hasattr(model, "hessian")  # so Newton is not offered


def test_uniform_init_is_nn_linears():
    torch.manual_seed(7)
    model = MLP(3, hidden=(5,), dtype=torch.float64)
    torch.manual_seed(7)
    first, second = nn.Linear(3, 5, dtype=torch.float64), nn.Linear(5, 1, dtype=torch.float64)
    for ours, theirs in zip(model.parameters(), [*first.parameters(), *second.parameters()]):
        torch.testing.assert_close(ours, theirs, atol=1e-15, rtol=0)


def test_xavier_draws_glorot_uniform_weights_and_zero_biases():
    torch.manual_seed(0)
    model = MLP(30, hidden=(20,), init="xavier", dtype=torch.float64)
    bound = math.sqrt(6 / (30 + 20))
    assert bound * 0.9 < float(model.layer1.weight.detach().abs().max()) <= bound
    assert float(model.layer2.weight.detach().abs().max()) <= math.sqrt(6 / (20 + 1))
    assert all(float(layer.bias.detach().abs().max()) == 0 for layer in model.layers)


def test_he_draws_kaiming_normal_weights_with_std_root_2_over_fan_in_and_zero_biases():
    torch.manual_seed(0)
    model = MLP(400, hidden=(400,), activation="relu", init="he", dtype=torch.float64)
    assert float(model.layer1.weight.detach().std()) == pytest.approx(
        math.sqrt(2 / 400), rel=0.02
    )  # 160 000 draws
    assert float(model.layer1.weight.detach().mean()) == pytest.approx(0, abs=0.002)
    assert all(float(layer.bias.detach().abs().max()) == 0 for layer in model.layers)


def test_zeros_init_is_refused_because_hidden_units_would_stay_identical():
    with pytest.raises(ValueError, match="symmetry") as error:
        MLP(2, hidden=(4,), init="zeros")
    assert "model.init" in str(error.value) and "identical" in str(error.value)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"hidden": []}, "model.hidden"),
        ({"hidden": [0]}, "model.hidden"),
        ({"hidden": [-3]}, "model.hidden"),
        ({"hidden": [4, 2.5]}, "model.hidden"),
        ({"hidden": [True]}, "model.hidden"),
        ({"hidden": "4"}, "model.hidden"),
        ({"hidden": 4}, "model.hidden"),
        ({"activation": "gelu"}, "model.activation must be one of sigmoid, tanh, relu"),
        ({"init": "normal"}, "model.init must be one of uniform, xavier, he"),
        ({"l2": -1.0}, "l2"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_bad_arguments_name_the_config_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        MLP(2, **kwargs)


def test_hidden_accepts_any_sequence_of_ints_and_keeps_a_tuple():
    assert MLP(2, hidden=[np.int64(3), 2]).hidden == (3, 2)


# ---------------------------------------------------------------- predictions


def test_predict_proba_and_predict_shapes_and_dtypes():
    x, _ = labelled_data(m=6, n=3, num_classes=2)
    binary, multi = network(3, (4,), 2), network(3, (4,), 3)

    proba = binary.predict_proba(x)
    assert proba.shape == (6,) and proba.dtype == torch.float64 and not proba.requires_grad
    assert bool(((proba > 0) & (proba < 1)).all())
    assert binary.predict(x).dtype == torch.int64
    assert binary.predict(x).tolist() == (proba > 0.5).long().tolist()

    proba = multi.predict_proba(x.numpy())  # numpy works too
    assert proba.shape == (6, 3) and proba.dtype == torch.float64
    torch.testing.assert_close(proba.sum(1), torch.ones(6, dtype=torch.float64))
    assert multi.predict(x).dtype == torch.int64
    assert multi.predict(x).tolist() == proba.argmax(1).tolist()


# ---------------------------------------------------------------- checkpoints and configs


def test_constructor_args_round_trip_through_json_and_rebuild_model():
    model = network(3, (5, 4), num_classes=3, activation="relu", l2=0.25, init="he")
    architecture = json.loads(json.dumps(models.architecture(model)))
    assert architecture == {
        "name": "mlp",
        "args": {
            "in_features": 3,
            "hidden": [5, 4],
            "num_classes": 3,
            "activation": "relu",
            "l2": 0.25,
            "init": "he",
        },
        "sample_shape": [3],
    }
    rebuilt = models.rebuild_model(architecture, dtype=torch.float64)
    rebuilt.load_state_dict(model.state_dict())
    x, _ = labelled_data(m=5, n=3, num_classes=3)
    assert repr(rebuilt) == repr(model)
    assert torch.equal(rebuilt(x), model(x))


def test_build_model_reads_the_model_section_and_resolves_init_none_to_uniform():
    config = SimpleNamespace(name="mlp", hidden=[16, 8], activation="relu", l2=0.1, init=None)
    model = models.build_model(config, (64,), num_classes=10)
    assert isinstance(model, MLP)
    assert (model.hidden, model.activation, model.l2, model.init) == ((16, 8), "relu", 0.1, "uniform")
    assert model.layer3.weight.shape == (10, 8)


def test_repr_shows_the_architecture():
    assert repr(MLP(2, hidden=(4,))).splitlines()[:4] == [
        "MLP(",
        "  in_features=2, hidden=[4], num_classes=2, activation='tanh', l2=0.0, init='uniform'",
        "  (layer1): Linear(in_features=2, out_features=4)",
        "  (layer2): Linear(in_features=4, out_features=1)",
    ]


# ---------------------------------------------------------------- what a line cannot do


def test_gradient_descent_with_the_fast_path_learns_xor_which_no_line_can():
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)  # XOR
    model = network(2, (4,), seed=0)
    line = LogisticRegression(2, dtype=torch.float64)

    for _ in range(3000):  # full-batch gradient descent, lr 1.0, the fixed seed above
        for trained in (model, line):
            _, grads = trained.cost_and_grads(x, y)
            with torch.no_grad():
                for parameter, grad in zip(trained.parameters(), grads):
                    parameter -= 1.0 * grad

    assert model.predict(x).tolist() == [0, 1, 1, 0]  # 100%
    assert model.cost(x, y).item() < 0.05
    assert (line.predict(x) == y.long()).double().mean() <= 0.75  # a line gets at most 3 of 4
