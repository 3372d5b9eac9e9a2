"""Coefficient statistics of a fitted logistic regression: standard errors, z, p-values, 95% intervals.

For the fitted parameters θ = [W (row-major), b] and the summed log-likelihood
ℓ(θ) = −Σᵢ sᵢ·lossᵢ(θ) (s = 1 without sample weights):

    H       = Σs · ∇²J(θ)  = −∇²ℓ(θ) + l2·I on W      (``model.hessian`` is of the mean cost J)
    Cov(θ)  = H⁻¹, on the identifiable subspace       (softmax: orthogonal to ``null_directions()``)
    β       = T θ,   Cov(β) = T Cov(θ) Tᵀ             (T linear, see below)
    se = √diag Cov(β),   z = β / se,   p = 2·Φ(−|z|) = erfc(|z|/√2),   95%: β ± 1.959963984540054·se

T puts θ in the order of statsmodels' ``Logit(y, add_constant(X))``: [const, x1..xn]
per equation.  Two classes: one equation, the single neuron.  K classes: K−1 equations,
class k's row minus class 0's (``MNLogit``'s parameterization: the softmax depends on
θ only through these differences, so with l2 = 0 this is exactly MNLogit's covariance).
With a ``standardizer`` (x_std = (x − μ)/σ) T also maps to raw units:
w_raw = w/σ, const_raw = b − Σ w·μ/σ.  Every step is linear, so Cov maps exactly.

The p-value is ``torch.special.erfc(|z|/√2)``, accurate to ~1e-14 relative however small:
1 − Φ(|z|) rounds to 0 past |z| ≈ 8, and ``torch.special.ndtr(-|z|)`` (torch 2.13) is
0.5·(1 + erf(−|z|/√2)) inside, which loses digits the same way (2% off at |z| = 8, 0 at 10).
No SciPy: the normal quantile is a constant.
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .data.standardizer import Standardizer
from .data.streaming import is_stream, raw_rows
from .errors import TorchLogregWarning, UserInputError
from .stats_table import summary_csv, summary_markdown, summary_text

logger = logging.getLogger(__name__)

NORMAL_QUANTILE_975 = 1.959963984540054  # Φ⁻¹(0.975): the 95% interval's half-width in standard errors


class PerfectSeparationError(UserInputError):
    """Every training row is classified correctly with l2 = 0: the maximum-likelihood estimate does not exist."""


class SingularHessianError(UserInputError):
    """The Hessian of the log-likelihood is singular: some coefficients are not determined by the data."""


@dataclass
class Summary:
    """The coefficient table: one entry per coefficient, intercept first in each equation.

    Arrays (Q,), Q = (n + 1) for 2 classes, (K − 1)·(n + 1) for K, equation by equation:
    ``names`` ("const", then the features), ``equation`` (the class each row's coefficient
    is for: the positive class for 2 classes, class k against ``classes[0]`` for K),
    ``coef``, ``std_err``, ``z``, ``p_value``, ``ci_low``, ``ci_high``; ``cov`` (Q, Q).
    """

    names: np.ndarray
    equation: np.ndarray
    coef: np.ndarray
    std_err: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    cov: np.ndarray
    nobs: int
    log_likelihood: float
    ll_null: float
    pseudo_r2: float  # McFadden's 1 − ℓ/ℓ_null, statsmodels' ``prsquared``
    classes: list
    converged: bool | None = None
    l2: float = 0.0
    standardized: bool = False
    weighted: bool = False
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return summary_text(self)

    def to_csv(self, path=None) -> str:
        """The table as CSV (equation, name, coef, std_err, z, p_value, ci_low, ci_high); also written to ``path``."""
        text = summary_csv(self)
        if path is not None:
            from .checkpoint import atomic_write_text  # local: only writing needs it

            atomic_write_text(path, text)
        return text

    def to_markdown(self) -> str:
        return summary_markdown(self)


@torch.no_grad()
def summary(
    model,
    x,
    y,
    *,
    standardizer: Standardizer | None = None,
    feature_names=None,
    sample_weight=None,
    converged: bool | None = None,
    classes: list | None = None,
) -> Summary:
    """The coefficient table of a fitted ``LogisticRegression``, as statsmodels' ``Logit`` / ``MNLogit`` give it.

    Args:
        model: a fitted ``LogisticRegression`` (or ``load_model``'s ``StandardizedModel`` around one,
            whose standardizer, feature names and classes are then used).
        x: (m, n) the features as the caller has them: raw when ``standardizer`` is given
            (the model sees ``standardizer.transform(x)``), else what the model was trained on.
        y: (m,) class indices 0..K−1 (0./1. for 2 classes).
        standardizer: the training standardization; the table is then in raw feature units.
        feature_names: n names (default x1..xn).
        sample_weight: (m,) the training rows' weights; the log-likelihood is Σ sᵢ·log pᵢ.
        converged: whether the fit converged, for the header (None: not stated).
        classes: the original labels (default 0..K−1), to name the equations.

    Raises ``PerfectSeparationError`` when l2 = 0 and every row is classified correctly
    (the optimum is at infinity, as statsmodels' PerfectSeparation), ``SingularHessianError``
    when the data do not determine every coefficient, and ``TypeError`` for a model
    without a closed-form Hessian over [W, b].
    """
    model, standardizer, feature_names, classes = _unwrapped(model, standardizer, feature_names, classes)
    fitted = copy.deepcopy(model).to(torch.float64)  # the statistics in float64 whatever the training dtype
    device = fitted.weight.device
    n, k = fitted.in_features, fitted.num_classes
    x, y, weights = _checked_rows(x, y, sample_weight, n, k, device)
    names = (
        [f"x{j + 1}" for j in range(n)] if feature_names is None else [str(name) for name in feature_names]
    )
    if len(names) != n:
        raise ValueError(f"feature_names must name the model's {n} features, got {len(names)}")
    classes = list(range(k)) if classes is None else list(classes)
    x_model = standardizer.transform(x) if standardizer is not None else x
    targets = fitted.loss.targets(y, torch.float64)
    total_weight = float(len(x)) if weights is None else float(weights.sum())

    if not fitted.l2:
        _refuse_separable(fitted, x_model, y, weights)
    hessian = fitted.hessian(x_model, sample_weight=weights) * total_weight  # (P, P), summed log-likelihood
    cov_theta = _inverse_on_identifiable(hessian, fitted.null_directions())
    transform = _coefficient_map(n, fitted.out_features, standardizer, device)  # (Q, P)
    theta = torch.cat([fitted.weight.reshape(-1), fitted.bias.reshape(-1)])
    coef = transform @ theta
    cov = transform @ cov_theta @ transform.T
    std_err = cov.diagonal().clamp_min(0).sqrt()
    z = coef / std_err
    p_value = torch.special.erfc(z.abs() / math.sqrt(2))  # 2·Φ(−|z|), see the module docstring

    log_likelihood = -float(fitted.loss.cost(fitted(x_model), targets, weights)) * total_weight
    ll_null = _null_log_likelihood(y.long(), weights, k, total_weight)
    equations = classes[1:]  # binary: the positive class; K: each class against classes[0]
    notes = _notes(
        fitted.l2, standardizer is not None, k, classes, None if weights is None else (len(x), total_weight)
    )

    return Summary(
        names=np.array(["const", *names] * len(equations), dtype=object),
        equation=np.array([label for label in equations for _ in range(n + 1)], dtype=object),
        coef=as_numpy(coef),
        std_err=as_numpy(std_err),
        z=as_numpy(z),
        p_value=as_numpy(p_value),
        ci_low=as_numpy(coef - NORMAL_QUANTILE_975 * std_err),
        ci_high=as_numpy(coef + NORMAL_QUANTILE_975 * std_err),
        cov=as_numpy(cov),
        nobs=len(x),
        log_likelihood=log_likelihood,
        ll_null=ll_null,
        pseudo_r2=1.0 - log_likelihood / ll_null if ll_null else float("nan"),
        classes=classes,
        converged=converged,
        l2=fitted.l2,
        standardized=standardizer is not None,
        weighted=weights is not None,
        notes=notes,
    )


def as_numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _unwrapped(model, standardizer, feature_names, classes):
    """(the logistic regression, standardizer, feature names, classes): a ``StandardizedModel`` (``load_model``)
    gives its own where the caller gave none; a model without a closed-form Hessian is a TypeError."""
    if _wraps_classifier(model):  # load_model's StandardizedModel: raw features in
        std = model.std.to(torch.float64)
        if standardizer is None and not (bool((model.mean == 0).all()) and bool((std == 1).all())):
            standardizer = Standardizer(model.mean, model.std)
        feature_names = model.feature_names if feature_names is None else feature_names
        classes = model.classes if classes is None else classes
        model = model.model
    if not all(hasattr(model, name) for name in ("hessian", "weight", "bias", "loss")):
        raise TypeError(
            f"summary needs a logistic regression (a model with a closed-form Hessian over [W, b]); "
            f"got {type(model).__name__}"
        )
    return model, standardizer, feature_names, classes


def _checked_rows(x, y, sample_weight, n: int, k: int, device):
    """x (m, n), y (m,) and the weights (m,) or None, in float64 on ``device``, their shapes and labels checked."""
    x = _as_float64(x, device)
    if x.ndim != 2 or x.shape[1] != n:
        raise ValueError(f"x must have shape (m, {n}), got {tuple(x.shape)}")
    y = _as_float64(y, device).reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"y has {len(y)} rows, x has {len(x)}")
    weights = None if sample_weight is None else _as_float64(sample_weight, device).reshape(-1)
    if weights is not None and len(weights) != len(x):
        raise ValueError(f"sample_weight has {len(weights)} rows, x has {len(x)}")
    _check_labels_and_weights(y, weights, k)
    return x, y, weights


def _notes(
    l2: float, standardized: bool, k: int, classes: list, weighted: tuple[int, float] | None
) -> list[str]:
    """The lines under the table that say how to read it; ``weighted`` is (rows, Σs) of a weighted fit."""
    notes = []
    if l2:
        notes.append(
            f"penalized fit (l2={l2:g}): standard errors from the penalized Hessian "
            f"(inverse of −∇²ℓ + l2·I on the weights)"
        )
    if standardized:
        notes.append("coefficients in raw feature units, mapped from the fit on standardized features")
    if k > 2:
        notes.append(
            f"each equation is a class against {classes[0]!r} (statsmodels' MNLogit parameterization)"
        )
    if weighted is not None:
        rows, total_weight = weighted
        notes.append(
            f"sample weights: the log-likelihood is Σ s·log p over {rows} rows, Σs = {total_weight:g}"
        )
    return notes


def _wraps_classifier(model) -> bool:
    return (
        hasattr(model, "model")
        and hasattr(model, "mean")
        and hasattr(model, "std")
        and hasattr(model, "classes")
    )


def _as_float64(values, device) -> Tensor:
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(np.ascontiguousarray(values))
    return torch.as_tensor(values).to(device=device, dtype=torch.float64)


def _refuse_separable(model, x: Tensor, y: Tensor, weights: Tensor | None) -> None:
    """diagnostics' separation test: with l2 = 0, every (weighted) row classified correctly."""
    counted = torch.ones_like(y, dtype=torch.bool) if weights is None else weights > 0
    predicted = model.loss.predict(model(x)).to(y.dtype)
    if bool((predicted == y)[counted].all()):
        raise PerfectSeparationError(
            "the training data are perfectly separated: the model classifies every row correctly, so the maximum-"
            "likelihood coefficients are infinite and have no standard errors (statsmodels: PerfectSeparation); "
            "fit with model.l2 > 0 for a penalized table"
        )


def _check_labels_and_weights(y: Tensor, weights: Tensor | None, k: int) -> None:
    """y must be class indices 0..K−1 and the weights finite and ≥ 0 with a positive sum, as in ``fit``."""
    bad = ~((y == y.round()) & (y >= 0) & (y <= k - 1))
    if bool(bad.any()):
        value = float(y[bad][0])
        hint = " (labels in {-1, 1}: pass (y + 1) / 2)" if value == -1 and k == 2 else ""
        raise ValueError(
            f"y must hold class indices 0..{k - 1}; row {int(bad.nonzero()[0])} holds {value:g}{hint}"
        )
    if weights is not None:
        wrong = ~torch.isfinite(weights) | (weights < 0)
        if bool(wrong.any()):
            row = int(wrong.nonzero()[0])
            raise ValueError(
                f"sample_weight must be finite and >= 0; row {row} holds {float(weights[row]):g}"
            )
        if not float(weights.sum()) > 0:
            raise ValueError("sample_weight sums to 0: no row counts")


def _inverse_on_identifiable(hessian: Tensor, null: Tensor | None) -> Tensor:
    """H⁻¹ on the complement of ``null`` (P, r) orthonormal directions: Q (QᵀHQ)⁻¹ Qᵀ.  -> (P, P)."""
    size = hessian.shape[0]
    if null is None:
        basis = torch.eye(size, dtype=hessian.dtype, device=hessian.device)
    else:
        null = null.to(hessian)
        complete, _ = torch.linalg.qr(
            null, mode="complete"
        )  # first r columns span null, the rest its complement
        basis = complete[:, null.shape[1] :]
    restricted = basis.T @ hessian @ basis
    restricted = (restricted + restricted.T) / 2
    factor, info = torch.linalg.cholesky_ex(restricted)
    # Cholesky succeeds on an exactly singular H once rounding makes it barely positive, and then gives
    # standard errors near 1e7 and p = 1: check the rank on the unit-diagonal scaling, against n·eps.
    diagonal = restricted.diagonal().clamp_min(torch.finfo(restricted.dtype).tiny).rsqrt()
    eigenvalues = torch.linalg.eigvalsh(diagonal[:, None] * restricted * diagonal[None, :])
    tolerance = len(eigenvalues) * torch.finfo(restricted.dtype).eps * float(eigenvalues[-1].abs())
    if int(info) != 0 or float(eigenvalues[0]) <= tolerance:
        raise SingularHessianError(
            "the Hessian of the log-likelihood is singular: some coefficients are not determined by the data "
            "(a constant or duplicated column, or more coefficients than the data support); drop those columns "
            "or fit with model.l2 > 0"
        )
    return basis @ torch.cholesky_inverse(factor) @ basis.T


def _coefficient_map(n: int, outputs: int, standardizer: Standardizer | None, device) -> Tensor:
    """T (Q, P): θ = [W (outputs, n) row-major, b (outputs,)] -> [const, x1..xn] per equation.

    One equation for one output (binary), else outputs − 1: class e's row minus class 0's.
    With a standardizer, each equation's [b, w] maps to raw units: [b − Σ w μ/σ, w/σ].
    """
    params = outputs * n + outputs
    equations = 1 if outputs == 1 else outputs - 1
    differences = torch.zeros(equations * (n + 1), params, dtype=torch.float64, device=device)
    for e in range(equations):
        row = e if outputs == 1 else e + 1
        top = e * (n + 1)
        differences[top, outputs * n + row] = 1.0
        differences[top + 1 : top + n + 1, row * n : (row + 1) * n] += torch.eye(
            n, dtype=torch.float64, device=device
        )
        if outputs > 1:
            differences[top, outputs * n] = -1.0
            differences[top + 1 : top + n + 1, :n] -= torch.eye(n, dtype=torch.float64, device=device)
    if standardizer is None:
        return differences
    mean = standardizer.mean.to(device=device, dtype=torch.float64)
    std = standardizer.std.to(device=device, dtype=torch.float64)
    to_raw = torch.zeros(n + 1, n + 1, dtype=torch.float64, device=device)  # [b, w_std] -> [const, w_raw]
    to_raw[0, 0] = 1.0
    to_raw[0, 1:] = -mean / std
    to_raw[1:, 1:] = torch.diag(1 / std)
    return torch.block_diag(*[to_raw] * equations) @ differences


def _null_log_likelihood(y: Tensor, weights: Tensor | None, k: int, total_weight: float) -> float:
    """ℓ of the intercept-only model: Σₖ wₖ·log(wₖ/Σs), wₖ the (weighted) count of class k."""
    counts = torch.zeros(k, dtype=torch.float64, device=y.device)
    counts.index_add_(0, y, torch.ones_like(y, dtype=torch.float64) if weights is None else weights)
    present = counts[counts > 0]
    return float((present * (present / total_weight).log()).sum())


def report_run_summary(
    model, split, *, sample_weight, converged: bool, run_dir, writer, step: int, group=None
) -> Summary | None:
    """``train.summary=true``: log the table, write ``summary.csv`` in the run folder, log it to TensorBoard as text.

    A model or data that has no table (an MLP, separable data, a singular design) logs a warning instead.
    Under torchrun (``group``) the table is of every worker's rows, gathered; rank 0 reports it.
    """
    if is_stream(split.x_train):  # streamed rows: read them once more, raw, if they fit in memory
        x = raw_rows(split.x_train)
    else:
        x = split.x_train.to(torch.float64)
        if split.standardizer is not None:  # the split holds standardized rows; the table is in raw units
            x = x * split.standardizer.std.to(x) + split.standardizer.mean.to(x)
    y = split.y_train
    active = group is not None and group.active
    if group.any(x is None) if active else x is None:
        if not active or group.rank == 0:
            warnings.warn(
                TorchLogregWarning(
                    "no coefficient table (train.summary): the streamed training rows do "
                    "not fit in memory, and the table needs them all at once"
                ),
                stacklevel=2,
            )
        return None
    if active:  # one table of every worker's rows, not of rank 0's share
        device = getattr(group, "device", torch.device("cpu"))  # NCCL gathers CUDA tensors only
        gather = lambda t: group.gather_rows(t.to(device)).cpu()  # noqa: E731
        x, y = gather(x), gather(y)
        sample_weight = None if sample_weight is None else gather(sample_weight)
        if group.rank != 0:
            return None
    try:
        table = summary(
            model,
            x,
            y,
            standardizer=split.standardizer,
            feature_names=split.feature_names,
            sample_weight=sample_weight,
            converged=converged,
            classes=split.classes,
        )
    except (TypeError, PerfectSeparationError, SingularHessianError) as error:
        warnings.warn(TorchLogregWarning(f"no coefficient table (train.summary): {error}"), stacklevel=2)
        return None
    logger.info("%s", table)
    if run_dir is not None:
        table.to_csv(run_dir / "summary.csv")
    writer.text(step, "summary", table.to_markdown())
    return table


__all__ = [
    "summary",
    "Summary",
    "PerfectSeparationError",
    "SingularHessianError",
    "NORMAL_QUANTILE_975",
    "report_run_summary",
]
