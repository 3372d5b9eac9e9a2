"""Runs that tell the truth: convergence by the gradient, and one warning line for each doubt."""

import json
import logging

import numpy as np
import pytest
import torch
from reliability_helpers import run_main

from torch_logreg import ConvergenceWarning, TorchLogregWarning
from torch_logreg.data import load_breast_cancer
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

CPU = ["train.print_cost=false", "train.device=cpu"]


def config(*overrides):
    return load_config(None, [*CPU, *overrides])


def write_csv(path, x, y, names=None):
    names = names or [f"x{j + 1}" for j in range(x.shape[1])]
    rows = "".join(
        ",".join(f"{v!r}" for v in row) + f",{int(label)}\n" for row, label in zip(x.tolist(), y.tolist())
    )
    path.write_text(",".join(names) + ",y\n" + rows)
    return path


def raw_columns(tmp_path, columns):
    x, y, names = load_breast_cancer()
    return write_csv(tmp_path / "raw.csv", x[:, columns].numpy(), y.numpy(), [names[j] for j in columns])


# ---------------------------------------------------------------- convergence


def test_lbfgs_on_badly_scaled_raw_features_reaches_the_optimum_and_says_how_far_it_got(tmp_path):
    # torch's default tolerance_change=1e-9 left this fit 0.008 above its optimum.
    path = raw_columns(tmp_path, list(range(10)))
    result = train(
        config(
            f"data.path={path}",
            "data.standardize=false",
            "optimizer.name=lbfgs",
            "optimizer.lr=1",
            "train.dtype=float64",
            "train.iterations=400",
        ),
        save=False,
    )
    import statsmodels.api as sm

    from torch_logreg.data import load_split

    split = load_split(config(f"data.path={path}", "data.standardize=false").data, 0)
    reference = sm.Logit(split.y_train.numpy(), sm.add_constant(split.x_train.numpy()))
    best = -reference.fit(disp=0, method="newton", tol=1e-14, maxiter=200, warn_convergence=False).llf / len(
        split.y_train
    )
    # What the library promises on any machine (BLAS, threads and versions change the last bits of
    # every line search): it reaches the optimum, or it says that it did not and how far it got.
    weight, bias = (p.detach().double().numpy().ravel() for p in result.model.parameters())
    gradient = -reference.score(np.concatenate([bias, weight])) / len(split.y_train)
    largest = float(np.abs(gradient).max())
    if result.metrics["converged"]:
        assert result.metrics["train_cost"] == pytest.approx(best, rel=1e-12)
        assert largest <= 1e-6
    else:
        said = [line for line in result.metrics["warnings"] if "largest gradient entry is" in line]
        assert len(said) == 1 and "standardize" in said[0]
        reported = float(said[0].split("largest gradient entry is ")[1].split(",")[0])
        assert reported == pytest.approx(largest, rel=0.05)  # the distance it names is the true one
        assert (
            best <= result.metrics["train_cost"] <= best + largest * 1e4
        )  # near the optimum, never below it
    # On raw areas in the thousands the last bits of gradient are below float64's resolution of the cost:
    # the run stops early and says so, instead of spinning through the remaining iterations.
    assert result.metrics["iterations"] <= 400


def test_newton_converges_to_full_float64_precision_and_stops(tmp_path):
    result = train(
        config("optimizer.name=newton", "model.l2=1.0", "train.dtype=float64", "train.iterations=100"),
        save=False,
    )
    assert result.metrics["converged"] and result.metrics["iterations"] <= 12
    # a refined optimum: many more exact Newton steps from the result
    from torch_logreg.data import breast_cancer
    from torch_logreg.training.optim import Newton

    refined = result.model
    coefficients = torch.cat([refined.weight.detach().reshape(-1), refined.bias.detach()]).clone()
    newton = Newton(refined, grad_tol=0.0)
    split = breast_cancer()
    for _ in range(5):
        newton.step_on(split.x_train, split.y_train)
    best = torch.cat([refined.weight.detach().reshape(-1), refined.bias.detach()])
    assert ((coefficients - best).abs().max() / best.abs().max()).item() < 1e-10


def test_newton_that_runs_out_of_iterations_warns_with_the_gradient_and_what_to_try(tmp_path):
    with pytest.warns(ConvergenceWarning) as said:
        result = train(
            config("optimizer.name=newton", "train.iterations=2", "train.dtype=float64"), tmp_path / "r"
        )
    lines = [str(w.message) for w in said if issubclass(w.category, TorchLogregWarning)]
    assert len(lines) == 1 and "newton did not converge in 2 iterations" in lines[0]
    assert "standardize" in lines[0] and "train.iterations" in lines[0] and "model.l2" in lines[0]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["converged"] is False and metrics["grad_norm"] > 1e-8
    assert metrics["warnings"] == lines
    assert result.metrics == metrics


def test_gd_runs_the_iterations_asked_for_and_reports_convergence_quietly():
    result = train(config("train.iterations=300"), save=False)
    assert result.metrics["iterations"] == 300 and result.metrics["converged"] is False
    assert result.metrics["warnings"] == []


def test_gd_warns_when_a_tol_it_was_given_is_not_reached():
    result = train(config("train.iterations=200", "train.tol=1e-9"), save=False)
    assert [w for w in result.metrics["warnings"] if "train.tol=1e-09" in w]
    assert result.metrics["converged"] is False


# ---------------------------------------------------------------- the warnings


def test_a_climbing_cost_warns_that_the_learning_rate_may_be_too_large(tmp_path):
    path = raw_columns(tmp_path, [3])  # 'mean area', raw: values in the hundreds
    result = train(
        config(f"data.path={path}", "data.standardize=false", "optimizer.lr=0.5", "train.iterations=300"),
        save=False,
    )
    rising = [w for w in result.metrics["warnings"] if "the cost rose" in w]
    assert (
        len(rising) == 1
        and "the learning rate may be too large" in rising[0]
        and "optimizer.lr=0.5" in rising[0]
    )


def separable(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    return write_csv(tmp_path / "separable.csv", x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int))


@pytest.mark.parametrize("optimizer", ["newton", "lbfgs"])
def test_separable_data_warn_that_the_optimum_is_at_infinity(tmp_path, optimizer):
    result = train(
        config(
            f"data.path={separable(tmp_path)}",
            f"optimizer.name={optimizer}",
            "train.dtype=float64",
            "train.iterations=200",
        ),
        save=False,
    )
    lines = [w for w in result.metrics["warnings"] if "separable" in w]
    assert len(lines) == 1 and "infinity" in lines[0] and "model.l2" in lines[0]


def test_separable_data_with_l2_do_not_warn(tmp_path):
    result = train(
        config(
            f"data.path={separable(tmp_path)}", "optimizer.name=newton", "model.l2=1.0", "train.dtype=float64"
        ),
        save=False,
    )
    assert not [w for w in result.metrics["warnings"] if "separable" in w]


def test_a_gd_run_that_stops_short_of_separating_says_nothing_about_it(tmp_path):
    result = train(
        config(f"data.path={separable(tmp_path)}", "train.iterations=1", "optimizer.lr=0.01"), save=False
    )
    assert not [w for w in result.metrics["warnings"] if "separable" in w]


def test_duplicated_and_nearly_constant_columns_are_named(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 3))
    rare = np.zeros(120)
    rare[7] = 1.0
    x = np.column_stack([x, x[:, 1], rare, np.full(120, 2.0)])
    y = (x[:, 0] + rng.normal(size=120) > 0).astype(int)
    names = ["a", "b", "c", "b_again", "rare", "constant"]
    path = write_csv(tmp_path / "design.csv", x, y, names)
    test = write_csv(tmp_path / "test.csv", x[:20], y[:20], names)  # a test file: every row above trains
    result = train(
        config(f"data.path={path}", f"data.test_path={test}", "optimizer.name=newton", "train.dtype=float64"),
        save=False,
    )
    text = "\n".join(result.metrics["warnings"])
    assert "'b' = 'b_again'" in text and "singular" in text
    assert "column 'rare' is constant but for one training row" in text
    assert "column 'constant' is constant" in text and "its weight stays 0" in text
    assert len(result.metrics["warnings"]) == 3  # one line per kind


# ---------------------------------------------------------------- the Python API


def test_print_cost_prints_from_the_python_api_without_touching_the_root_logger(capsys):
    root = logging.getLogger()
    handlers = root.handlers[:]
    root.handlers.clear()  # as in a plain script (pytest's own handlers put aside)
    try:
        train(load_config(None, ["train.iterations=200", "train.device=cpu"]), save=False)
    finally:
        root.handlers[:] = handlers
    out = capsys.readouterr().out
    assert "Cost after iteration 0: 0.693147" in out and "Cost after iteration 200:" in out
    assert not logging.getLogger("torch_logreg").handlers  # removed after the call


def test_python_callers_are_told_of_resume_and_overwrite_as_arguments(tmp_path):
    from torch_logreg.errors import UserInputError

    train(config("train.iterations=1"), tmp_path / "run")
    with pytest.raises(UserInputError, match="overwrite=True") as raised:
        train(config("train.iterations=1"), tmp_path / "run")
    assert "--overwrite" not in str(raised.value)


def test_the_console_ends_with_the_metrics_beside_accuracy(tmp_path, capsys):
    outcome = run_main(capsys, *CPU[1:], "train.iterations=50", "--run-dir", tmp_path / "run")
    assert outcome.status == 0
    lines = outcome.out.splitlines()
    assert any(line.startswith("test accuracy:") and "auc" in line and "f1" in line for line in lines)


def test_warnings_go_to_stderr_as_one_line_each_and_stdout_keeps_the_progress(tmp_path, capsys):
    outcome = run_main(
        capsys,
        "optimizer.name=newton",
        "train.iterations=2",
        "train.dtype=float64",
        "train.device=cpu",
        "train.log_every=1",
        "--run-dir",
        tmp_path / "run",
    )
    assert outcome.status == 0, outcome.err
    said = [line for line in outcome.err.splitlines() if line.startswith("warning: ")]
    assert len(said) == 1 and "newton did not converge in 2 iterations" in said[0]
    assert "Warning" not in outcome.err and "did not converge" not in outcome.out  # no Python source line
    assert "cost after iteration 1" in outcome.out.lower() or "iteration 1" in outcome.out


def test_wide_separable_data_get_the_separation_warning_whatever_the_shape():
    """10,000 features, 40 rows: gd in float32 drives the cost to underflow in a few steps; the rows are
    separated all the same, and the run says so instead of claiming a clean optimum."""
    from torch_logreg import SeparationWarning
    from torch_logreg.data.split import make_split

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(40, 10_000)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 2, size=40))
    split = make_split(x[:30], y[:30], x[30:], y[30:], [f"x{j}" for j in range(10_000)], standardize=False)
    with pytest.warns(SeparationWarning, match="separable"):
        result = train(
            config("optimizer.name=gd", "optimizer.lr=0.5", "train.iterations=200"), data=split, save=False
        )
    assert any("separable" in line for line in result.metrics["warnings"])


@pytest.mark.parametrize(
    "name, advice, not_said",
    [
        ("newton", "takes no learning rate", "optimizer.lr"),
        ("gd", "try a smaller optimizer.lr", "takes no learning rate"),
    ],
)
def test_a_divergence_gives_advice_that_fits_its_optimizer(name, advice, not_said):
    """Data of 1e300 overflow every optimizer; only those with a learning rate are told to lower it."""
    from torch_logreg.data.split import make_split
    from torch_logreg.errors import TrainingDiverged

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(60, 2)) * 1e300)
    y = torch.tensor((rng.normal(size=60) > 0).astype(int))
    split = make_split(x[:40], y[:40], x[40:], y[40:], ["a", "b"], standardize=False)
    with pytest.raises(TrainingDiverged) as raised:
        train(
            config(f"optimizer.name={name}", "train.dtype=float64", "train.iterations=50"),
            data=split,
            save=False,
        )
    assert advice in str(raised.value) and not_said not in str(raised.value)
    assert "standardize" in str(raised.value)


@pytest.mark.parametrize("dtype, eps", [("float32", 2.0**-23), ("float64", 2.0**-52)])
def test_a_rise_within_rounding_of_a_converged_cost_is_not_a_rise(dtype, eps):
    from torch_logreg.training.diagnostics import rising_cost_warning

    converged = 0.15499
    within = converged * (1 + 8 * eps)  # the same optimum, summed in another order
    assert rising_cost_warning([600, 700], [converged, within], 0.5, eps=eps) is None
    beyond = converged * (1 + 1e4 * eps)
    assert "the cost rose" in rising_cost_warning([600, 700], [converged, beyond], 0.5, eps=eps)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_run_at_convergence_gives_no_false_rising_cost_alarm(dtype):
    result = train(
        config("model.l2=1", f"train.dtype={dtype}", "train.iterations=3000", "optimizer.lr=1"), save=False
    )
    assert not any("the cost rose" in line for line in result.metrics["warnings"])


def test_a_run_that_stops_early_says_when_and_which_test_it_met(tmp_path, capsys):
    outcome = run_main(
        capsys,
        "optimizer.name=newton",
        "model.l2=1",
        "train.dtype=float64",
        "train.iterations=500",
        "train.device=cpu",
        "--run-dir",
        tmp_path / "run",
    )
    assert outcome.status == 0, outcome.err
    said = [line for line in outcome.out.splitlines() if line.startswith("stopped early")]
    assert len(said) == 1 and "of 500" in said[0] and "optimizer.grad_tol" in said[0]
    resumed = run_main(capsys, "--resume", tmp_path / "run", "train.iterations=600")
    assert resumed.status == 0, resumed.err
    iteration = json.loads((tmp_path / "run" / "metrics.json").read_text())["iterations"]
    assert resumed.out.splitlines()[0].startswith(f"resuming {tmp_path / 'run'} from iteration")
    assert iteration >= int(said[0].split()[4])


def test_constant_pixels_are_named_truly_under_per_channel_standardization_and_not_for_a_cnn():
    """The digits' blank border pixels stay constant (not zero) after per-channel standardization: the
    warning says they duplicate the bias. A CNN shares its weights over the pixels: no design warning."""
    import warnings as warnings_module

    from torch_logreg import DesignWarning
    from torch_logreg.training.config import load_config
    from torch_logreg.training.trainer import train

    softmax = load_config(None, ["data.name=digits", "train.iterations=1", "train.print_cost=false"])
    with pytest.warns(DesignWarning) as seen:
        train(softmax, save=False, report=False)
    constant = [str(w.message) for w in seen if "constant in the training rows" in str(w.message)]
    assert constant and "carries nothing the bias does not" in constant[0]
    assert not any("maps it to zeros" in str(w.message) for w in seen)

    cnn = load_config(
        None,
        [
            "data.name=digits",
            "model.name=cnn",
            "model.channels=[2]",
            "model.hidden=[4]",
            "train.iterations=1",
            "train.print_cost=false",
        ],
    )
    with warnings_module.catch_warnings():
        warnings_module.simplefilter("error", DesignWarning)
        train(cnn, save=False, report=False)
