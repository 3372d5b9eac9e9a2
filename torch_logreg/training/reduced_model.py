"""The model under torchrun or streamed rows: cost, gradients and Hessian summed over every worker's
(or every block's) rows, as ``distributed``'s docstring derives.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..data import streaming


class ReducedModel:
    """``model`` as the optimizers see it under torchrun: cost, gradients and Hessian over all workers' rows.

    Everything but ``cost_and_grads`` and ``hessian`` is the model's own (``parameters``,
    ``l2``, ``null_directions``...).  It offers no one-neuron fast paths: they read this
    worker's rows alone, so Newton takes its generic path, which calls these two methods.
    """

    distributed = True

    def one_neuron_parameters(self) -> None:
        return None

    def __init__(self, model, group):  # group: distributed.Group or Solo
        self.model, self.group = model, group

    def __getattr__(self, name):
        return getattr(self.model, name)

    def parameters(self):
        return self.model.parameters()

    def cost_and_grads(
        self,
        x: Tensor,
        y: Tensor,
        *,
        sample_weight: Tensor | None = None,
        rows=None,
        l2_rows=None,
        with_cost: bool = False,
    ) -> tuple[Tensor | None, tuple[Tensor, ...]]:
        """(J or None, grads) of all the workers' rows.

        ``l2_rows``: as the model's (None: this batch's global m)."""
        if rows is not None:
            raise ValueError("ReducedModel finds the global row count itself; do not pass rows")
        here = _rows_here(x, sample_weight)
        cost, grads = self._local_sums(x, y, sample_weight, with_cost)
        flat = torch.cat(
            [here.reshape(1), cost.reshape(1).to(here.dtype), *(g.reshape(-1).to(here.dtype) for g in grads)]
        )
        self.group.all_reduce(flat)
        total = flat[0]
        parts = (flat[2:] / total).split([g.numel() for g in grads])
        grads = tuple(part.view_as(g).to(g.dtype) for part, g in zip(parts, grads))
        cost = (flat[1] / total).to(cost.dtype)
        if self.model.l2:
            l2_cost, l2_grads = self._l2_part(x, y, l2_rows if l2_rows is not None else total)
            cost = cost + l2_cost
            grads = tuple(g + extra for g, extra in zip(grads, l2_grads))
        return (cost if with_cost else None), grads

    def hessian(self, x: Tensor, *, sample_weight: Tensor | None = None, rows=None, l2_rows=None) -> Tensor:
        """∇²J of all the workers' rows, (P, P): one all-reduce of [m_w, H_w]."""
        here = _rows_here(x, sample_weight)
        local = self._local_hessian(x, sample_weight)
        flat = torch.cat([here.reshape(1), local.reshape(-1).to(here.dtype)])
        self.group.all_reduce(flat)
        total = flat[0]
        result = (flat[1:] / total).view_as(local).to(local.dtype)
        if self.model.l2:
            zero_x, zero_s = _zero_row(x)
            result = result + self.model.hessian(
                zero_x, sample_weight=zero_s, rows=1, l2_rows=l2_rows if l2_rows is not None else total
            )
        return result

    def row_span(self, count: int) -> tuple[int, int]:
        """(where this worker's ``count`` rows start in the global row index, the global count)."""
        return self.group.counts_before(count)

    def total_rows(self, x, sample_weight: Tensor | None) -> Tensor:
        """Every worker's m (or Σs), all-reduced."""
        return self.group.all_reduce(_rows_here(x, sample_weight).reshape(1))[0]

    def _local_sums(self, x, y, sample_weight, with_cost: bool) -> tuple[Tensor, tuple[Tensor, ...]]:
        """(Σ s·ℓ (0 unless ``with_cost``), its gradient) over this worker's rows.

        ``rows=1`` makes the mean a sum."""
        model = self.model
        if streaming.is_stream(x):  # block by block
            sums = streaming.block_sums(
                lambda xb, yb, sb: _flat_pair(self._local_sums(xb, yb, sb, with_cost)), x, y, sample_weight
            )
            return sums[0], sums[1:]
        if x.shape[0] == 0:  # no rows of this batch here: one row of weight 0 adds nothing
            y = y.new_zeros((1, *y.shape[1:]))
        x, sample_weight = _nonempty(x, sample_weight)
        if hasattr(model, "cost_and_grads"):
            cost, grads = model.cost_and_grads(
                x, y, sample_weight=sample_weight, rows=1, l2_rows=float("inf"), with_cost=with_cost
            )
            return (
                cost if cost is not None else torch.zeros((), dtype=grads[0].dtype, device=x.device)
            ), grads
        params = [p for p in model.parameters() if p.requires_grad]
        with torch.enable_grad():
            cost = model.cost(x, y, sample_weight=sample_weight, rows=1, l2_rows=float("inf"))
            grads = torch.autograd.grad(cost, params)
        return cost.detach(), grads

    def _local_hessian(self, x, sample_weight) -> Tensor:
        if streaming.is_stream(x):
            return streaming.block_sums(
                lambda xb, yb, sb: (self._local_hessian(xb, sb),), x, x_labels(x), sample_weight
            )[0]
        x, sample_weight = _nonempty(x, sample_weight)
        return self.model.hessian(x, sample_weight=sample_weight, rows=1, l2_rows=float("inf"))

    def _l2_part(self, x, y, l2_rows) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The L2 term and its gradient by the model's own formula: its cost on one row of weight 0."""
        zero_x, zero_s = _zero_row(x)
        zero_y = y.new_zeros((1, *y.shape[1:]))
        model = self.model
        if hasattr(model, "cost_and_grads"):
            return model.cost_and_grads(
                zero_x, zero_y, sample_weight=zero_s, rows=1, l2_rows=l2_rows, with_cost=True
            )
        params = [p for p in model.parameters() if p.requires_grad]
        with torch.enable_grad():
            cost = model.cost(zero_x, zero_y, sample_weight=zero_s, rows=1, l2_rows=l2_rows)
            grads = torch.autograd.grad(cost, params)
        return cost.detach(), grads


def _flat_pair(pair) -> tuple[Tensor, ...]:
    cost, grads = pair
    return (cost, *grads)


def x_labels(x) -> Tensor:
    """Stand-in labels for a Hessian's block pass (it reads no labels)."""
    return torch.zeros(len(x))


def _zero_row(x: Tensor) -> tuple[Tensor, Tensor]:
    """One row of zeros and its weight 0: it adds nothing to a sum, so the model's formulas
    on it give only the L2 term, and an empty shard's sums."""
    zeros = lambda *shape: torch.zeros(shape, dtype=x.dtype, device=x.device)  # noqa: E731 - x may be a stream
    return zeros(1, x.shape[1]), zeros(1)


def _nonempty(x: Tensor, sample_weight: Tensor | None) -> tuple[Tensor, Tensor | None]:
    return _zero_row(x) if x.shape[0] == 0 else (x, sample_weight)


def _rows_here(x, sample_weight: Tensor | None) -> Tensor:
    """This worker's m (or Σs) as a float64 tensor on x's device: the divisor's part."""
    if sample_weight is None:
        return torch.tensor(float(x.shape[0]), dtype=torch.float64, device=x.device)
    return sample_weight.sum().to(torch.float64)


def local_batch(global_rows: Tensor, start: int, count: int) -> Tensor:
    """The rows of a global batch that this worker holds, as its own row numbers.

    global_rows: (B,) indices into the global training rows; this worker holds
    [start, start + count).  Each worker takes its slice of every batch, so the
    workers' batches together are one process's batch.
    """
    mine = (global_rows >= start) & (global_rows < start + count)
    return global_rows[mine] - start
