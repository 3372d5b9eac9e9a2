"""Data-parallel training under ``torchrun``: one model, W workers, each with its own rows.

The objective is a mean over the training rows, so it splits into the workers' sums:

    J(θ) = (1/m) Σ_w Σ_{i ∈ rows(w)} s_i·ℓ(z_i, y_i) + (l2 / 2·m_L2)·Σ‖W‖²,   m = Σ_w Σ_{i ∈ rows(w)} s_i

Each worker computes its rows' sums with ``rows=1`` (the sum, not the mean) and
``l2_rows=inf`` (no L2 term), and ONE ``all_reduce(SUM)`` of one flat buffer
[m_w, J_w, ∇J_w (P,)] (Newton: [m_w, H_w (P·P,)]) gives m and the sums; dividing by
m and adding the L2 part, computed by the model itself on zero rows, gives every
worker exactly what one process computes on all the rows (to rounding).  The
divisor travels in the buffer, so a mini-batch whose rows fall unevenly on the
workers, or a weighted batch, needs no second collective.  ``DistributedDataParallel``
averages each worker's mean instead, which is wrong for uneven shards.

``Solo`` is the one-process group: the same methods, no collectives, so the trainer
has one code path.  ``session`` starts the process group from torchrun's
environment (gloo on the CPU, NCCL on CUDA, one GPU per local rank) with a
collective timeout, and ends it.  ``Group.agree`` runs a start-up phase that may fail
on some workers only (a bad shard, a run folder in the way) and turns any failure
into one line naming the rank on every worker, so the group ends instead of hanging
in the next collective.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
from pathlib import Path

import torch
from torch import Tensor

from ..data import streaming
from ..errors import UserInputError

logger = logging.getLogger(__name__)

# How long a collective (and the start-up's rendezvous inside init_process_group) may wait for a peer.
TIMEOUT_SECONDS = float(os.environ.get("TORCH_LOGREG_TIMEOUT", "300"))
WORLD_FILE = "world.json"


class WorkerError(UserInputError):
    """One worker's start-up failed; the message names the rank (and, from the data, the file)."""


def launched() -> bool:
    """True under torchrun (or any launcher that sets torch.distributed's environment)."""
    return all(key in os.environ for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"))


def restart_count() -> int:
    """How many times torchrun has restarted this group (0 on the first attempt)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)


def max_restarts() -> int:
    return int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0") or 0)


class Solo:
    """One process: every method is what a group of one computes, with no collective."""

    rank, world_size, local_rank, local_world_size = 0, 1, 0, 1
    active = False
    backend = None

    def all_reduce(self, tensor: Tensor) -> Tensor:
        return tensor

    def global_mean(self, values: Tensor) -> Tensor:
        return values.mean()

    def total(self, value: float) -> float:
        return value

    def gather_rows(self, tensor: Tensor) -> Tensor:
        return tensor

    def any(self, flag: bool) -> bool:
        return flag

    def broadcast(self, value):
        return value

    def agree(self, phase, *args, **kwargs):
        return phase(*args, **kwargs)

    def check_same_config(self, config_dict: dict) -> None:
        pass

    def counts_before(self, count: int) -> tuple[int, int]:
        """(rows on lower ranks, rows on all ranks)."""
        return 0, count


class Group(Solo):
    """The torchrun group this process belongs to.  ``device``: where its collectives' tensors live."""

    active = True

    def __init__(self, device: torch.device):
        import torch.distributed as dist

        self.dist = dist
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(self.world_size)))
        self.backend = dist.get_backend()
        self.device = device
        # Control flags (a signal seen on any worker) go through a CPU group of their own: on
        # NCCL, reading a flag reduced on the GPU would make every step wait for the GPU.
        self.control = dist.new_group(backend="gloo")

    def all_reduce(self, tensor: Tensor) -> Tensor:
        """Σ over the workers, in place (and returned)."""
        self.dist.all_reduce(tensor)
        return tensor

    def global_mean(self, values: Tensor) -> Tensor:
        """The mean over every worker's values: Σ and count all-reduced together."""
        flat = torch.stack([values.sum(), torch.tensor(values.numel(), dtype=values.dtype, device=values.device)])
        self.all_reduce(flat)
        return flat[0] / flat[1]

    def total(self, value: float) -> float:
        flat = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        return float(self.all_reduce(flat)[0])

    def gather_rows(self, tensor: Tensor) -> Tensor:
        """Every worker's rows of ``tensor`` (first dimension) concatenated in rank order, on every worker."""
        counts = [None] * self.world_size
        self.dist.all_gather_object(counts, int(tensor.shape[0]))
        most = max(counts)
        padded = torch.zeros((most, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
        padded[:tensor.shape[0]] = tensor
        pieces = [torch.empty_like(padded) for _ in range(self.world_size)]
        self.dist.all_gather(pieces, padded)
        return torch.cat([piece[:count] for piece, count in zip(pieces, counts)])

    def any(self, flag: bool) -> bool:
        """True on every worker if ``flag`` is on any: a CPU all-reduce, no GPU sync (asked every step)."""
        flat = torch.tensor([1.0 if flag else 0.0])
        self.dist.all_reduce(flat, group=self.control)
        return bool(flat[0] > 0)

    def broadcast(self, value):
        """Rank 0's ``value`` (any picklable object) on every worker."""
        box = [value if self.rank == 0 else None]
        self.dist.broadcast_object_list(box, src=0)
        return box[0]

    def counts_before(self, count: int) -> tuple[int, int]:
        counts = [None] * self.world_size
        self.dist.all_gather_object(counts, int(count))
        return sum(counts[:self.rank]), sum(counts)

    def agree(self, phase, *args, **kwargs):
        """Run ``phase`` here; if it failed on any worker, raise on every worker (no one waits forever).

        The failing worker raises ``WorkerError("rank r: <its message>")``; the others raise
        one saying which rank stopped the group.  An error that is not the user's (a bug)
        is re-raised as it is on the worker where it happened, with its traceback.
        """
        error, result = None, None
        try:
            result = phase(*args, **kwargs)
        except Exception as caught:  # noqa: BLE001 - every failure must reach the other workers
            error = caught
        message = None if error is None else (getattr(error, "command_line", None) or str(error) or repr(error))
        messages = [None] * self.world_size
        self.dist.all_gather_object(messages, message)
        failed = [(rank, text) for rank, text in enumerate(messages) if text is not None]
        if not failed:
            return result
        if error is not None:
            if isinstance(error, (UserInputError, OSError)):
                raise WorkerError(f"rank {self.rank}: {message}") from None
            raise error
        rank, text = failed[0]
        raise WorkerError(f"rank {self.rank}: stopped, because rank {rank} failed: {text}")

    def check_same_config(self, config_dict: dict) -> None:
        """Every worker must train the same config: compare hashes, and name the first differing key."""
        from .resume import flatten

        text = json.dumps(config_dict, sort_keys=True, default=str)
        digests = [None] * self.world_size
        self.dist.all_gather_object(digests, hashlib.sha256(text.encode()).hexdigest())
        if len(set(digests)) == 1:
            return
        configs = [None] * self.world_size
        self.dist.all_gather_object(configs, config_dict)
        mine, first = flatten(config_dict), flatten(configs[0])
        other = next(rank for rank, digest in enumerate(digests) if digest != digests[0])
        theirs = flatten(configs[other])
        key = next((k for k in sorted(set(first) | set(theirs)) if first.get(k) != theirs.get(k)), "?")
        raise WorkerError(f"rank {self.rank}: the workers' configs differ (config hash {digests[0][:12]} on rank 0, "
                          f"{digests[other][:12]} on rank {other}): {key} is {first.get(key)!r} on rank 0 and "
                          f"{theirs.get(key)!r} on rank {other}" + ("" if mine == first or mine == theirs else ""))


@contextlib.contextmanager
def session(device: torch.device, threads: int | None = None):
    """(group, device) for this process: ``Solo`` without torchrun, else the process group
    (gloo for cpu, NCCL for cuda on ``cuda:LOCAL_RANK``).  A group the caller started already
    is used and left running; one started here is destroyed at the end.  Workers other than
    rank 0 log warnings only, so a run prints its progress once."""
    if not launched():
        if threads:
            torch.set_num_threads(threads)
        yield Solo(), device
        return
    import torch.distributed as dist

    local_rank = int(os.environ["LOCAL_RANK"])
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    torch.set_num_threads(threads or max(1, (os.cpu_count() or 1) // local_world))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    started = not dist.is_initialized()
    if started:
        timeout = datetime.timedelta(seconds=TIMEOUT_SECONDS)
        store, rank, world_size = next(dist.rendezvous("env://", timeout=timeout))
        # torchrun keeps one store across restarts: a restarted group that read the keys of the
        # attempt before would connect to the dead workers' ports.  Each attempt gets its own keys.
        store = dist.PrefixStore(f"torch_logreg/attempt_{restart_count()}/", store)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", store=store, rank=rank,
                                world_size=world_size, timeout=timeout)
    package_logger = logging.getLogger("torch_logreg")
    level = package_logger.level
    if dist.get_rank() != 0:
        package_logger.setLevel(logging.WARNING)
    try:
        yield Group(device), device
    finally:
        package_logger.setLevel(level)
        if started:
            with contextlib.suppress(Exception):
                dist.destroy_process_group()


def write_world(run_dir: Path, group: Solo) -> None:
    """Append this start's world (size, backend, restart) to ``world.json`` in the run folder."""
    from ..checkpoint import atomic_write_text

    path = Path(run_dir) / WORLD_FILE
    starts = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    starts.append({"world_size": group.world_size, "backend": group.backend, "restart": restart_count()})
    atomic_write_text(path, json.dumps(starts, indent=2) + "\n")


def restart_plan(group: Group, run_dir, resume: bool, overwrite: bool) -> tuple[bool, bool]:
    """(resume, overwrite) for this start: a torchrun restart continues from the run's checkpoint.

    Restarts need an explicit run folder: a fresh timestamped one would not hold the checkpoint.
    A restart before the first checkpoint was written starts the run again in the same folder.
    """
    from ..checkpoint import CHECKPOINT_NAME

    if max_restarts() > 0 and run_dir is None:
        raise WorkerError(f"rank {group.rank}: torchrun --max-restarts needs an explicit --run-dir: a restarted "
                          f"worker continues from that folder's checkpoint")
    if restart_count() == 0 or resume:
        return resume, overwrite
    found = group.broadcast((Path(run_dir) / CHECKPOINT_NAME).is_file())
    if group.rank == 0:
        logger.warning("restart %d: %s", restart_count(),
                       f"continuing from {Path(run_dir) / CHECKPOINT_NAME}" if found else "no checkpoint yet; starting over")
    return (True, False) if found else (False, True)


# ---------------------------------------------------------------- the model, reduced


class ReducedModel:
    """``model`` as the optimizers see it under torchrun: cost, gradients and Hessian over every worker's rows.

    Everything but ``cost_and_grads`` and ``hessian`` is the model's own (``parameters``,
    ``l2``, ``null_directions``...).  It offers no one-neuron fast paths: they read this
    worker's rows alone, so Newton takes its generic path, which calls these two methods.
    """

    distributed = True

    def one_neuron_parameters(self) -> None:
        return None

    def __init__(self, model, group: Group):
        self.model, self.group = model, group

    def __getattr__(self, name):
        return getattr(self.model, name)

    def parameters(self):
        return self.model.parameters()

    def cost_and_grads(self, x: Tensor, y: Tensor, *, sample_weight: Tensor | None = None, rows=None,
                       l2_rows=None, with_cost: bool = False) -> tuple[Tensor | None, tuple[Tensor, ...]]:
        """(J or None, grads) of all the workers' rows; ``l2_rows`` as the model's (None: this batch's global m)."""
        if rows is not None:
            raise ValueError("ReducedModel finds the global row count itself; do not pass rows")
        here = _rows_here(x, sample_weight)
        cost, grads = self._local_sums(x, y, sample_weight, with_cost)
        flat = torch.cat([here.reshape(1), cost.reshape(1).to(here.dtype), *(g.reshape(-1).to(here.dtype)
                                                                             for g in grads)])
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
            result = result + self.model.hessian(zero_x, sample_weight=zero_s, rows=1,
                                                 l2_rows=l2_rows if l2_rows is not None else total)
        return result

    def row_span(self, count: int) -> tuple[int, int]:
        """(where this worker's ``count`` rows start in the global row index, the global count)."""
        return self.group.counts_before(count)

    def total_rows(self, x, sample_weight: Tensor | None) -> Tensor:
        """Every worker's m (or Σs), all-reduced."""
        return self.group.all_reduce(_rows_here(x, sample_weight).reshape(1))[0]

    def _local_sums(self, x, y, sample_weight, with_cost: bool) -> tuple[Tensor, tuple[Tensor, ...]]:
        """(Σ s·ℓ (0 unless ``with_cost``), its gradient) over this worker's rows: ``rows=1`` makes the mean a sum."""
        model = self.model
        if streaming.is_stream(x):  # block by block
            sums = streaming.block_sums(lambda xb, yb, sb: _flat_pair(self._local_sums(xb, yb, sb, with_cost)),
                                        x, y, sample_weight)
            return sums[0], sums[1:]
        if x.shape[0] == 0:  # no rows of this batch here: one row of weight 0 adds nothing
            y = y.new_zeros((1, *y.shape[1:]))
        x, sample_weight = _nonempty(x, sample_weight)
        if hasattr(model, "cost_and_grads"):
            cost, grads = model.cost_and_grads(x, y, sample_weight=sample_weight, rows=1, l2_rows=float("inf"),
                                               with_cost=with_cost)
            return (cost if cost is not None else torch.zeros((), dtype=grads[0].dtype, device=x.device)), grads
        params = [p for p in model.parameters() if p.requires_grad]
        with torch.enable_grad():
            cost = model.cost(x, y, sample_weight=sample_weight, rows=1, l2_rows=float("inf"))
            grads = torch.autograd.grad(cost, params)
        return cost.detach(), grads

    def _local_hessian(self, x, sample_weight) -> Tensor:
        if streaming.is_stream(x):
            return streaming.block_sums(lambda xb, yb, sb: (self._local_hessian(xb, sb),), x, x_labels(x),
                                        sample_weight)[0]
        x, sample_weight = _nonempty(x, sample_weight)
        return self.model.hessian(x, sample_weight=sample_weight, rows=1, l2_rows=float("inf"))

    def _l2_part(self, x, y, l2_rows) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The L2 term and its gradient by the model's own formula: its cost on one row of weight 0."""
        zero_x, zero_s = _zero_row(x)
        zero_y = y.new_zeros((1, *y.shape[1:]))
        model = self.model
        if hasattr(model, "cost_and_grads"):
            return model.cost_and_grads(zero_x, zero_y, sample_weight=zero_s, rows=1, l2_rows=l2_rows,
                                        with_cost=True)
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
