"""Section 2: the training loop's marginal time per iteration, against a plain autograd loop.

Each is run to N1 and to N2 iterations and timed whole; (t(N2) − t(N1)) / (N2 − N1) is
the time an extra iteration costs, with start-up (data loading, the run folder,
TensorBoard, the final checkpoint) cancelled out.  N2 − N1 is a multiple of log_every
(100), so the difference holds its share of log steps.

* ours: ``torch_logreg.trainer.Trainer(config, run_dir).run()`` (what ``train`` does), with
  gd, α = 0.5, log_every=100, print_cost=false, checkpoint_every=0;
* plain autograd: nn.Linear + BCEWithLogitsLoss + torch.optim.SGD on the same training rows,
  reading the loss (``.item()``) every 100 iterations, as a hand-rolled loop logs.

The default data trains on its 427-row training split. A synthetic size m×n trains on
exactly m rows from a float32 .npy file (``data.path``, ``data.standardize=false``), with a
separate small test file (``data.test_path``) so the size is the training set's.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from torch_logreg.config import load_config
from torch_logreg.trainer import Trainer

from . import problems, timing

LEARNING_RATE = 0.5
LOG_EVERY = 100
TEST_ROWS = 10_000


def plain_autograd_loop(x: torch.Tensor, y: torch.Tensor, iterations: int) -> list[float]:
    """The loop most PyTorch code would write, logging the loss every LOG_EVERY steps."""
    linear = nn.Linear(x.shape[1], 1, device=x.device)
    nn.init.zeros_(linear.weight), nn.init.zeros_(linear.bias)
    criterion = nn.BCEWithLogitsLoss()
    sgd = torch.optim.SGD(linear.parameters(), lr=LEARNING_RATE)
    costs = []
    for it in range(iterations):
        sgd.zero_grad(set_to_none=True)
        loss = criterion(linear(x).squeeze(1), y)
        loss.backward()
        sgd.step()
        if it % LOG_EVERY == 0:
            costs.append(loss.item())
    return costs


class _TrainerRuns:
    """Runs the trainer with fixed overrides into fresh folders under ``root``."""

    def __init__(self, overrides: list[str], root: Path, device: str):
        self.overrides, self.root, self.device = overrides, root, device
        self.kind = None
        self.count = 0

    def __call__(self, iterations: int) -> float:
        config = load_config(None, [*self.overrides, f"train.iterations={iterations}"])
        self.count += 1
        run_dir = self.root / f"run{self.count}"

        def run():
            trainer = Trainer(config, run_dir)
            self.kind = trainer.step_kind
            trainer.run()

        seconds = timing.wall(run, self.device)
        shutil.rmtree(run_dir, ignore_errors=True)
        return seconds


def _common(device: str) -> list[str]:
    return [f"train.device={device}", "optimizer.name=gd", f"optimizer.lr={LEARNING_RATE}",
            f"train.log_every={LOG_EVERY}", "train.print_cost=false", "train.checkpoint_every=0"]


def measure(size: problems.Size, device: str, counts: tuple[int, int], repeats: int, root: Path) -> dict:
    if size.default_data:
        overrides = _common(device)
        x, y = problems.default_train_split()
    else:
        x, y = problems.synthetic(size.m, size.n)
        x_test, y_test = problems.synthetic(min(TEST_ROWS, max(size.m // 4, 2)), size.n, seed=1)
        train_file = problems.write_npy(root / "train.npy", x, y)
        test_file = problems.write_npy(root / "test.npy", x_test, y_test)
        overrides = [*_common(device), f"data.path={train_file}", f"data.test_path={test_file}",
                     "data.standardize=false"]
    x, y = x.to(device=device, dtype=torch.float32), y.to(device=device, dtype=torch.float32)
    trainer = _TrainerRuns(overrides, root, device)
    samples = {("ours", n): [] for n in counts} | {("autograd", n): [] for n in counts}
    trainer(counts[0])  # warm-up: imports, allocator, first-call costs
    timing.wall(lambda: plain_autograd_loop(x, y, counts[0]), device)
    for _ in range(repeats):
        for n in counts:
            samples[("ours", n)].append(trainer(n))
            samples[("autograd", n)].append(timing.wall(lambda: plain_autograd_loop(x, y, n), device))
    median = {key: statistics.median(values) for key, values in samples.items()}
    extra = counts[1] - counts[0]
    ours = (median[("ours", counts[1])] - median[("ours", counts[0])]) / extra
    autograd = (median[("autograd", counts[1])] - median[("autograd", counts[0])]) / extra
    return {"ours": ours, "autograd": autograd, "kind": trainer.kind, "train_rows": x.shape[0],
            "ours_total": {n: median[("ours", n)] for n in counts},
            "autograd_total": {n: median[("autograd", n)] for n in counts}}


TARGETS = {problems.DEFAULT: 3.0}  # every other size: ≥ 1.0×


def run(plan: list[tuple[problems.Size, tuple[int, int], int]], device: str, log=print) -> dict:
    """``plan``: (size, (N1, N2), repeats) per size."""
    rows = []
    for size, counts, repeats in plan:
        log(f"[loop] {size.label} on {device}: N = {counts}, {repeats} repeat(s)")
        root = Path(tempfile.mkdtemp(prefix="logreg-bench-"))
        started = time.perf_counter()
        try:
            result = measure(size, device, counts, repeats, root)
        except Exception as error:
            rows.append({"size": size.label, "m": size.m, "n": size.n, "error": f"{type(error).__name__}: {error}"})
            continue
        finally:
            shutil.rmtree(root, ignore_errors=True)
        target = TARGETS.get(size, 1.0)
        speedup = result["autograd"] / result["ours"]
        rows.append({
            "size": size.label, "m": size.m, "n": size.n, "train_rows": result["train_rows"],
            "step_kind": result["kind"], "n1": counts[0], "n2": counts[1], "repeats": repeats,
            "ours_ms_per_it": result["ours"] * 1e3, "autograd_ms_per_it": result["autograd"] * 1e3,
            "speedup": speedup, "target": target, "met": "yes" if speedup >= target else "NO",
            "ours_total_s": result["ours_total"], "autograd_total_s": result["autograd_total"],
            "section_seconds": time.perf_counter() - started,
        })
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    notes = ["ms/it: (t(N2) − t(N1)) / (N2 − N1) of whole runs, t the median over repeats; "
             "speedup = autograd ms/it ÷ ours (> 1: the trainer is faster); target from the issue."]
    return {"title": "Training loop: marginal time per iteration (gd, log_every=100)", "rows": rows, "notes": notes,
            "columns": [("size", "size", "s"), ("train_rows", "train rows", "d"), ("step_kind", "step", "s"),
                        ("n1", "N1", "d"), ("n2", "N2", "d"), ("ours_ms_per_it", "trainer ms/it", ".4f"),
                        ("autograd_ms_per_it", "autograd loop ms/it", ".4f"), ("speedup", "speedup", ".2f"),
                        ("target", "target", ".1f"), ("met", "met", "s")]}
