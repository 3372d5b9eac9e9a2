"""The training loop through its Python API: what a training script relies on."""

import json

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from torch_logreg import document
from torch_logreg.data import breast_cancer, load_breast_cancer
from torch_logreg.inference import load_model
from torch_logreg.nn.functional import cost_and_grads
from torch_logreg.training.config import apply_overrides, config_from_dict, load_config
from torch_logreg.training.trainer import train

QUIET = ["train.print_cost=false"]


def config(*overrides):
    return load_config(None, [*QUIET, *overrides])


def test_gd_one_step_equals_the_documents_update(tmp_path):
    result = train(config("train.iterations=1", "train.dtype=float64", "train.device=cpu"), tmp_path / "run")

    split = breast_cancer()
    w, b = document.initialize_with_zeros(split.n_features)
    grads, _ = document.propagate(w, b, split.x_train.T, split.y_train.reshape(1, -1))
    assert torch.equal(result.model.weight.detach(), (w - 0.5 * grads["dw"]).T)
    assert result.model.bias.item() == b - 0.5 * grads["db"]


def test_result_holds_model_history_and_metrics(tmp_path):
    result = train(config("train.iterations=300", "train.device=cpu"), tmp_path / "run")

    assert result.history["iteration"] == [0, 100, 200, 300]
    assert result.history["train_cost"][0] == pytest.approx(np.log(2), rel=1e-6)  # σ(0) = ½ for every row
    assert result.history["train_cost"] == sorted(result.history["train_cost"], reverse=True)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    per_split = ("cost", "accuracy", "auc", "f1", "precision", "recall", "log_loss")
    assert set(metrics) == {f"{split}_{name}" for split in ("train", "test") for name in per_split} | {
        "iterations",
        "converged",
        "separated",
        "grad_norm",
        "classes",
        "warnings",
        "seconds",
        "device",
    }
    assert metrics["iterations"] == 300 and metrics["device"] == "cpu" and metrics["classes"] == [0, 1]
    assert (
        metrics["converged"] is False and metrics["warnings"] == []
    )  # gd runs the iterations asked for, quietly
    assert 0.9 < metrics["test_accuracy"] <= 1.0
    assert (result.run_dir / "config.yaml").is_file() and (result.run_dir / "checkpoint.pt").is_file()


@pytest.mark.parametrize(
    "optimizer",
    [
        ["optimizer.name=gd"],
        ["optimizer.name=sgd", "optimizer.momentum=0.9", "optimizer.lr=0.05", "train.batch_size=64"],
        ["optimizer.name=adam", "optimizer.lr=0.01", "train.batch_size=100"],
    ],
)
def test_resume_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path, optimizer):
    common = [*optimizer, "train.device=cpu", "train.checkpoint_every=0"]
    whole = train(config(*common, "train.iterations=250"), tmp_path / "whole")

    train(config(*common, "train.iterations=130"), tmp_path / "part")
    saved = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    resumed_config = config_from_dict(saved["config"])
    apply_overrides(resumed_config, ["train.iterations=250"])
    resumed = train(resumed_config, tmp_path / "part", resume=True)

    assert torch.equal(resumed.model.weight, whole.model.weight)
    assert torch.equal(resumed.model.bias, whole.model.bias)
    assert resumed.history == whole.history


def test_same_seed_and_config_give_the_same_numbers(tmp_path):
    args = [
        "optimizer.name=sgd",
        "train.batch_size=32",
        "train.iterations=120",
        "model.init=uniform",
        "seed=3",
    ]
    first = train(config(*args), tmp_path / "a")
    second = train(config(*args), tmp_path / "b")
    assert torch.equal(first.model.weight, second.model.weight)
    assert first.history == second.history


def test_load_model_applies_the_training_standardization_to_raw_features(tmp_path):
    result = train(config("train.iterations=200"), tmp_path / "run")
    raw_x, _, _ = load_breast_cancer()

    loaded = load_model(tmp_path / "run")
    expected = result.model.predict_proba(result.standardizer.transform(raw_x).float()).detach()

    torch.testing.assert_close(loaded.predict_proba(raw_x).float(), expected, atol=1e-6, rtol=1e-5)
    assert torch.equal(loaded.predict(raw_x), (expected > 0.5).to(loaded.predict(raw_x).dtype))
    assert loaded.feature_names[0] == "mean_radius"


def _write_csv(path, x, y):
    lines = ["f1,f2,f3,label"] + [",".join(f"{v:.17g}" for v in row) + f",{int(t)}" for row, t in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")


def test_lbfgs_on_a_user_csv_reaches_scikit_learns_optimum(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)) * [1.0, 3.0, 0.5]
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(-(x @ [1.5, -0.7, 2.0] + 0.3)))).astype(float)
    _write_csv(tmp_path / "train.csv", x[:200], y[:200])
    _write_csv(tmp_path / "test.csv", x[200:], y[200:])

    result = train(
        config(
            f"data.path={tmp_path / 'train.csv'}",
            f"data.test_path={tmp_path / 'test.csv'}",
            "data.target=label",
            "data.standardize=false",
            "model.l2=2.0",
            "optimizer.name=lbfgs",
            "optimizer.lr=1",
            "train.iterations=50",
            "train.log_every=10",
            "train.dtype=float64",
        ),
        tmp_path / "run",
    )

    reference = SkLogisticRegression(C=1 / 2.0, tol=1e-12, max_iter=10_000).fit(x[:200], y[:200])
    ours = result.model.predict_proba(torch.from_numpy(x[200:])).detach().numpy()
    np.testing.assert_allclose(ours, reference.predict_proba(x[200:])[:, 1], atol=1e-4)


def test_newton_reaches_the_same_optimum_in_a_few_steps(tmp_path):
    result = train(
        config(
            "optimizer.name=newton",
            "model.l2=1.0",
            "train.iterations=12",
            "train.log_every=1",
            "train.dtype=float64",
        ),
        tmp_path / "run",
    )
    split = breast_cancer()
    reference = SkLogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(
        split.x_train.numpy(), split.y_train.numpy()
    )
    # scikit-learn stops with a gradient of ~5e-9, which leaves ~2e-6 in the weights; Newton goes to ~1e-12.
    np.testing.assert_allclose(result.model.weight.detach().numpy()[0], reference.coef_[0], atol=1e-5)
    assert result.model.bias.item() == pytest.approx(reference.intercept_[0], abs=1e-5)
    _, dweight, dbias = cost_and_grads(
        split.x_train, split.y_train, result.model.weight.detach(), result.model.bias.detach(), l2=1.0
    )
    assert dweight.abs().max() < 1e-10 and dbias.abs().max() < 1e-10


def test_newton_falls_back_to_lbfgs_past_the_size_limit_for_a_model_without_hessian_product(
    tmp_path, monkeypatch, caplog
):
    import torch_logreg.training.newton as newton
    from torch_logreg.nn.logistic import LogisticRegression

    monkeypatch.setattr(newton, "NEWTON_MAX_FEATURES", 10)
    monkeypatch.delattr(LogisticRegression, "hessian_product")  # no H v: conjugate gradients cannot run
    with caplog.at_level("WARNING"):
        result = train(
            config("optimizer.name=newton", "train.iterations=5", "train.log_every=5"), tmp_path / "run"
        )
    assert "using lbfgs" in caplog.text
    assert result.metrics["test_accuracy"] > 0.9


@pytest.mark.parametrize("classes", [2, 3])
def test_newton_past_the_size_limit_solves_by_conjugate_gradients_to_the_same_optimum(monkeypatch, classes):
    """No (P, P) Hessian is formed past NEWTON_MAX_FEATURES: H v products steer the same Newton to the
    same optimum."""
    import torch_logreg.training.newton as newton
    from torch_logreg.nn.logistic import LogisticRegression
    from torch_logreg.training.optimizers import make_optimizer

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 12, dtype=torch.float64, generator=generator)
    y = (x[:, 0] + x[:, 1] > 0).double() if classes == 2 else (x[:, :3].argmax(1))
    fitted = {}
    for limit in (4096, 5):
        monkeypatch.setattr(newton, "NEWTON_MAX_FEATURES", limit)
        model = LogisticRegression(12, classes, l2=1.0, dtype=torch.float64)
        optimizer = make_optimizer("newton", model, lr=1.0)
        assert isinstance(optimizer, newton.Newton) and optimizer._matrix_free() == (limit == 5)
        if limit == 5:
            monkeypatch.setattr(model, "hessian", None)  # any formed Hessian would fail here
        for _ in range(30):
            optimizer.step_on(x, y)
            if optimizer.converged:
                break
        assert optimizer.converged
        fitted[limit] = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    torch.testing.assert_close(fitted[5], fitted[4096], atol=1e-9, rtol=0)


def test_tol_stops_early_when_the_cost_settles(tmp_path):
    result = train(config("train.tol=1e-3", "train.iterations=5000"), tmp_path / "run")
    assert result.metrics["iterations"] < 5000
    costs = result.history["train_cost"]
    assert abs(costs[-2] - costs[-1]) < 1e-3


def test_check_grad_logs_the_largest_gradient_difference(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(config("model.check_grad=true", "train.iterations=200", "train.dtype=float64"), tmp_path / "run")
    events = EventAccumulator(str(tmp_path / "run")).Reload()
    diffs = [e.value for e in events.Scalars("train/grad_check_max_diff")]
    assert len(diffs) == 3 and max(diffs) < 1e-12


def test_minibatch_covers_every_row_once_per_epoch(tmp_path):
    from torch_logreg.training.trainer import Trainer

    trainer = Trainer(config("train.batch_size=100"), tmp_path / "run")
    m = trainer.x_train.shape[0]
    rows = torch.cat([trainer._batch(i)[1] for i in range(-(-m // 100))])
    assert rows.shape[0] == m and rows.sum() == trainer.y_train.sum()
    trainer.writer.close()


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_training_matches_the_cpu(tmp_path, dtype):
    args = ["train.iterations=500", f"train.dtype={dtype}"]
    on_cpu = train(config(*args, "train.device=cpu"), tmp_path / "cpu")
    on_gpu = train(config(*args, "train.device=cuda"), tmp_path / "gpu")
    tolerance = 1e-4 if dtype == "float32" else 1e-10
    torch.testing.assert_close(on_gpu.model.weight.cpu(), on_cpu.model.weight, atol=tolerance, rtol=tolerance)
    assert on_gpu.metrics["device"].startswith("cuda")


@cuda
@pytest.mark.cuda
def test_cuda_steps_never_sync_with_the_host(tmp_path):
    from torch_logreg.training.trainer import Trainer

    for args in (
        ["optimizer.name=gd"],
        ["optimizer.name=sgd", "train.batch_size=64", "optimizer.momentum=0.9"],
    ):
        trainer = Trainer(config(*args, "train.device=cuda"), tmp_path / args[0].split("=")[1])
        trainer.step(*trainer._batch(0))  # first call may capture a graph or compile a kernel
        torch.cuda.set_sync_debug_mode("error")
        try:
            for it in range(1, 20):
                trainer.step(*trainer._batch(it))
        finally:
            torch.cuda.set_sync_debug_mode("default")
        trainer.writer.close()


def test_any_module_that_returns_logits_trains_through_the_same_loop(tmp_path):
    # Going deeper is additive: a hidden layer is the same hand-written linear Function plus tanh.
    from torch import nn

    from torch_logreg.nn import functional as LF

    class TwoLayer(nn.Module):
        def __init__(self, n, hidden):
            super().__init__()
            gen = torch.Generator().manual_seed(0)
            self.w1 = nn.Parameter(torch.randn(hidden, n, generator=gen) / n**0.5)
            self.b1 = nn.Parameter(torch.zeros(hidden))
            self.w2 = nn.Parameter(torch.randn(1, hidden, generator=gen) / hidden**0.5)
            self.b2 = nn.Parameter(torch.zeros(1))

        def forward(self, x):  # (N, n) -> logits (N,)
            return LF.linear(torch.tanh(LF.linear(x, self.w1, self.b1)), self.w2, self.b2).squeeze(-1)

    model = TwoLayer(30, 8)
    with torch.enable_grad():
        x, y = breast_cancer().x_train.float(), breast_cancer().y_train.float()
        hand = torch.autograd.grad(LF.logistic_cost(model(x), y), list(model.parameters()))
        with LF.plain_autograd():
            auto = torch.autograd.grad(LF.logistic_cost(model(x), y), list(model.parameters()))
    for h, a in zip(hand, auto):
        torch.testing.assert_close(h, a)

    result = train(
        config("optimizer.name=adam", "optimizer.lr=0.01", "train.iterations=300"),
        tmp_path / "run",
        model=model,
    )
    assert result.history["train_cost"][-1] < 0.1 < result.history["train_cost"][0]
    assert result.metrics["test_accuracy"] > 0.93


def test_newtons_two_layouts_take_the_same_step(monkeypatch):
    # Small data steps on θ = [W, b] with x̃ = [x, 1] kept in cache; large data in row blocks.
    import torch_logreg.training.newton as newton_module

    split = breast_cancer()
    steps = {}
    for name, limit in (("in_cache", 1 << 30), ("blocked", 0)):
        monkeypatch.setattr(newton_module, "SMALL_NEWTON_BYTES", limit)
        newton, weight, bias = _newton(30, l2=0.5)
        costs = [newton.step_on(split.x_train, split.y_train) for _ in range(3)]
        steps[name] = (costs, weight.detach().clone(), bias.detach().clone())
    assert steps["in_cache"][0] == pytest.approx(steps["blocked"][0], abs=1e-14)
    torch.testing.assert_close(steps["in_cache"][1], steps["blocked"][1], atol=1e-12, rtol=0)
    torch.testing.assert_close(steps["in_cache"][2], steps["blocked"][2], atol=1e-12, rtol=0)


def test_newton_stops_once_converged_after_one_final_full_step(tmp_path):
    result = train(
        config(
            "optimizer.name=newton",
            "model.l2=1.0",
            "train.iterations=30",
            "train.log_every=10",
            "train.dtype=float64",
        ),
        tmp_path / "run",
    )
    assert result.metrics["converged"] is True and result.metrics["grad_norm"] < 1e-10
    assert result.metrics["iterations"] <= 10  # no Hessians after the gradient test fired
    assert result.history["iteration"] == [0, result.metrics["iterations"]]


def _tall_problem(m=3000, n=6, seed=3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=gen, dtype=torch.float64)
    true_w = torch.randn(n, generator=gen, dtype=torch.float64)
    y = (torch.rand(m, generator=gen, dtype=torch.float64) < torch.sigmoid(x @ true_w)).double()
    return x, y


def _newton(n, l2=0.0, **kwargs):
    from torch_logreg import LogisticRegression
    from torch_logreg.training import optim

    model = LogisticRegression(n, l2=l2, dtype=torch.float64)
    return optim.Newton(model, grad_tol=0.0, **kwargs), model.weight, model.bias


def _gradient_norm(x, y, weight, bias, l2):
    _, dweight, dbias = cost_and_grads(x, y, weight.detach(), bias.detach(), l2=l2)
    return float(torch.cat([dweight.reshape(-1), dbias]).norm())


@pytest.mark.parametrize("layout_bytes", [1 << 30, 0], ids=["in_cache", "blocked"])
def test_newton_with_a_sampled_hessian_reaches_the_exact_optimum(monkeypatch, layout_bytes):
    import torch_logreg.training.optim as optim

    monkeypatch.setattr(optim, "SMALL_NEWTON_BYTES", layout_bytes)
    x, y = _tall_problem()
    exact, exact_weight, exact_bias = _newton(6, l2=0.5)
    sampled, weight, bias = _newton(6, l2=0.5, hessian_rows=300, seed=11)
    for _ in range(15):
        exact_cost = exact.step_on(x, y)
        sampled_cost = sampled.step_on(x, y)

    # Newton stops once the predicted decrease is below rounding (~1e-15 of J): with a
    # sampled H, which converges linearly, that leaves a gradient of ~1e-8, not ~1e-15.
    assert sampled_cost == pytest.approx(exact_cost, abs=1e-15)
    assert _gradient_norm(x, y, weight, bias, 0.5) < 1e-7
    torch.testing.assert_close(weight, exact_weight, atol=1e-7, rtol=0)
    torch.testing.assert_close(bias, exact_bias, atol=1e-7, rtol=0)
    assert sampled.state_dict()["param_groups"][0]["hessian_rows"] == 300  # never needed every row


@pytest.mark.parametrize("layout_bytes", [1 << 30, 0], ids=["in_cache", "blocked"])
def test_newtons_first_sampled_step_solves_with_the_hessian_of_the_sampled_rows(monkeypatch, layout_bytes):
    import torch_logreg.training.optim as optim
    from torch_logreg.nn.functional import hessian

    monkeypatch.setattr(optim, "SMALL_NEWTON_BYTES", layout_bytes)
    x, y = _tall_problem()
    newton, weight, bias = _newton(6, l2=0.5, hessian_rows=200, seed=4)
    newton.step_on(x, y)

    rows = newton._sample_rows(len(x), x.device)
    assert len(rows) == 200 and len(set(rows.tolist())) == 200
    zero_w, zero_b = torch.zeros(1, 6, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    _, dweight, dbias = cost_and_grads(x, y, zero_w, zero_b, l2=0.5)
    expected = -torch.linalg.solve(
        hessian(x[rows], zero_w, zero_b, l2=0.5 * 200 / len(x)), torch.cat([dweight.reshape(-1), dbias])
    )
    torch.testing.assert_close(
        torch.cat([weight.detach().reshape(-1), bias.detach()]), expected, atol=1e-12, rtol=0
    )
    # and it is not the exact step: the test would pass for the wrong reason otherwise
    exact, exact_weight, _ = _newton(6, l2=0.5)
    exact.step_on(x, y)
    assert (exact_weight - weight).abs().max() > 1e-4


def test_newton_uses_every_row_once_the_sample_misjudges_the_curvature(caplog):
    # A feature that is zero in every sampled row: the sample sees no curvature along it,
    # so the first step along it is far too long and the line search has to shorten it.
    x, y = _tall_problem(m=2000, n=4)
    probe, _, _ = _newton(4, hessian_rows=100, seed=2)
    rows = probe._sample_rows(len(x), x.device)
    rare = torch.zeros(len(x), dtype=torch.float64)
    rare[::7] = 2.0
    rare[rows] = 0.0
    x = torch.cat([x, rare.unsqueeze(1)], 1)
    y[::7] = 1.0

    newton, weight, bias = _newton(5, l2=1e-3, hessian_rows=100, seed=2)
    with caplog.at_level("INFO", logger="torch_logreg.training.newton"):
        for _ in range(40):
            newton.step_on(x, y)

    assert "using all rows from now on" in caplog.text
    assert newton.state_dict()["param_groups"][0]["hessian_rows"] == 0  # kept for a resumed run
    assert _gradient_norm(x, y, weight, bias, 1e-3) < 1e-7


@pytest.mark.parametrize("stop_at", [3, 6], ids=["still_sampling", "after_the_switch_to_every_row"])
def test_newton_with_sampled_hessian_resumes_to_the_same_weights(tmp_path, stop_at):
    # On the default data a 120-row sample steers well for 4 steps, then asks for a short
    # step and hands over to every row; a resumed run must pick up that switch.
    common = [
        "optimizer.name=newton",
        "optimizer.hessian_rows=120",
        "model.l2=1.0",
        "train.device=cpu",
        "train.dtype=float64",
        "train.log_every=1",
        "train.checkpoint_every=0",
    ]
    whole = train(config(*common, "train.iterations=14"), tmp_path / "whole")
    train(config(*common, f"train.iterations={stop_at}"), tmp_path / "part")
    saved = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    assert saved["optimizer"]["param_groups"][0]["hessian_rows"] == (120 if stop_at < 5 else 0)
    resumed_config = config_from_dict(saved["config"])
    apply_overrides(resumed_config, ["train.iterations=14"])
    resumed = train(resumed_config, tmp_path / "part", resume=True)

    assert torch.equal(resumed.model.weight, whole.model.weight) and torch.equal(
        resumed.model.bias, whole.model.bias
    )
    assert resumed.history == whole.history
    split = breast_cancer()
    x, y = split.x_train.double(), split.y_train.double()
    assert _gradient_norm(x, y, whole.model.weight, whole.model.bias, 1.0) < 1e-8
