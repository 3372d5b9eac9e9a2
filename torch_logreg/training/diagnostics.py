"""What a run's numbers mean: the warnings a fit owes its user, each one line.

Exit 0 means the run did what was asked; these say when its numbers deserve
doubt.  Each check is cheap and runs once: the design checks before training,
the rest on values the loop reads at its log steps anyway.

* a constant or nearly constant column, and duplicated columns (a singular design);
* a cost that rises between two log steps (gd, sgd: the learning rate);
* separable data with l2 = 0 (the optimum is at infinity);
* newton and lbfgs that reach ``train.iterations`` without converging, and any
  optimizer that misses a ``train.tol`` it was given.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import threads

# The design checks read x in blocks of this many rows, so a boolean copy of x never exists.
_CHECK_ROWS = 1 << 16
# Tall x is checked on about this many of its rows first (every k-th); only what the sample cannot settle
# is checked on every row, so the answer is the same as from every row.
SAMPLE_ROWS = 4096


def design_warnings(x: Tensor, names: list[str], standardized: bool) -> list[str]:
    """Warnings about columns of the training x (m, n) that leave a weight undetermined.

    ``standardized``: each column was standardized on its own, so a constant one became zeros (images
    standardized per channel keep a constant pixel constant: it then duplicates the bias)."""
    m = x.shape[0]
    if m < 3:
        return []
    found = []
    constant, all_but_one = _constant_columns(x)
    if constant:
        found.append(
            f"{_columns(names, constant)} constant in the training rows: "
            + (
                "standardization maps it to zeros, so its weight stays 0"
                if standardized
                else "it carries nothing the bias does not"
            )
        )
    if all_but_one:
        found.append(
            f"{_columns(names, all_but_one)} constant but for one training row: its weight rests on that row "
            f"alone (a near-singular design; model.l2 > 0 steadies it)"
        )
    # The rank test is one QR factorization; identical columns make it fail, so only a design that fails it
    # (or one it cannot judge: constant columns, too large) is searched for the pairs to name.
    dependent = None if constant else _rank_deficiency(x)
    duplicates = [] if dependent is False else _duplicate_columns(x, skip=set(constant))
    if duplicates:
        pairs = ", ".join(f"{names[first]!r} = {names[second]!r}" for first, second in duplicates[:5])
        found.append(
            f"identical columns in the training rows ({pairs}{', ...' if len(duplicates) > 5 else ''}): "
            f"their weights are not determined separately (a singular design; drop one of each pair or "
            f"set model.l2 > 0)"
        )
    elif dependent:
        rank, n = dependent
        found.append(
            f"the training columns are linearly dependent (rank {rank} of {n} with the intercept): some "
            f"combination of them is constant, so those weights are not determined (a singular design; "
            f"drop a column of the combination or set model.l2 > 0)"
        )
    return found


# The QR factorization costs about 2·m·n² multiply-adds: while m·n² is at most this, the check runs;
# beyond it the check is skipped.
RANK_CHECK_BUDGET = 2e9


def linear_dependency(x: Tensor) -> tuple[int, int] | None:
    """(rank, n + 1) when the columns of [x, 1] are linearly dependent, else None.

    The singular values σ of the centred, unit-scaled columns (from R of their QR factorization, which
    keeps them accurate to rounding: a Gram matrix would square the condition number, and its
    eigenvalues of an exact combination drown in rounding at ten thousand rows), against a relative
    tolerance (n + 1)·eps·σmax with eps that of x's own dtype (a combination stored in float32 is exact
    only to float32's rounding).  Exact, and independent of any random draw.  Centring takes the
    intercept's direction out, so the rank counts it once.
    """
    found = _rank_deficiency(x)
    return found or None


def _rank_deficiency(x: Tensor) -> tuple[int, int] | bool | None:
    """``linear_dependency``'s (rank, n + 1); False when [x, 1] has full rank; None when not judged
    (x too large for the budget, fewer rows than columns, a constant or non-finite column, a failed
    factorization).

    Tall x is tested on a sample of its rows first: rows only add to the rank, so a sample of full
    rank settles it; a sample that is not (or cannot be judged) sends the test to every row."""
    m, n = x.shape
    if m < 2 or m * n * n > RANK_CHECK_BUDGET or n > 4096:
        return None
    sample = _row_sample(x, max(SAMPLE_ROWS, 4 * n))
    if sample is not x:
        with threads.torch_threads_for(sample, None):  # small: see _rank_test
            if _rank_test(sample) is False:
                return False
    return _rank_test(x)


def _rank_test(x: Tensor) -> tuple[int, int] | bool | None:
    m, n = x.shape
    if m <= n:  # rank m − 1 < n at most: too few rows to tell a dependency from a short design
        return None
    eps = torch.finfo(x.dtype).eps
    x64 = x.to(torch.float64)
    size = x64.abs().amax(0)  # each column over its largest |value| first: features of 1e300 cannot overflow
    centred = x64 / torch.where(size > 0, size, 1.0)
    centred = centred - centred.mean(0)
    scale = centred.norm(dim=0)
    # One host read: non-finite features (the data checks name them) or a constant column (named already).
    if not bool((scale > 0).all()):  # NaN and 0 both fail; an infinite feature gives NaN above
        return None
    try:
        # Small factorizations are many short parallel regions: on a busy machine each waits for a
        # descheduled thread, so they run on the calling thread alone.
        with threads.torch_threads_for(x, None):
            factor = torch.linalg.qr(centred / scale, mode="r").R
            singular = torch.linalg.svdvals(factor)
    except torch.linalg.LinAlgError:
        return None
    rank = int((singular > (n + 1) * eps * float(singular[0])).sum())
    if rank == n:
        return False  # full column rank: no column repeats another
    return (rank + 1, n + 1) if rank < m - 1 else None  # rank m − 1 < n: too few rows to tell


def _row_sample(x: Tensor, rows: int) -> Tensor:
    """Every k-th row of x, about ``rows`` of them (rows 0 and 1 among them); x itself when it has no more."""
    m = x.shape[0]
    if m <= 2 * rows:
        return x
    return torch.cat([x[:2], x[2 :: (m - 2) // rows + 1]])


def _columns(names: list[str], indices: list[int]) -> str:
    """ "column 'a' is" or "columns 'a', 'b' are" (at most 5 named)."""
    shown = ", ".join(repr(names[j]) for j in indices[:5]) + (
        f" and {len(indices) - 5} more" if len(indices) > 5 else ""
    )
    return f"column {shown} is" if len(indices) == 1 else f"columns {shown} are each"


def _constant_columns(x: Tensor) -> tuple[list[int], list[int]]:
    """(columns with one value, columns with one value in all rows but one).

    On tall x, a sample of rows names the candidates first: a column constant but for (at most) one row
    is so in every sample, which then holds at most one other value.  Only candidates are read whole."""
    sample = _row_sample(x, SAMPLE_ROWS)
    candidates = list(range(x.shape[1]))
    if sample is not x:
        with threads.torch_threads_for(sample, None):  # small: see _rank_test
            loose = _most_common_counts(sample)
        candidates = [j for j, count in enumerate(loose) if count >= len(sample) - 1]
        if not candidates:
            return [], []
    m = x.shape[0]
    most = _most_common_counts(x if len(candidates) == x.shape[1] else x[:, candidates])
    constant = [j for j, count in zip(candidates, most) if count == m]
    return constant, [j for j, count in zip(candidates, most) if count == m - 1]


def _most_common_counts(x: Tensor) -> list[int]:
    """Per column of x, how many rows equal row 0 or row 1 there, whichever more do: m for a constant
    column, m − 1 for one constant but for one row (which then equals row 0 or row 1 in m − 1 rows)."""
    same_as = torch.zeros(2, x.shape[1], dtype=torch.long, device=x.device)
    for block in x.split(_CHECK_ROWS):
        same_as[0] += (block == x[0]).sum(0)
        same_as[1] += (block == x[1]).sum(0)
    return same_as.max(0).values.tolist()


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


# A rise smaller than this many units of the dtype's rounding, relative to the cost, is rounding: a cost
# summed over m rows in float32 moves by a few 1e-7 between two evaluations of the same optimum.
RISE_ULPS = 256


def rising_cost_warning(
    iterations: list[int], costs: list[float], lr: float, eps: float = 2.0**-52
) -> str | None:
    """The first rise of the full-batch cost between two log steps beyond rounding, if any.  ``eps``: the
    training dtype's machine epsilon (``torch.finfo(dtype).eps``)."""
    tolerance = RISE_ULPS * eps
    for i in range(1, len(costs)):
        if costs[i] > costs[i - 1] + tolerance * max(abs(costs[i - 1]), abs(costs[i]), 1e-300):
            return (
                f"the cost rose from {costs[i - 1]:.6g} at iteration {iterations[i - 1]} "
                f"to {costs[i]:.6g} at iteration {iterations[i]}: "
                f"the learning rate may be too large (optimizer.lr={lr:g})"
            )
    return None


def separation_warning(train_accuracy: float, weight_norms: list[float], costs: list[float]) -> str | None:
    """With l2 = 0: every training row classified right means the data are separable, whatever their shape.

    The final weights classify every row right, which proves the rows separable, so the cost has
    no minimum: scaling those weights up lowers it toward 0 without end.  This holds however the
    run ended: still growing, or stopped because the cost (or its gradient) rounded to 0 in the
    working precision, as wide data (more features than rows) reach in a few steps.
    """
    if train_accuracy < 1.0 or not costs:
        return None
    growing = len(weight_norms) >= 2 and weight_norms[-1] > weight_norms[-2] and costs[-1] < costs[-2]
    how = "the weights keep growing" if growing else "the cost can fall further only as the weights grow"
    return (
        f"the training data are separable: every row is classified correctly and {how} "
        f"(norm {weight_norms[-1]:.4g}, cost {costs[-1]:.3g}), so the optimum is at infinity and the weights "
        f"are not determined; set model.l2 > 0 for finite weights"
    )


def convergence_warning(
    optimizer_name: str, iterations: int, grad_max: float, grad_tol: float, stalled: bool = False
) -> str:
    """scikit-learn's ConvergenceWarning, in one line.  ``stalled``: no step could lower the cost any more."""
    how = (
        f"stalled at iteration {iterations}: no step lowers the cost in this precision any more"
        if stalled
        else f"did not converge in {iterations} iterations"
    )
    advice = (
        "standardize the features (data.standardize=true) or add model.l2"
        if stalled
        else "standardize the features (data.standardize=true), raise train.iterations, or add model.l2"
    )
    return (
        f"{optimizer_name} {how}: the largest gradient entry is {grad_max:.3g}, above "
        f"optimizer.grad_tol={grad_tol:g}; {advice}"
    )


def tol_warning(tol: float, iterations: int, change: float | None) -> str:
    said = f"the last change was {change:.3g}" if change is not None else "no two log steps to compare"
    return (
        f"the cost did not settle to train.tol={tol:g} in {iterations} iterations ({said}); "
        f"raise train.iterations or optimizer.lr"
    )


def divergence_advice(
    optimizer_name: str,
    lr: float,
    steps_by_lr: bool,
    line_search: bool,
    weight_max: float,
    data_max: float | None,
    l2: float,
    dtype: torch.dtype,
) -> str:
    """What to try when the cost or a gradient stopped being finite, for this optimizer and these scales.

    ``steps_by_lr``: the optimizer's step is lr times a direction (gd, sgd, adam), so a smaller
    lr is the first thing to try.  Newton takes no lr and lbfgs's line search picks its own step:
    for them the cause lies in the scale of the data or of the weights, or in the precision."""
    largest = torch.finfo(dtype).max
    causes = []
    if weight_max > largest**0.5:
        causes.append(
            f"the weights reached {weight_max:.3g}, too large for {dtype} arithmetic (its largest number "
            f"is {largest:.3g}): start from smaller weights" + ("" if l2 else " or set model.l2 > 0")
        )
    if data_max is not None and not math.isfinite(data_max):
        causes.append(
            f"the features overflow {dtype} (their largest is beyond {largest:.3g}): rescale them"
            + (" or train in train.dtype=float64" if dtype != torch.float64 else "")
        )
    elif data_max is not None and data_max > 1e6:
        causes.append(
            f"the features reach {data_max:.3g}: standardize them (data.standardize=true) or rescale them"
        )
    if steps_by_lr:  # after a cause in the data or weights, which a smaller lr would not cure
        causes.append(f"{'else ' if causes else ''}try a smaller optimizer.lr (now {lr:g})")
    else:
        how = (
            "picks its step by a line search, so its step size is not the cause"
            if line_search
            else "takes no learning rate"
        )
        causes.insert(0, f"{optimizer_name} {how}")
        if len(causes) == 1:
            causes.append(
                "check the scale of the features (data.standardize=true) and of the weights, set "
                "model.l2 > 0" + (", or train in train.dtype=float64" if dtype != torch.float64 else "")
            )
    return "; ".join(causes)
