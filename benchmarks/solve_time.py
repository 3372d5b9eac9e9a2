"""Section 3: time to solution against scikit-learn and statsmodels, on in-memory float64 arrays.

The objective is J(W, b) = mean(softplus(z) − y·z) + (l2/2m)·‖W‖², evaluated in float64
on the float64 data for every method; a fit counts when J − J* ≤ 1e-8, J* from float64
Newton refined to a gradient below 1e-12.

* scikit-learn: ``LogisticRegression(solver=...).fit(X, y)`` with its defaults (C = 1, which
  is l2 = 1 here; tol = 1e-4), for ``newton-cholesky`` and ``lbfgs`` (the default solver).
  When the defaults stop short of 1e-8, tol is lowered tenfold (and max_iter raised) until
  they do, and the row says which tol it took.
* statsmodels: ``Logit(y, add_constant(X)).fit(disp=0)``, defaults (Newton, tol 1e-8),
  ``add_constant`` included, as a user calls it.  Logit has no L2 penalty, so it is timed
  on the unpenalized objective (l2 = 0), beside ours on that objective; data that a plane
  separates have no unpenalized optimum, and the row says so.
* ours, as a scikit-learn user: ``torch_logreg.sklearn.LogisticRegressionClassifier().fit(X, y)``
  with its defaults (newton, float64, l2 = 1, ``hessian_rows=auto``): the comparison the
  targets are about (issue 12: "through the estimator's fit with its defaults").
* ours: ``torch_logreg.train(config, data=split, save=False)`` (writes nothing) with
  ``optimizer.name=newton`` and ``optimizer.hessian_rows=auto`` (the Hessian from 100 rows
  per parameter on tall data), float64 and float32, run to convergence (its gradient
  test, ``optimizer.grad_tol`` at its default): the whole call, including the dtype
  conversion, the log steps and the final metrics on the training rows.
* ours, own loop: ``LogisticRegression`` + ``training.optim.Newton`` stepped until it reports
  convergence, from the same float64 tensors: the solver alone, without ``train``.

Each method is timed in a fresh process of its own: a warm-up fit, then the median of the
repeats (sizes up to 10k rows get three times as many).  In one process the libraries'
thread pools slow whichever runs next: on 2 cores, after one multi-threaded NumPy
(OpenBLAS) product, the same torch Newton fit of 569×30 took 43 ms instead of 4, even
after an untimed fit or a pause; scikit-learn's lbfgs did the same to it.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, NamedTuple

import numpy as np
import torch

from torch_logreg import LogisticRegression, load_config, train
from torch_logreg.nn import functional as LF
from torch_logreg.training.optim import Newton, auto_hessian_rows

from . import problems

L2 = 1.0  # scikit-learn's default C = 1
GAP = 1e-8
TEST_ROWS = 1_000
SK_NEWTON = "scikit-learn newton-cholesky"
SK_LBFGS = "scikit-learn lbfgs"
STATSMODELS = "statsmodels Logit (l2 = 0)"
ESTIMATOR = "ours: LogisticRegressionClassifier.fit, float64"
SEPARABLE = "no unpenalized optimum: the data are separable (l2 = 0 has its optimum at infinity)"
TARGET, STRETCH = 1.0, 2.0  # ours ≥ 1× newton-cholesky; stretch ≥ 2× the fastest scikit-learn solver


class Problem(NamedTuple):
    label: str
    x: torch.Tensor  # (m, n) float64
    y: torch.Tensor  # (m,) float64 in {0, 1}
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x.numpy(), self.y.numpy()

    def objective(self, weight, bias, l2: float) -> float:
        weight = torch.as_tensor(np.asarray(weight), dtype=torch.float64).reshape(1, -1)
        bias = torch.as_tensor(np.asarray(bias), dtype=torch.float64).reshape(1)
        return float(LF.cost(self.x, self.y, weight, bias, l2))


class Fit(NamedTuple):
    """A configured method: ``fit()`` returns (weight, bias, iterations); ``detail``: how it was called."""

    fit: Callable[[], tuple[object, object, int]]
    detail: str
    l2: float


def synthetic_problem(size: problems.Size) -> Problem:
    x, y = problems.synthetic(size.m, size.n, dtype=torch.float64)
    x_test, y_test = problems.synthetic(TEST_ROWS, size.n, dtype=torch.float64, seed=1)
    return Problem(f"{size.label} (synthetic)", x, y, x_test, y_test)


def problems_for(quick: bool) -> list[Problem]:
    x, y = problems.breast_cancer_all(dtype=torch.float64)
    found = [Problem("569×30 (default data, all rows, standardized)", x, y, x[:100], y[:100])]
    sizes = [problems.Size(2_000, 5)] if quick else [problems.Size(100_000, 100), problems.Size(1_000_000, 2)]
    return found + [synthetic_problem(size) for size in sizes]


def optimum(problem: Problem, l2: float) -> tuple[float | None, float]:
    """(J*, the gradient's largest entry there) by float64 Newton on every row; J* None when the
    data are separable and l2 = 0 (the weights grow without bound)."""
    model = LogisticRegression(problem.x.shape[1], l2=l2, dtype=torch.float64)
    newton = Newton(model, grad_tol=1e-12)
    for _ in range(100):
        newton.newton_step(problem.x, problem.y)
        if newton.converged:
            break
    weight, bias = model.weight.detach(), model.bias.detach()
    if not l2:  # every row on its right side means a separating plane: the optimum is at infinity
        z = LF.linear_forward(problem.x, weight, bias).squeeze(1)
        if bool(((z > 0) == (problem.y > 0.5)).all()):
            return None, newton.grad_max
    return problem.objective(weight, bias, l2), newton.grad_max


# ---------------------------------------------------------------- the methods


def sklearn_fit(problem: Problem, solver: str, optimum_value: float) -> Fit:
    """scikit-learn with its defaults, or the largest tol below them that reaches the gap."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    x_np, y_np = problem.arrays
    settings = [{}] + [{"tol": 10.0**-k, "max_iter": 10_000} for k in range(5, 13)]
    for kwargs in settings:

        def fit(kwargs=kwargs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = SkLogisticRegression(solver=solver, **kwargs).fit(x_np, y_np)
            return model.coef_, model.intercept_, int(np.max(model.n_iter_))

        weight, bias, _ = fit()
        if problem.objective(weight, bias, L2) - optimum_value <= GAP:
            detail = (
                "defaults"
                if not kwargs
                else f"tol={kwargs['tol']:g}, max_iter={kwargs['max_iter']} "
                f"(the defaults stop short of {GAP:g})"
            )
            return Fit(fit, detail, L2)
    raise RuntimeError(f"gap > {GAP:g} even at tol={settings[-1]['tol']:g}")


def statsmodels_fit(problem: Problem) -> Fit:
    import statsmodels.api as sm

    x_np, y_np = problem.arrays

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sm.Logit(y_np, sm.add_constant(x_np)).fit(disp=0)
        params = result.params
        return params[1:], params[:1], int(result.mle_retvals["iterations"])

    return Fit(fit, "defaults: Logit(y, add_constant(X)).fit(disp=0)", 0.0)


def train_fit(problem: Problem, dtype: str, l2: float) -> Fit:
    """``train(config, data=split, save=False)`` with Newton, ``hessian_rows=auto``, to convergence."""
    split = problems.in_memory_split(problem.x, problem.y, problem.x_test, problem.y_test)
    overrides = [
        "optimizer.name=newton",
        "optimizer.hessian_rows=auto",
        f"model.l2={l2}",
        "train.device=cpu",
        f"train.dtype={dtype}",
        "train.iterations=100",
        "train.print_cost=false",
    ]
    config = load_config(None, overrides)

    def fit():
        result = train(config, data=split, save=False)
        if not result.metrics.get("converged", True):
            raise RuntimeError(f"train() did not converge: {result.metrics.get('warnings')}")
        model = result.model
        return (
            model.weight.detach().double(),
            model.bias.detach().double(),
            int(result.history["iteration"][-1]),
        )

    return Fit(fit, "optimizer.name=newton, hessian_rows=auto, to convergence", l2)


def estimator_fit(problem: Problem) -> Fit:
    """``torch_logreg.sklearn.LogisticRegressionClassifier().fit(X, y)`` with its defaults (newton, float64,
    l2 = 1), as a scikit-learn user calls it: the comparison issue 12 asks for."""
    from torch_logreg.sklearn import LogisticRegressionClassifier

    x_np, y_np = problem.arrays

    def fit():
        model = LogisticRegressionClassifier().fit(x_np, y_np)
        return torch.from_numpy(model.coef_), torch.from_numpy(model.intercept_), int(np.max(model.n_iter_))

    return Fit(fit, "defaults: LogisticRegressionClassifier().fit(X, y)", L2)


def own_loop_fit(problem: Problem) -> Fit:
    """``LogisticRegression`` + ``training.optim.Newton`` (``auto`` hessian_rows), stepped to convergence."""
    m, n = problem.x.shape
    rows = auto_hessian_rows(m, n + 1)

    def fit():
        model = LogisticRegression(n, l2=L2, dtype=torch.float64)
        newton = Newton(model, hessian_rows=rows)
        steps = 0
        while not newton.converged and steps < 100:
            newton.newton_step(problem.x, problem.y)
            steps += 1
        return model.weight.detach(), model.bias.detach(), steps

    return Fit(fit, f"Newton(model, hessian_rows={rows}), steps until converged", L2)


# ---------------------------------------------------------------- the section


def _configure(
    problem: Problem, optima: dict[float, float | None], only: str | None = None
) -> tuple[dict[str, Fit], dict[str, str]]:
    """The methods (name -> Fit) and the ones that cannot run (name -> why); ``only``: that one alone."""
    makers = {
        SK_NEWTON: lambda: sklearn_fit(problem, "newton-cholesky", optima[L2]),
        SK_LBFGS: lambda: sklearn_fit(problem, "lbfgs", optima[L2]),
        ESTIMATOR: lambda: estimator_fit(problem),
        "ours: train(), float64": lambda: train_fit(problem, "float64", L2),
        "ours: train(), float32": lambda: train_fit(problem, "float32", L2),
        "ours: own loop, LogisticRegression + training.optim.Newton (float64)": lambda: own_loop_fit(problem),
    }
    errors = {}
    if optima[0.0] is None:
        errors[STATSMODELS] = SEPARABLE
    else:
        makers[STATSMODELS] = lambda: statsmodels_fit(problem)
        makers["ours: train(), float64, l2 = 0"] = lambda: train_fit(problem, "float64", 0.0)
    fits = {}
    for name, make in makers.items():
        if only is not None and name != only:
            continue
        try:
            fits[name] = make()
        except Exception as error:  # report it, time the others
            errors[name] = f"{type(error).__name__}: {error}"
    return fits, errors


def _verdict(value: float | None, bound: float) -> str:
    return "" if value is None else ("yes" if value >= bound else "NO")


def measure(problem: Problem, repeats: int, log=print) -> list[dict]:
    optima = {}
    for l2 in (L2, 0.0):
        optima[l2], grad = optimum(problem, l2)
        shown = "none (separable)" if optima[l2] is None else f"{optima[l2]:.12f}"
        log(f"[solve] {problem.label}: J* = {shown} at l2 = {l2:g} (Newton, max |grad| {grad:.1e})")
    names = _method_names(optima)
    timed, errors = {}, {}
    if optima[0.0] is None:
        errors[STATSMODELS] = SEPARABLE
    spawn = multiprocessing.get_context("spawn")
    for name in names:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as own_process:
            result = own_process.submit(_time_in_this_process, problem, optima, name, repeats).result()
        if "error" in result:
            errors[name] = result["error"]
        else:
            timed[name] = result
    seconds = {name: statistics.median(result["samples"]) for name, result in timed.items()}
    sklearn = [seconds[name] for name in (SK_NEWTON, SK_LBFGS) if name in seconds]
    fastest_sklearn = min(sklearn) if sklearn else None
    rows = []
    for name, result in timed.items():
        l2 = result["l2"]
        row = {
            "problem": problem.label,
            "method": name,
            "detail": result["detail"],
            "iterations": result["iterations"],
            "l2": l2,
            "seconds": seconds[name],
            "min_seconds": min(result["samples"]),
            "repeats": repeats,
            "gap": problem.objective(result["weight"], result["bias"], l2) - optima[l2],
        }
        if l2 == L2 and SK_NEWTON in seconds:
            row["vs_newton_cholesky"] = seconds[SK_NEWTON] / seconds[name]
        if l2 == L2 and fastest_sklearn is not None:
            row["vs_fastest_sklearn"] = fastest_sklearn / seconds[name]
        if l2 == 0.0 and STATSMODELS in seconds:
            row["vs_statsmodels"] = seconds[STATSMODELS] / seconds[name]
        if (name == ESTIMATOR or name.startswith("ours: train()")) and l2 == L2:
            ok = row["gap"] <= GAP
            row["target_met"] = _verdict(row.get("vs_newton_cholesky") if ok else 0.0, TARGET)
            row["stretch_met"] = _verdict(row.get("vs_fastest_sklearn") if ok else 0.0, STRETCH)
        rows.append(row)
    for name, message in errors.items():
        rows.append({"problem": problem.label, "method": name, "error": message})
    return rows


def _method_names(optima: dict[float, float | None]) -> list[str]:
    """The methods to time, in the tables' order (statsmodels and l2 = 0 only with an unpenalized optimum)."""
    names = [
        SK_NEWTON,
        SK_LBFGS,
        ESTIMATOR,
        "ours: train(), float64",
        "ours: train(), float32",
        "ours: own loop, LogisticRegression + training.optim.Newton (float64)",
    ]
    return names + ([STATSMODELS, "ours: train(), float64, l2 = 0"] if optima[0.0] is not None else [])


def _time_in_this_process(
    problem: Problem, optima: dict[float, float | None], name: str, repeats: int
) -> dict:
    """In a fresh process: configure ``name``, fit once to warm up, then time ``repeats`` fits.
    Returns {"samples", "weight", "bias", "iterations", "detail", "l2"} or {"error"}."""
    fits, errors = _configure(problem, optima, only=name)
    if name in errors:
        return {"error": errors[name]}
    fit = fits[name]
    fit.fit()
    samples = []
    for _ in range(repeats):
        begin = time.perf_counter()
        weight, bias, iterations = fit.fit()
        samples.append(time.perf_counter() - begin)
    return {
        "samples": samples,
        "weight": np.asarray(weight, dtype=np.float64),
        "bias": np.asarray(bias, dtype=np.float64),
        "iterations": int(iterations),
        "detail": fit.detail,
        "l2": fit.l2,
    }


def run(device: str, quick: bool, repeats: int, log=print, chosen: list[Problem] | None = None) -> dict:
    """``device`` is recorded only: this section runs on the CPU, where scikit-learn and statsmodels run.
    ``chosen``: the problems to time instead of ``problems_for(quick)``."""
    rows = []
    for problem in chosen if chosen is not None else problems_for(quick):
        started = time.perf_counter()
        # Millisecond fits get more repeats: their medians move most between runs.
        found = measure(problem, 3 * repeats if problem.x.shape[0] <= 10_000 else max(3, repeats - 2), log)
        for row in found:
            row["section_seconds"] = time.perf_counter() - started
        rows += found
    notes = [
        f"A fit counts when J − J* ≤ {GAP:g}, J in float64 on the float64 data; "
        f"l2 = {L2:g} is scikit-learn's "
        "default C = 1. J* from float64 Newton on every row, refined to max |∂J| < 1e-12.",
        "vs newton-cholesky, vs fastest sklearn: that scikit-learn fit's median time ÷ this row's "
        "(> 1: this row "
        "is faster). vs statsmodels: the same on the unpenalized objective (l2 = 0).",
        f"Targets for ours through train(): at least as fast as newton-cholesky (≥ {TARGET:g}×); stretch "
        f"≥ {STRETCH:g}× the fastest scikit-learn solver at each size.",
        "Everything starts from in-memory float64 arrays (numpy for scikit-learn and statsmodels, tensors "
        "sharing their memory for ours) and runs on the CPU; iterations: scikit-learn's n_iter_, "
        "statsmodels' Newton iterations, ours the Newton steps taken.",
    ]
    if device != "cpu":
        notes.append(f"This section ran on the CPU (the run's device was {device}).")
    return {
        "title": "Time to solution on in-memory float64 arrays (objective within 1e-8 of the optimum)",
        "rows": rows,
        "notes": notes,
        "columns": [
            ("problem", "problem", "s"),
            ("method", "method", "s"),
            ("detail", "called with", "s"),
            ("iterations", "iterations", "d"),
            ("seconds", "seconds", ".4f"),
            ("gap", "J − J*", ".1e"),
            ("vs_newton_cholesky", "vs newton-cholesky", ".2f"),
            ("vs_fastest_sklearn", "vs fastest sklearn", ".2f"),
            ("vs_statsmodels", "vs statsmodels", ".2f"),
            ("target_met", f"≥ {TARGET:g}× newton-cholesky", "s"),
            ("stretch_met", f"≥ {STRETCH:g}× fastest sklearn", "s"),
        ],
    }
