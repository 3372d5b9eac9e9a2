"""A diverged run's message gives advice that fits its optimizer and the likely cause."""

import numpy as np
import pytest
import torch

from torch_logreg import LogisticRegression, load_config, train
from torch_logreg.data import make_split
from torch_logreg.errors import TrainingDiverged


def split(scale=1.0):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(100, 3))) * scale
    y = (x[:, 0] + torch.tensor(rng.normal(size=100)) > 0).double()
    return make_split(x, y, x, y, ["a", "b", "c"], standardize=False)


def config(*overrides):
    return load_config(
        None,
        [
            "train.device=cpu",
            "train.print_cost=false",
            "train.dtype=float64",
            "train.iterations=50",
            *overrides,
        ],
    )


@pytest.mark.parametrize(
    "optimizer,why",
    [
        ("newton", "newton takes no learning rate"),
        ("lbfgs", "lbfgs picks its step by a line search, so its step size is not the cause"),
    ],
)
def test_newton_and_lbfgs_on_huge_weights_are_not_told_to_lower_the_lr(optimizer, why):
    model = LogisticRegression(3).double()
    with torch.no_grad():
        model.weight.fill_(1e308)
    with pytest.raises(TrainingDiverged) as raised:
        train(config(f"optimizer.name={optimizer}"), save=False, data=split(), model=model)
    message = str(raised.value)
    assert why in message and "optimizer.lr" not in message
    assert "the weights reached 1e+308" in message and "model.l2 > 0" in message


def test_newton_on_huge_features_is_told_to_standardize():
    with pytest.raises(
        TrainingDiverged,
        match=r"newton takes no learning rate.*the features reach 3.1\de\+300: "
        r"standardize them \(data.standardize=true\)",
    ):
        train(config("optimizer.name=newton"), save=False, data=split(1e300))


def test_gd_with_a_huge_learning_rate_is_told_to_lower_it():
    with pytest.raises(TrainingDiverged, match=r"optimizer gd; try a smaller optimizer.lr \(now 1e\+308\)"):
        train(config("optimizer.lr=1e308"), save=False, data=split())


def test_features_that_overflow_float32_are_named_as_the_cause():
    with pytest.raises(TrainingDiverged, match="the features overflow torch.float32.*train.dtype=float64"):
        train(config("optimizer.name=newton", "train.dtype=float32"), save=False, data=split(1e200))
