"""The estimators' fit on scipy.sparse X: the trainer's optimizers, step and loop on a sparse x.

    J = (1/Σs) Σᵢ sᵢ·ℓ(xᵢ Wᵀ + b, yᵢ) + (l2/2Σs)·‖W‖²

The model is ``LogisticRegression`` itself: given x as ``nn.sparse.SparseRows`` its
``cost_and_grads``, ``hessian`` and ``hessian_product`` run on CSR products of x and xᵀ, never
densified.  Everything else is the trainer's: ``optimizers.make_optimizer`` builds the optimizer
(``newton`` with the formed Hessian while P = K(n+1) is at most ``newton.NEWTON_MAX_FEATURES + 1``,
Newton–CG on H v beyond; ``lbfgs``; ``gd``/``sgd``/``adam``), ``steps.make_step`` its step,
``batches.Batches`` the mini-batches (drawn from (seed, epoch)) and ``loop.minimize`` the
schedule and the stopping rules: ``newton`` and ``lbfgs`` stop on their gradient test (``tol``);
``gd``/``sgd``/``adam`` once the full training cost changes by less than ``cost_tol`` from one
epoch to the next (the trainer's ``train.tol``).  ``tol=0`` runs ``max_iter`` steps.

What the trainer adds for dense rows (standardization, held-out rows, TensorBoard, checkpoints)
has no use here: scikit-learn's ``fit`` writes nothing and holds nothing out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .nn.logistic import LogisticRegression
from .nn.sparse import SparseRows
from .training.batches import Batches
from .training.capabilities import capabilities
from .training.loop import LoopEnd, Schedule, minimize
from .training.optimizers import make_optimizer
from .training.steps import make_step

# L-BFGS history on sparse X: scipy's L-BFGS-B keeps 10.  A history of 100 would hold 200 vectors
# of P, more than the CSR itself when n is large.
LBFGS_HISTORY = 10


@dataclass
class SparseFit:
    model: LogisticRegression
    iterations: int
    converged: bool
    grad_max: float
    stalled: bool = False


@dataclass
class _SparseObjective:
    """What ``loop.minimize`` runs: the trainer's step on ``batches``, the full-batch cost at log steps."""

    model: LogisticRegression
    optimizer: object
    step: object
    batches: Batches
    l2_rows: float | None
    cost_tol: float | None
    iteration: int = 0

    def step_at(self, it: int) -> None:
        self.step(*self.batches.batch(it))

    def log(self, it: int) -> float:
        """The full training cost, which the loop reads only for ``cost_tol``: without it NaN, and no pass
        over x (but where Newton's next step starts from it anyway)."""
        x, y, s = self.batches.x, self.batches.y, self.batches.weights
        if self.batches.batch_size is None and hasattr(self.optimizer, "cost_and_gradient"):
            return self.optimizer.cost_and_gradient(x, y, s, self.l2_rows)[0]
        if not self.cost_tol:
            return float("nan")
        cost, _ = self.model.cost_and_grads(x, y, sample_weight=s, l2_rows=self.l2_rows, with_cost=True)
        return float(cost)

    def grad_max(self) -> float:
        """The full-batch gradient's largest entry at the parameters reached (Newton's and L-BFGS's own,
        where they computed it there)."""
        x, y, s = self.batches.x, self.batches.y, self.batches.weights
        full_batch = self.batches.batch_size is None
        if full_batch and hasattr(self.optimizer, "cost_and_gradient"):
            return float(self.optimizer.cost_and_gradient(x, y, s, self.l2_rows)[1].abs().max())
        if full_batch and self.iteration and capabilities(self.optimizer).needs_closure:
            return float(self.optimizer.grad_max)  # evaluated after its last step, at the point reached
        _, grads = self.model.cost_and_grads(x, y, sample_weight=s)
        return max(float(g.abs().max()) for g in grads)

    def converged(self) -> bool:
        return capabilities(self.optimizer).iterates_to_convergence and (
            self.optimizer.converged or self.optimizer.stalled
        )

    def checkpoint(self, seconds: float) -> None:  # scikit-learn's fit saves nothing
        pass

    def interrupted(self, signum: int, seconds: float) -> None:
        raise KeyboardInterrupt

    def finish(self, seconds: float, end: LoopEnd) -> LoopEnd:
        return end


def fit_sparse(
    matrix,
    y: torch.Tensor,
    sample_weight: torch.Tensor | None,
    *,
    classes: int,
    l2: float,
    optimizer: str,
    lr: float,
    max_iter: int,
    tol: float,
    batch_size: int | None,
    seed: int,
    dtype: torch.dtype,
    cost_tol: float | None = None,
) -> SparseFit:
    """Fit ``LogisticRegression(n, classes)`` from zeros on the scipy.sparse ``matrix`` (m, n).

    y: (m,) 0./1. for 2 classes, int64 class indices for K; sample_weight: (m,) or None."""
    x = SparseRows(matrix, dtype)
    m, n = x.shape
    model = LogisticRegression(n, classes, l2=l2, dtype=dtype)
    batch = batch_size if batch_size and batch_size < m else None
    # The L2 term's divisor in a mini-batch is that of the whole data (m or Σs), as the trainer's.
    l2_rows = None if batch is None else (m if sample_weight is None else float(sample_weight.sum()))
    opt = make_optimizer(optimizer, model, lr, seed=seed, grad_tol=tol, history_size=LBFGS_HISTORY)
    _, step = make_step(model, opt, x, batch is None, l2_rows)
    batches = Batches(x, y, sample_weight, m, batch, seed)
    objective = _SparseObjective(model, opt, step, batches, l2_rows, cost_tol)
    per_epoch = 1 if batch is None else math.ceil(m / batch)
    log_every = per_epoch if cost_tol else max(max_iter, 1)  # the cost is read for train.tol only
    end = minimize(objective, Schedule(max_iter, log_every, cost_tol or None))
    grad_max = objective.grad_max()
    if capabilities(opt).iterates_to_convergence:
        converged, stalled = bool(opt.converged), bool(opt.stalled and not opt.converged)
    else:
        converged, stalled = end.tol_reached if cost_tol else grad_max <= tol, False
    return SparseFit(model, objective.iteration, converged, grad_max, stalled)
