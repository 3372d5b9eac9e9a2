"""What a run's numbers mean: the warnings a fit owes its user, each one line.

Exit 0 means the run did what was asked; these say when its numbers deserve
doubt.  Each check is cheap and runs once: the design checks before training,
the rest on values the loop reads at its log steps anyway.

* a constant or nearly constant column, and duplicated columns (a singular design);
* with l2 = 0, any other linear dependency among the columns, or fewer rows than
  coefficients (``design_rank``: eigenvalues of the scaled Gram matrix, no random draw);
* a cost that rises between two log steps (gd, sgd: the learning rate);
* separable data with l2 = 0 (the optimum is at infinity);
* newton and lbfgs that reach ``train.iterations`` without converging, and any
  optimizer that misses a ``train.tol`` it was given.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..design_rank import describe, rank_deficiency

# The design checks read x in blocks of this many rows, so a boolean copy of x never exists.
_CHECK_ROWS = 1 << 16


def design_warnings(x: Tensor, names: list[str], standardized: bool) -> list[str]:
    """Warnings about columns of the training x (m, n) that leave a weight undetermined."""
    m = x.shape[0]
    if m < 3:
        return []
    found = []
    constant, all_but_one = _constant_columns(x)
    if constant:
        found.append(f"{_columns(names, constant)} constant in the training rows: "
                     + ("standardization maps it to zeros, so its weight stays 0" if standardized
                        else "it carries nothing the bias does not"))
    if all_but_one:
        found.append(f"{_columns(names, all_but_one)} constant but for one training row: its weight rests on that row "
                     f"alone (a near-singular design; model.l2 > 0 steadies it)")
    duplicates = _duplicate_columns(x, skip=set(constant))
    if duplicates:
        pairs = ", ".join(f"{names[first]!r} = {names[second]!r}" for first, second in duplicates[:5])
        found.append(f"identical columns in the training rows ({pairs}{', ...' if len(duplicates) > 5 else ''}): "
                     f"their weights are not determined separately (a singular design; drop one of each pair or "
                     f"set model.l2 > 0)")
    return found


def rank_warnings(x: Tensor, names: list[str], sample_weight: Tensor | None = None) -> list[str]:
    """With l2 = 0: a warning when [1, x] lacks full column rank (``design_rank``, no random draw)."""
    deficiency = rank_deficiency(x, sample_weight)
    if deficiency is None:
        return []
    drop = "drop the dependent columns" if deficiency.involved else "use fewer features or more rows"
    line = (f"{describe(deficiency, names)}: their weights are not determined by the data (a singular design; "
            f"{drop}, or set model.l2 > 0)")
    return [line]


def _columns(names: list[str], indices: list[int]) -> str:
    """"column 'a' is" or "columns 'a', 'b' are" (at most 5 named)."""
    shown = ", ".join(repr(names[j]) for j in indices[:5]) + (f" and {len(indices) - 5} more" if len(indices) > 5 else "")
    return f"column {shown} is" if len(indices) == 1 else f"columns {shown} are each"


def _constant_columns(x: Tensor) -> tuple[list[int], list[int]]:
    """(columns with one value, columns with one value in all rows but one)."""
    m = x.shape[0]
    # A column constant but for one row equals row 0 or row 1 in at least m − 1 rows.
    same_as = torch.zeros(2, x.shape[1], dtype=torch.long, device=x.device)
    for block in x.split(_CHECK_ROWS):
        same_as[0] += (block == x[0]).sum(0)
        same_as[1] += (block == x[1]).sum(0)
    most = same_as.max(0).values.tolist()
    constant = [j for j, count in enumerate(most) if count == m]
    return constant, [j for j, count in enumerate(most) if count == m - 1]


def _duplicate_columns(x: Tensor, skip: set[int]) -> list[tuple[int, int]]:
    """Pairs of identical columns: equal random projections first (one pass), then an exact check."""
    gen = torch.Generator(device=x.device).manual_seed(0)
    probe = torch.rand(x.shape[0], generator=gen, dtype=x.dtype, device=x.device)
    signature = (probe @ x).tolist()  # (n,): equal for identical columns
    seen: dict[float, int] = {}
    pairs = []
    for j, value in enumerate(signature):
        if j in skip:
            continue
        if value in seen and torch.equal(x[:, seen[value]], x[:, j]):
            pairs.append((seen[value], j))
        else:
            seen.setdefault(value, j)
    return pairs


def rising_cost_warning(iterations: list[int], costs: list[float], lr: float) -> str | None:
    """The first rise of the full-batch cost between two log steps, if any."""
    for i in range(1, len(costs)):
        if costs[i] > costs[i - 1] * (1 + 1e-12) + 1e-15:
            return (f"the cost rose from {costs[i - 1]:.6g} at iteration {iterations[i - 1]} to {costs[i]:.6g} at "
                    f"iteration {iterations[i]}: the learning rate may be too large (optimizer.lr={lr:g})")
    return None


def separates(logits: Tensor, y: Tensor, sample_weight: Tensor | None = None) -> bool:
    """Whether the model's logits put every training row (of weight > 0) strictly on its class's side.

    logits (N,) or (N, 1) for two classes, (N, K) for K; y (N,) class indices.  Exact and cheap:
    one weight vector that separates the rows proves them separable, whatever the shape of x
    (10,000 columns and 40 rows included), so with l2 = 0 the cost has no minimum."""
    y = y.reshape(-1).long().to(logits.device)
    if logits.ndim == 1 or logits.shape[1] == 1:
        z = logits.reshape(-1)
        margin = torch.where(y == 1, z, -z)
    else:
        true = logits.gather(1, y[:, None]).squeeze(1)
        margin = true - logits.scatter(1, y[:, None], -torch.inf).max(1).values
    if sample_weight is not None:
        margin = margin[sample_weight.reshape(-1).to(margin.device) > 0]
    return bool((margin > 0).all())


def separated_warning(weight_norm: float, cost: float) -> str:
    """The separation warning, from ``separates``'s proof rather than from how the run went."""
    return (f"the training data are separable: the final weights classify every training row correctly with a "
            f"positive margin (weight norm {weight_norm:.4g}, cost {cost:.3g}), so with l2 = 0 the cost has no "
            f"minimum and the optimum is at infinity: the weights grow without bound and the fit cannot converge; "
            f"set model.l2 > 0 for finite weights")


def divergence_advice(optimizer_name: str, lr: float, steps_by_lr: bool, line_search: bool, weight_max: float,
                      data_max: float | None, l2: float, dtype: torch.dtype) -> str:
    """What to try when the cost or a gradient stopped being finite, for this optimizer and these scales.

    ``steps_by_lr``: the optimizer's step is lr times a direction (gd, sgd, adam), so a smaller
    lr is the first thing to try.  Newton takes no lr and lbfgs's line search picks its own step:
    for them the cause lies in the scale of the data or of the weights, or in the precision."""
    largest = torch.finfo(dtype).max
    causes = []
    if weight_max > largest ** 0.5:
        causes.append(f"the weights reached {weight_max:.3g}, too large for {dtype} arithmetic (its largest number "
                      f"is {largest:.3g}): start from smaller weights" + ("" if l2 else " or set model.l2 > 0"))
    if data_max is not None and not math.isfinite(data_max):
        causes.append(f"the features overflow {dtype} (their largest is beyond {largest:.3g}): rescale them"
                      + (" or train in train.dtype=float64" if dtype != torch.float64 else ""))
    elif data_max is not None and data_max > 1e6:
        causes.append(f"the features reach {data_max:.3g}: standardize them (data.standardize=true) or rescale them")
    if steps_by_lr:  # after a cause in the data or weights, which a smaller lr would not cure
        causes.append(f"{'else ' if causes else ''}try a smaller optimizer.lr (now {lr:g})")
    else:
        how = "picks its step by a line search" if line_search else "takes no learning rate"
        causes.insert(0, f"{optimizer_name} {how}, so a smaller optimizer.lr will not help")
        if len(causes) == 1:
            causes.append("check the scale of the features (data.standardize=true) and of the weights, set "
                          "model.l2 > 0" + (", or train in train.dtype=float64" if dtype != torch.float64 else ""))
    return "; ".join(causes)


def convergence_warning(optimizer_name: str, iterations: int, grad_max: float, grad_tol: float,
                        stalled: bool = False) -> str:
    """scikit-learn's ConvergenceWarning, in one line.  ``stalled``: no step could lower the cost any more."""
    how = (f"stalled at iteration {iterations}: no step lowers the cost in this precision any more"
           if stalled else f"did not converge in {iterations} iterations")
    advice = "standardize the features (data.standardize=true) or add model.l2" if stalled else \
        "standardize the features (data.standardize=true), raise train.iterations, or add model.l2"
    return (f"{optimizer_name} {how}: the largest gradient entry is {grad_max:.3g}, above "
            f"optimizer.grad_tol={grad_tol:g}; {advice}")


def tol_warning(tol: float, iterations: int, change: float | None) -> str:
    said = f"the last change was {change:.3g}" if change is not None else "no two log steps to compare"
    return (f"the cost did not settle to train.tol={tol:g} in {iterations} iterations ({said}); "
            f"raise train.iterations or optimizer.lr")
