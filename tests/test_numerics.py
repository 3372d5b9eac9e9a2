"""Numerical faults: a diverging run stops at the first non-finite iteration and keeps its last good
checkpoint; saturated logits never give NaN; train.dtype=float64 is float64 end to end."""

from __future__ import annotations

import math

import pytest
import torch
from reliability_helpers import QUIET, assert_one_error_line, run_main

from torch_logreg import LogisticRegression
from torch_logreg.checkpoint import load_checkpoint
from torch_logreg.data import breast_cancer
from torch_logreg.errors import TrainingDiverged
from torch_logreg.inference import load_model
from torch_logreg.nn import functional as LF
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train


def first_non_finite_iteration(optimizer: str, lr: float, momentum: float = 0.0, limit: int = 50) -> int:
    """An independent replay of full-batch training in float32 on the default split: the first
    iteration whose cost or gradient is not finite."""
    split = breast_cancer()
    x, y = split.x_train.float(), split.y_train.float()
    weight = torch.zeros(1, x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    sgd = torch.optim.SGD([weight, bias], lr=lr, momentum=momentum)
    for it in range(limit):
        with torch.no_grad():
            cost, dweight, dbias = LF.cost_and_grads(x, y, weight, bias, with_cost=True)
        if not all(bool(torch.isfinite(t).all()) for t in (cost, dweight, dbias)):
            return it
        if optimizer == "gd":
            with torch.no_grad():
                weight -= lr * dweight
                bias -= lr * dbias
        else:
            weight.grad, bias.grad = dweight, dbias
            sgd.step()
    raise AssertionError(f"{optimizer} with lr {lr} stays finite for {limit} iterations")


@pytest.mark.parametrize(
    "overrides, log_every",
    [
        (["optimizer.name=gd", "optimizer.lr=1e38"], 1),
        (
            ["optimizer.name=gd", "optimizer.lr=1e38"],
            100,
        ),  # seen at a log step, then replayed to name the step
        (["optimizer.name=sgd", "optimizer.lr=1e37", "optimizer.momentum=0.9"], 100),
    ],
)
def test_a_diverging_run_names_the_first_bad_iteration_and_keeps_the_last_good_checkpoint(
    tmp_path, capsys, overrides, log_every
):
    settings = dict(item.split("=") for item in overrides)
    first_bad = first_non_finite_iteration(
        settings["optimizer.name"],
        float(settings["optimizer.lr"]),
        float(settings.get("optimizer.momentum", 0)),
    )
    assert first_bad >= 1  # the cost really overflows float32 (z = x·w beyond 3.4e38), a few steps in

    run = tmp_path / "run"
    done = run_main(
        capsys,
        *overrides,
        "train.iterations=300",
        f"train.log_every={log_every}",
        "train.checkpoint_every=1",
        *QUIET,
        "--run-dir",
        run,
    )

    assert done.status == 3
    message = assert_one_error_line(
        done.err,
        f"diverged at iteration {first_bad}",
        "not finite",
        f"smaller optimizer.lr (now {float(settings['optimizer.lr']):g})",
        str(run / "checkpoint.pt"),
    )
    state = load_checkpoint(run)
    assert state["iteration"] < first_bad
    assert f"last good state (iteration {state['iteration']})" in message
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    model = load_model(run)
    assert torch.isfinite(model.predict_proba(breast_cancer(standardize=False).x_test)).all()
    assert not (run / "metrics.json").exists()  # the run did not finish


def test_the_python_api_raises_training_diverged(tmp_path):
    config = load_config(None, ["optimizer.lr=1e38", "train.iterations=10", *QUIET])
    with pytest.raises(TrainingDiverged, match="training diverged at iteration 1"):
        train(config, tmp_path / "run")


def test_the_document_sized_step_does_not_diverge_in_float32():
    # The brief's example, sgd lr 1e6 with momentum 0.9, never overflows on this data: the gradient
    # is bounded by the features, so |w| grows at most linearly. Divergence needs lr near 1e37.
    with pytest.raises(AssertionError, match="stays finite"):
        first_non_finite_iteration("sgd", 1e6, 0.9)


# ---------------------------------------------------------------- saturated logits


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [50.0, 1e3, 1e4, 1e30])
def test_saturated_logits_give_a_finite_cost_gradient_and_prediction(dtype, scale):
    # Rows 0 and 1 are classified right, rows 2 and 3 wrong, all with |z| = scale: far past
    # float32's exp overflow (z ≈ 88), where the document's log(σ(z)) gives log(0) = -inf.
    model = LogisticRegression(2, dtype=dtype)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[scale, 0.0]]))
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]], dtype=dtype)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=dtype)

    cost = model.cost(x, y)
    cost.backward()

    assert torch.isfinite(cost) and cost.item() == pytest.approx(scale / 2, rel=1e-6)  # (0 + 0 + s + s) / 4
    assert torch.isfinite(model.weight.grad).all() and torch.isfinite(model.bias.grad).all()
    # dz = (σ(z) − y)/m is 0 on the right rows and ±1/4 on the wrong ones: dW = Σ dz·x = [1/2, 0].
    torch.testing.assert_close(model.weight.grad, torch.tensor([[0.5, 0.0]], dtype=dtype))
    with torch.no_grad():
        probabilities = model.predict_proba(x)
    torch.testing.assert_close(
        probabilities, torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=dtype), rtol=0, atol=1e-21
    )
    if scale >= 1e3:  # σ(z) rounds to exactly 0 or 1
        a = torch.sigmoid(model(x)).detach()
        document_cost = -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).mean()
        assert not torch.isfinite(document_cost)  # what the softplus form avoids


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_formula_functions_stay_finite_at_the_largest_logits(dtype):
    z = torch.tensor([-1e30, -100.0, 0.0, 100.0, 1e30], dtype=dtype)
    y = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=dtype)
    assert torch.isfinite(LF.logistic_cost_forward(z, y))
    assert torch.isfinite(LF.logistic_cost_backward(z, y)).all()


@pytest.mark.parametrize("lr", [1e6, 1e20])
def test_separable_data_with_a_huge_lr_saturates_without_nan(tmp_path, lr):
    config = load_config(
        None,
        [
            "data.name=synthetic",
            "data.noise=0",
            "data.samples=200",
            "data.features=2",
            f"optimizer.lr={lr}",
            "train.iterations=200",
            "train.log_every=50",
            *QUIET,
        ],
    )
    result = train(config, tmp_path / "run")

    assert all(math.isfinite(c) for c in result.history["train_cost"] + result.history["test_cost"])
    assert result.metrics["train_accuracy"] == 1.0
    split_x = torch.randn(500, 2, generator=torch.Generator().manual_seed(1)) * 3
    model = load_model(tmp_path / "run")
    with torch.no_grad():
        z = model(split_x)
        probabilities = model.predict_proba(split_x)
    assert z.abs().max() > 100  # saturated: σ(z) is 0 or 1 to float32 precision
    assert torch.isfinite(probabilities).all()
    state = load_checkpoint(tmp_path / "run")
    assert all(torch.isfinite(t).all() for t in state["model"].values())


# ---------------------------------------------------------------- float64 end to end


@pytest.mark.parametrize("dtype_name, dtype", [("float64", torch.float64), ("float32", torch.float32)])
def test_train_dtype_holds_end_to_end(tmp_path, dtype_name, dtype):
    config = load_config(None, [f"train.dtype={dtype_name}", "train.iterations=20", *QUIET])
    result = train(config, tmp_path / "run")

    assert all(p.dtype == dtype for p in result.model.parameters())
    state = load_checkpoint(tmp_path / "run")
    assert all(t.dtype == dtype for t in state["model"].values())
    model = load_model(tmp_path / "run")
    assert all(p.dtype == dtype for p in model.parameters())
    assert all(b.dtype == dtype for b in model.buffers())
    raw = breast_cancer(standardize=False).x_test
    for x in (raw, raw.float()):
        assert model(x).dtype == dtype and model.predict_proba(x).dtype == dtype
    torch.testing.assert_close(model.model.weight, result.model.weight.detach(), rtol=0, atol=0)
