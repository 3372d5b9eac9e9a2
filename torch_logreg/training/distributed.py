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

from ..errors import UserInputError

logger = logging.getLogger(__name__)

# How long a collective (and the start-up's rendezvous inside init_process_group) may wait for a peer.
TIMEOUT_SECONDS = float(os.environ.get("TORCH_LOGREG_TIMEOUT", "300"))
WORLD_FILE = "world.json"


class WorkerError(UserInputError):
    """One worker's start-up failed; the message names the rank (and, from the data, the file)."""


def _unprefixed(text: str, rank: int) -> str:
    """A worker's message without its own "rank r: " prefix, or the "stopped, because ..." of a nested
    phase: the line that quotes it names the rank once."""
    text = text.removeprefix(f"rank {rank}: ")
    return (
        text.split(" failed: ", 1)[1]
        if text.startswith("stopped, because rank ") and " failed: " in text
        else text
    )


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
        flat = torch.stack(
            [values.sum(), torch.tensor(values.numel(), dtype=values.dtype, device=values.device)]
        )
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
        padded[: tensor.shape[0]] = tensor
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
        return sum(counts[: self.rank]), sum(counts)

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
        message = (
            None if error is None else (getattr(error, "command_line", None) or str(error) or repr(error))
        )
        messages = [None] * self.world_size
        self.dist.all_gather_object(messages, message)
        failed = [(rank, text) for rank, text in enumerate(messages) if text is not None]
        if not failed:
            return result
        if error is not None:
            if isinstance(error, WorkerError):  # a nested phase's: already agreed and prefixed, once
                raise error
            if isinstance(error, (UserInputError, OSError)):
                raise WorkerError(f"rank {self.rank}: {message}") from None
            raise error
        rank, text = failed[0]
        text = _unprefixed(text, rank)
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
        raise WorkerError(
            f"rank {self.rank}: the workers' configs differ (config hash {digests[0][:12]} on rank 0, "
            f"{digests[other][:12]} on rank {other}): {key} is {first.get(key)!r} on rank 0 and "
            f"{theirs.get(key)!r} on rank {other}" + ("" if mine == first or mine == theirs else "")
        )


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
        dist.init_process_group(
            "nccl" if device.type == "cuda" else "gloo",
            store=store,
            rank=rank,
            world_size=world_size,
            timeout=timeout,
        )
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
        raise WorkerError(
            f"rank {group.rank}: torchrun --max-restarts needs an explicit --run-dir: a restarted "
            f"worker continues from that folder's checkpoint"
        )
    if restart_count() == 0 or resume:
        return resume, overwrite
    found = group.broadcast((Path(run_dir) / CHECKPOINT_NAME).is_file())
    if group.rank == 0:
        logger.warning(
            "restart %d: %s",
            restart_count(),
            f"continuing from {Path(run_dir) / CHECKPOINT_NAME}"
            if found
            else "no checkpoint yet; starting over",
        )
    return (True, False) if found else (False, True)
