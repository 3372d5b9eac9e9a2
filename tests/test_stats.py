"""torch_logreg.stats.summary against statsmodels' Logit and MNLogit (a test-only reference)."""

import csv
import io
import logging
import re

import numpy as np
import pytest
import statsmodels.api as sm
import torch

from torch_logreg import MLP, LogisticRegression, load_config, load_model, train
from torch_logreg.data import Standardizer, make_split
from torch_logreg.stats import (
    NORMAL_QUANTILE_975,
    PerfectSeparationError,
    SingularHessianError,
    Summary,
    summary,
)

FIELDS = ("coef", "std_err", "z", "p_value", "ci_low", "ci_high")
RTOL = 1e-6


def make_data(m=400, k=2, seed=0, scale=(1.0, 3.0, 0.5), shift=(2.0, -1.0, 0.0), strength=1.0):
    """Raw features on different scales and offsets, labels drawn from a logistic (softmax) model."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, len(scale))) * scale + shift
    weights = strength * rng.normal(size=(k, len(scale)))
    logits = x @ weights.T + rng.normal(size=k)
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in proba], dtype=np.float64)
    return x, y


def fit(x, y, k, *, standardize, l2=0.0, sample_weight=None, **extra):
    """Our fit: newton in float64 on the exact Hessian -> (TrainResult, Split).

    hessian_rows=0: "auto" samples rows of tall data, and a sampled Hessian's last step lands only
    ~1e-7 from the optimum."""
    names = [f"f{j}" for j in range(x.shape[1])]
    tx, ty = torch.tensor(x), torch.tensor(y)
    split = make_split(tx, ty, tx, ty, names, standardize, classes=list(range(k)))
    config = load_config(
        None,
        [
            "optimizer.name=newton",
            "optimizer.hessian_rows=0",
            "train.dtype=float64",
            "train.print_cost=false",
            "train.iterations=100",
            f"model.l2={l2}",
            *[f"{key}={value}" for key, value in extra.items()],
        ],
    )
    return train(config, data=split, save=False, sample_weight=sample_weight), split


def their_fields(result):
    """statsmodels' params, bse, tvalues, pvalues and 95% interval, flattened equation by equation."""
    flat = lambda a: np.asarray(a).reshape(-1, order="F")  # noqa: E731  (n+1, K−1) -> equation-major
    ci = np.asarray(result.conf_int())
    if ci.ndim == 3:  # MNLogit: (K−1, n+1, 2)
        low, high = ci[..., 0].reshape(-1), ci[..., 1].reshape(-1)
    else:
        low, high = ci[:, 0], ci[:, 1]
    return dict(
        coef=flat(result.params),
        std_err=flat(result.bse),
        z=flat(result.tvalues),
        p_value=flat(result.pvalues),
        ci_low=low,
        ci_high=high,
    )


def max_relative(ours: Summary, theirs: dict) -> dict:
    return {name: float(np.max(np.abs(getattr(ours, name) / theirs[name] - 1))) for name in FIELDS}


@pytest.fixture(scope="module")
def binary():
    x, y = make_data(k=2)
    result, split = fit(x, y, 2, standardize=True)
    return x, y, result, split


@pytest.fixture(scope="module")
def multinomial():
    x, y = make_data(k=3, seed=1)
    result, split = fit(x, y, 3, standardize=True)
    return x, y, result, split


# ------------------------------------------------------------------ against statsmodels


@pytest.mark.parametrize("standardize", [False, True])
def test_binary_table_matches_statsmodels_logit_to_1e_6(standardize):
    x, y = make_data(k=2)
    result, split = fit(x, y, 2, standardize=standardize)
    ours = summary(result.model, x, y, standardizer=split.standardizer, converged=True)
    theirs = sm.Logit(y, sm.add_constant(x)).fit(disp=0)

    assert max(max_relative(ours, their_fields(theirs)).values()) < RTOL
    assert list(ours.names) == ["const", "x1", "x2", "x3"]
    assert ours.nobs == theirs.nobs == 400
    assert ours.log_likelihood == pytest.approx(theirs.llf, rel=RTOL)
    assert ours.ll_null == pytest.approx(theirs.llnull, rel=RTOL)
    assert ours.pseudo_r2 == pytest.approx(theirs.prsquared, rel=RTOL)
    np.testing.assert_allclose(ours.cov, theirs.cov_params(), rtol=RTOL)


def test_multinomial_table_matches_statsmodels_mnlogit_in_its_parameterization(multinomial):
    x, y, result, split = multinomial
    ours = summary(result.model, x, y, standardizer=split.standardizer)
    theirs = sm.MNLogit(y, sm.add_constant(x)).fit(disp=0)

    assert max(max_relative(ours, their_fields(theirs)).values()) < RTOL
    assert list(ours.equation) == [1] * 4 + [2] * 4  # K − 1 equations against class 0
    assert ours.log_likelihood == pytest.approx(theirs.llf, rel=RTOL)
    assert ours.pseudo_r2 == pytest.approx(theirs.prsquared, rel=RTOL)


def test_tiny_p_values_match_statsmodels_instead_of_rounding_to_zero():
    # A strong signal on many rows: |z| up to ~20, where 1 − Φ(|z|) (and torch's ndtr(−|z|)) gives 0.
    x, y = make_data(m=3000, k=2, seed=3, scale=(1.0, 1.0, 1.0), shift=(0.0, 0.0, 0.0), strength=2.0)
    result, split = fit(x, y, 2, standardize=False)
    ours = summary(result.model, x, y)
    theirs = sm.Logit(y, sm.add_constant(x)).fit(disp=0)

    assert np.abs(ours.z).max() > 15 and ours.p_value.min() < 1e-50
    np.testing.assert_allclose(ours.p_value, theirs.pvalues, rtol=RTOL)


def test_interval_is_coef_plus_minus_the_normal_quantile_times_the_standard_error(binary):
    x, y, result, split = binary
    table = summary(result.model, x, y, standardizer=split.standardizer)
    np.testing.assert_allclose(table.ci_high - table.coef, NORMAL_QUANTILE_975 * table.std_err, rtol=1e-12)
    np.testing.assert_allclose(table.z, table.coef / table.std_err, rtol=1e-12)


# ------------------------------------------------------------------ options


def test_standardizer_gives_raw_units_with_exactly_mapped_covariance(binary):
    x, y, result, split = binary
    raw = summary(result.model, x, y, standardizer=split.standardizer)
    fitted_units = summary(result.model, split.x_train, y)  # the model's own (standardized) units
    mean, std = split.standardizer.mean.numpy(), split.standardizer.std.numpy()

    np.testing.assert_allclose(raw.coef[1:], fitted_units.coef[1:] / std, rtol=1e-12)
    np.testing.assert_allclose(
        raw.coef[0], fitted_units.coef[0] - np.sum(fitted_units.coef[1:] * mean / std), rtol=1e-12
    )
    # A linear map leaves z and p of each slope unchanged; the intercept's change (it is another quantity).
    np.testing.assert_allclose(raw.z[1:], fitted_units.z[1:], rtol=1e-10)
    assert raw.standardized and "raw feature units" in str(raw)
    assert not fitted_units.standardized and "raw feature units" not in str(fitted_units)


def test_penalized_table_inverts_the_penalized_hessian_and_says_so():
    x, y = make_data(k=2, seed=4)
    result, split = fit(x, y, 2, standardize=False, l2=5.0)
    table = summary(result.model, x, y)
    # By hand: H = X̃ᵀ diag(a(1 − a)) X̃ + l2·I on the weights, in statsmodels' order [const, x].
    x_tilde = np.column_stack([np.ones(len(x)), x])
    theta = np.concatenate([result.model.bias.detach().numpy(), result.model.weight.detach().numpy()[0]])
    a = 1 / (1 + np.exp(-x_tilde @ theta))
    hessian = (x_tilde * (a * (1 - a))[:, None]).T @ x_tilde + 5.0 * np.diag([0.0, 1.0, 1.0, 1.0])

    np.testing.assert_allclose(table.std_err, np.sqrt(np.diag(np.linalg.inv(hessian))), rtol=1e-10)
    assert "penalized fit (l2=5)" in str(table) and table.l2 == 5.0


def test_penalized_multinomial_table_is_the_difference_map_of_the_penalized_softmax_covariance():
    x, y = make_data(k=3, seed=5)
    result, _ = fit(x, y, 3, standardize=False, l2=2.0)
    table = summary(result.model, x, y)
    # θ's covariance on the complement of the bias shift, by hand with numpy, then β_k = θ_k − θ_0.
    model = result.model
    hessian = model.hessian(torch.tensor(x)).numpy() * len(x)
    null = model.null_directions().numpy()
    basis = np.linalg.svd(np.eye(len(hessian)) - null @ null.T)[0][:, : len(hessian) - null.shape[1]]
    cov_theta = basis @ np.linalg.inv(basis.T @ hessian @ basis) @ basis.T
    n, k = 3, 3
    difference = np.zeros(((k - 1) * (n + 1), k * (n + 1)))
    for e in (1, 2):
        top = (e - 1) * (n + 1)
        difference[top, k * n + e], difference[top, k * n] = 1, -1
        for j in range(n):
            difference[top + 1 + j, e * n + j], difference[top + 1 + j, j] = 1, -1

    np.testing.assert_allclose(table.cov, difference @ cov_theta @ difference.T, rtol=1e-9, atol=1e-14)


def test_sample_weight_two_is_a_repeated_row(binary):
    x, y, result, split = binary
    weights = np.ones(len(x))
    weights[:10] = 2.0
    repeated = summary(
        result.model, np.vstack([x, x[:10]]), np.concatenate([y, y[:10]]), standardizer=split.standardizer
    )
    weighted = summary(result.model, x, y, standardizer=split.standardizer, sample_weight=weights)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-10)
    assert weighted.log_likelihood == pytest.approx(repeated.log_likelihood, rel=1e-12)


def test_load_model_brings_its_standardizer_names_and_classes(tmp_path, binary):
    x, y, result, split = binary
    from torch_logreg import save_model

    save_model(
        result.model,
        tmp_path / "model.pt",
        standardizer=split.standardizer,
        classes=["no", "yes"],
        feature_names=["a", "b", "c"],
    )
    loaded = summary(load_model(tmp_path / "model.pt"), x, y)
    direct = summary(result.model, x, y, standardizer=split.standardizer)
    np.testing.assert_allclose(loaded.std_err, direct.std_err, rtol=1e-12)
    assert list(loaded.names) == ["const", "a", "b", "c"] and list(loaded.equation) == ["yes"] * 4


# ------------------------------------------------------------------ refusals


def test_separable_data_are_refused_as_statsmodels_does():
    x = np.array([[-2.0], [-1.0], [-0.5], [0.5], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    model = LogisticRegression(1).double()
    with torch.no_grad():
        model.weight.fill_(8.0)  # where a run on separable data heads: every row right, weights growing
    with pytest.raises(PerfectSeparationError, match="perfectly separated.*model.l2 > 0"):
        summary(model, x, y)
    model.l2 = 1.0  # penalized: a finite optimum, so a table
    assert np.isfinite(summary(model, x, y).std_err).all()


def test_duplicated_column_is_a_singular_hessian():
    x, y = make_data(k=2, seed=6)
    x = np.column_stack([x, x[:, 0]])
    model = LogisticRegression(4).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.1, -0.1, 0.2, 0.1]]))
    with pytest.raises(SingularHessianError, match="not determined by the data"):
        summary(model, x, y)


def test_a_network_has_no_table():
    with pytest.raises(TypeError, match="closed-form Hessian"):
        summary(MLP(3), np.zeros((4, 3)), np.array([0.0, 1.0, 0.0, 1.0]))


# ------------------------------------------------------------------ output


def test_text_table_reports_observations_log_likelihood_pseudo_r2_and_convergence(multinomial):
    x, y, result, split = multinomial
    text = str(
        summary(result.model, x, y, standardizer=split.standardizer, converged=True, classes=["a", "b", "c"])
    )
    table = summary(result.model, x, y, standardizer=split.standardizer)
    for expected in (
        "Observations:",
        "400",
        "Log-likelihood:",
        f"{table.log_likelihood:.6g}",
        "Pseudo R² (McFadden):",
        f"{table.pseudo_r2:.4f}",
        "Converged:",
        "yes",
        "y = b (vs a)",
        "y = c (vs a)",
        "P>|z|",
        "[0.025",
        "0.975]",
    ):
        assert expected in text
    assert "not stated" in str(table)  # converged not given


def test_csv_holds_every_field_at_full_precision_and_markdown_one_row_per_coefficient(tmp_path, binary):
    x, y, result, split = binary
    table = summary(result.model, x, y, standardizer=split.standardizer)
    table.to_csv(tmp_path / "summary.csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "summary.csv").read_text())))
    assert [row["name"] for row in rows] == ["const", "x1", "x2", "x3"]
    for name in FIELDS:
        assert [float(row[name]) for row in rows] == getattr(table, name).tolist()
    markdown = table.to_markdown()
    assert sum(line.startswith("| 1 | ") for line in markdown.splitlines()) == 4
    assert "P>\\|z\\|" in markdown  # a bare | would split the cell


def test_train_summary_logs_the_table_and_writes_summary_csv_and_tensorboard_text(tmp_path, caplog):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = load_config(
        None,
        [
            "optimizer.name=newton",
            "train.dtype=float64",
            "train.summary=true",
            "model.l2=1",
            "train.iterations=30",
            "train.print_cost=false",
        ],
    )
    with caplog.at_level(logging.INFO, logger="torch_logreg"):
        result = train(config, run_dir=tmp_path / "run")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "run" / "summary.csv").read_text())))
    assert len(rows) == 31 and rows[0]["name"] == "const" and rows[1]["name"] == "mean_radius"
    assert "Logistic regression results" in caplog.text and "penalized fit (l2=1)" in caplog.text
    assert "raw feature units" in caplog.text
    events = EventAccumulator(str(tmp_path / "run"), size_guidance={"tensors": 0}).Reload()
    assert "summary/text_summary" in events.Tags()["tensors"]
    assert result.metrics["converged"]


def test_train_summary_on_separable_data_warns_instead_of_failing_the_run():
    from torch_logreg import TorchLogregWarning

    config = load_config(
        None,
        [
            "data.name=synthetic",
            "data.noise=0",
            "optimizer.name=newton",
            "train.dtype=float64",
            "train.summary=true",
            "train.iterations=20",
            "train.print_cost=false",
        ],
    )
    with pytest.warns(TorchLogregWarning) as caught:
        train(config, save=False)
    text = "\n".join(str(w.message) for w in caught)
    assert "no coefficient table" in text and "perfectly separated" in text


def test_train_summary_with_a_network_is_one_warning_at_the_start_and_no_table(tmp_path):
    from torch_logreg import IgnoredKeyWarning, TorchLogregWarning

    config = load_config(
        None, ["model.name=mlp", "train.summary=true", "train.iterations=5", "train.print_cost=false"]
    )
    with pytest.warns(IgnoredKeyWarning) as caught:
        result = train(config, run_dir=tmp_path / "run")
    said = "train.summary=true is ignored: model.name=mlp does not use it (used by logistic)"
    warnings = [str(w.message) for w in caught if issubclass(w.category, TorchLogregWarning)]
    assert warnings == [said] and result.metrics["warnings"] == [said]
    assert not (tmp_path / "run" / "summary.csv").exists()


def test_summary_runs_on_the_device_of_the_model(device, binary):
    x, y, result, split = binary
    model = result.model.to(device)
    standardizer = Standardizer(split.standardizer.mean.to(device), split.standardizer.std.to(device))
    there = summary(
        model, torch.tensor(x, device=device), torch.tensor(y, device=device), standardizer=standardizer
    )
    here = summary(result.model.cpu(), x, y, standardizer=split.standardizer)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(there, name), getattr(here, name), rtol=1e-9)


@pytest.mark.parametrize("path", ["in-memory CSV", ".npy", "streamed .npy"])
def test_train_summary_on_every_data_path_gives_a_table_or_says_why_not_at_the_start(tmp_path, path):
    """summary × every way data reaches the trainer: a table, streamed rows included (read once more, raw)."""
    import numpy as np

    from torch_logreg.data import load_breast_cancer

    x, y, names = load_breast_cancer()
    if path == "in-memory CSV":
        data = tmp_path / "rows.csv"
        data.write_text(
            ",".join(names)
            + ",y\n"
            + "".join(
                ",".join(map(repr, row)) + f",{int(label)}\n" for row, label in zip(x.tolist(), y.tolist())
            )
        )
        extra = ["data.target=y"]
    else:
        data = tmp_path / "rows.npy"
        np.save(data, np.column_stack([x.numpy(), y.numpy()]))
        extra = ["data.stream=true"] if path == "streamed .npy" else []
    config = load_config(
        None,
        [
            f"data.path={data}",
            *extra,
            "optimizer.name=newton",
            "train.dtype=float64",
            "model.l2=1",
            "train.iterations=30",
            "train.summary=true",
            "train.print_cost=false",
            "train.device=cpu",
        ],
    )
    train(config, run_dir=tmp_path / "run")  # streamed rows are read once more, raw, when they fit in memory
    rows = (tmp_path / "run" / "summary.csv").read_text().splitlines()
    assert len(rows) == 32  # header, const and 30 features


def _fitted_on_breast_cancer(columns=4):
    from torch_logreg.data import load_breast_cancer
    from torch_logreg.data.split import make_split

    x, y, names = load_breast_cancer()
    x = x[:, :columns].clone()
    return x, y, names[:columns], make_split


def test_an_exact_linear_dependency_is_warned_in_training_and_refused_by_summary():
    """A column equal to minus another, l2 = 0: statsmodels refuses the singular design; so do we, and the
    training run says so instead of printing standard errors near 1e7 with p = 1."""
    from torch_logreg import DesignWarning
    from torch_logreg.stats import SingularHessianError, summary

    x, y, names, make_split = _fitted_on_breast_cancer()
    x = torch.cat([x, -x[:, :1]], 1)
    split = make_split(x[:400], y[:400], x[400:], y[400:], [*names, "minus_first"], standardize=True)
    config = load_config(
        None,
        [
            "optimizer.name=newton",
            "train.dtype=float64",
            "train.print_cost=false",
            "train.device=cpu",
            "train.iterations=50",
        ],
    )
    with pytest.warns(DesignWarning, match="linearly dependent"):
        result = train(config, data=split, save=False)
    with pytest.raises(SingularHessianError):
        summary(result.model, split.x_train, split.y_train)


@pytest.mark.parametrize(
    "labels, weights, said",
    [
        ("minus one", None, "{-1, 1}"),
        ("half", None, "holds 0.5"),
        (None, "negative", "sample_weight must be"),
    ],
)
def test_summary_validates_labels_and_weights_as_fit_does(labels, weights, said):
    from torch_logreg.stats import summary

    x, y, names, make_split = _fitted_on_breast_cancer()
    split = make_split(x, y, x[:0], y[:0], names, standardize=True)
    config = load_config(
        None,
        [
            "optimizer.name=newton",
            "train.dtype=float64",
            "model.l2=1",
            "train.print_cost=false",
            "train.device=cpu",
            "train.iterations=30",
        ],
    )
    result = train(config, data=split, save=False)
    y_given = split.y_train.clone().double()
    if labels == "minus one":
        y_given = 2 * y_given - 1
    elif labels == "half":
        y_given[3] = 0.5
    w = None
    if weights == "negative":
        w = torch.ones(len(y_given), dtype=torch.float64)
        w[5] = -1
    with pytest.raises(ValueError, match=re.escape(said)):
        summary(result.model, split.x_train, y_given, sample_weight=w)


def test_wide_separable_data_warn_and_do_not_claim_convergence():
    """10,000 features, 40 rows, l2 = 0, gd in float32: the rows are separated, so the run warns and says
    converged=false, although the cost underflows and the gradient with it."""
    from torch_logreg import SeparationWarning

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(60, 10_000)))
    y = torch.tensor((rng.random(60) > 0.5).astype(float))
    split = make_split(x[:40], y[:40], x[40:], y[40:], [f"x{j}" for j in range(10_000)], standardize=True)
    config = load_config(
        None,
        [
            "train.print_cost=false",
            "train.device=cpu",
            "train.dtype=float32",
            "optimizer.name=gd",
            "optimizer.lr=1",
            "train.iterations=2000",
        ],
    )
    with pytest.warns(SeparationWarning, match="model.l2"):
        result = train(config, data=split, save=False)
    assert result.metrics["separated"] is True and result.metrics["converged"] is False
