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

The inputs are checked in ``stats_inputs.py``, H⁻¹ and T are built in ``stats_covariance.py``,
and the table is written as text, CSV and Markdown by ``stats_table.py``.
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
from .errors import TorchLogregWarning
from .stats_covariance import (
    SingularHessianError,
    coefficient_map,
    inverse_on_identifiable,
    null_log_likelihood,
)
from .stats_inputs import PerfectSeparationError, checked_rows, refuse_separable, unwrapped
from .stats_table import summary_csv, summary_markdown, summary_text

logger = logging.getLogger(__name__)

NORMAL_QUANTILE_975 = 1.959963984540054  # Φ⁻¹(0.975): the 95% interval's half-width in standard errors


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
        """The table as CSV (equation, name, coef, std_err, z, p_value, ci_low, ci_high); also written to
        ``path``."""
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
    """The coefficient table of a fitted ``LogisticRegression``, as statsmodels' ``Logit`` / ``MNLogit``
    give it.

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
    model, standardizer, feature_names, classes = unwrapped(model, standardizer, feature_names, classes)
    fitted = copy.deepcopy(model).to(torch.float64)  # the statistics in float64 whatever the training dtype
    device = fitted.weight.device
    n, k = fitted.in_features, fitted.num_classes
    x, y, weights = checked_rows(x, y, sample_weight, n, k, device)
    names = (
        [f"x{j + 1}" for j in range(n)] if feature_names is None else [str(name) for name in feature_names]
    )
    if len(names) != n:
        raise ValueError(f"feature_names must name the model's {n} features, got {len(names)}")
    classes = list(range(k)) if classes is None else list(classes)
    x_model = standardizer.transform(x) if standardizer is not None else x
    return _table(fitted, x_model, y, weights, names, classes, standardizer, converged)


def _table(
    fitted,
    x_model: Tensor,
    y: Tensor,
    weights: Tensor | None,
    names: list[str],
    classes: list,
    standardizer: Standardizer | None,
    converged: bool | None,
) -> Summary:
    """``summary``'s statistics of the checked rows: x_model (m, n) as the model sees them, y (m,),
    weights (m,) or None, all float64 on the model's device."""
    n, k, device = fitted.in_features, fitted.num_classes, fitted.weight.device
    targets = fitted.loss.targets(y, torch.float64)
    total_weight = float(len(x_model)) if weights is None else float(weights.sum())

    if not fitted.l2:
        refuse_separable(fitted, x_model, y, weights)
    hessian = fitted.hessian(x_model, sample_weight=weights) * total_weight  # (P, P), summed log-likelihood
    cov_theta = inverse_on_identifiable(hessian, fitted.null_directions())
    transform = coefficient_map(n, fitted.out_features, standardizer, device)  # (Q, P)
    theta = torch.cat([fitted.weight.reshape(-1), fitted.bias.reshape(-1)])
    coef = transform @ theta
    cov = transform @ cov_theta @ transform.T
    std_err = cov.diagonal().clamp_min(0).sqrt()
    z = coef / std_err
    p_value = torch.special.erfc(z.abs() / math.sqrt(2))  # 2·Φ(−|z|), see the module docstring

    log_likelihood = -float(fitted.loss.cost(fitted(x_model), targets, weights)) * total_weight
    ll_null = null_log_likelihood(y.long(), weights, k, total_weight)
    equations = classes[1:]  # binary: the positive class; K: each class against classes[0]
    weighted = None if weights is None else (len(x_model), total_weight)
    notes = _notes(fitted.l2, standardizer is not None, k, classes, weighted)

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
        nobs=len(x_model),
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


def report_run_summary(
    model, split, *, sample_weight, converged: bool, run_dir, writer, step: int, group=None
) -> Summary | None:
    """``train.summary=true``: log the table, write ``summary.csv`` in the run folder, log it to
    TensorBoard as text.

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
