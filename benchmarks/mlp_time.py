"""Section: the MLP's training loop against the loop a PyTorch user would write, per iteration.

Both run full-batch gradient descent (α = 0.1) on the same float32 rows, to N1 and to N2
iterations, timed whole; (t(N2) − t(N1)) / (N2 − N1) is the marginal time per iteration,
with start-up and the final metrics cancelled out.

* ours: ``torch_logreg.train(config, data=split, save=False)`` with ``model.name=mlp``
  (tanh, ``model.hidden=[h]``), the hand-written ``MLP.cost_and_grads`` step;
* PyTorch: ``nn.Sequential(nn.Linear, nn.Tanh, nn.Linear)`` + ``BCEWithLogitsLoss``
  (one output) or ``CrossEntropyLoss`` (K outputs) + ``torch.optim.SGD``, reading the
  loss with ``.item()`` at the same iterations as ``train`` logs (every ``log_every``).

Sizes (m×n → hidden → outputs): the flower (400×2 → 4 → 1, all 400 points as training
rows), 100k×100 → 256 → 1 and 100k×784 → 512 → 10 (synthetic, random labels: the time
of a step does not depend on them).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from torch_logreg import load_config, train
from torch_logreg.data.datasets.planar import make_flower

from . import problems, timing

LEARNING_RATE = 0.1
TEST_ROWS = 1_000


class Net(NamedTuple):
    m: int
    n: int
    hidden: int
    classes: int  # 2: one output neuron; K: K outputs

    @property
    def outputs(self) -> int:
        return 1 if self.classes == 2 else self.classes

    @property
    def label(self) -> str:
        name = f"{problems.Size(self.m, self.n).label} → {self.hidden} → {self.outputs}"
        return name + (" (flower)" if self == FLOWER else "")


FLOWER = Net(400, 2, 4, 2)
# speedup over the PyTorch loop that each size should reach (the MLP issue's CPU targets)
TARGETS = {FLOWER: 2.0, Net(100_000, 100, 256, 2): 1.2, Net(100_000, 784, 512, 10): 1.0}


def data_for(net: Net, device: str) -> tuple[torch.Tensor, torch.Tensor, object]:
    """float32 x (m, n), y (m,) class indices, and the ``Split`` that ``train`` gets."""
    if net == FLOWER:
        x_np, y_np, _ = make_flower(0)
        x = torch.from_numpy(np.asarray(x_np, dtype=np.float32)).to(device)
        y = torch.from_numpy(np.asarray(y_np, dtype=np.float32)).to(device)
        return x, y, problems.in_memory_split(x, y, x[:100], y[:100])
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(net.m + TEST_ROWS, net.n, generator=gen, device=device)
    y = torch.randint(0, net.classes, (net.m + TEST_ROWS,), generator=gen, device=device).float()
    split = problems.in_memory_split(
        x[: net.m], y[: net.m], x[net.m :], y[net.m :], classes=list(range(net.classes))
    )
    return x[: net.m], y[: net.m], split


def pytorch_loop(net: Net, x: torch.Tensor, y: torch.Tensor, iterations: int, log_every: int) -> list[float]:
    """The loop a PyTorch user writes: Sequential + stock loss + SGD, the loss read every ``log_every``."""
    model = nn.Sequential(nn.Linear(net.n, net.hidden), nn.Tanh(), nn.Linear(net.hidden, net.outputs)).to(
        x.device
    )
    if net.outputs == 1:
        criterion, target = nn.BCEWithLogitsLoss(), y
    else:
        criterion, target = nn.CrossEntropyLoss(), y.long()
    sgd = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    costs = []
    for it in range(iterations):
        sgd.zero_grad(set_to_none=True)
        logits = model(x)
        loss = criterion(logits.squeeze(1) if net.outputs == 1 else logits, target)
        loss.backward()
        sgd.step()
        if it % log_every == 0:
            costs.append(loss.item())
    return costs


def measure(net: Net, device: str, counts: tuple[int, int], repeats: int, log_every: int) -> dict:
    x, y, split = data_for(net, device)
    overrides = [
        "model.name=mlp",
        f"model.hidden=[{net.hidden}]",
        "model.activation=tanh",
        "optimizer.name=gd",
        f"optimizer.lr={LEARNING_RATE}",
        f"train.log_every={log_every}",
        "train.print_cost=false",
        f"train.device={device}",
        "train.dtype=float32",
    ]

    def ours(iterations: int) -> float:
        config = load_config(None, [*overrides, f"train.iterations={iterations}"])
        return timing.wall(lambda: train(config, data=split, save=False), device)

    def pytorch(iterations: int) -> float:
        return timing.wall(lambda: pytorch_loop(net, x, y, iterations, log_every), device)

    found = timing.marginal_per_iteration({"ours": ours, "pytorch": pytorch}, counts, repeats)
    return {name: found[name][0] for name in found} | {"totals": {name: found[name][1] for name in found}}


def run(plan: list[tuple[Net, tuple[int, int], int, int]], device: str, log=print) -> dict:
    """``plan``: (net, (N1, N2), repeats, log_every) per size."""
    rows = []
    for net, counts, repeats, log_every in plan:
        log(f"[mlp] {net.label} on {device}: N = {counts}, {repeats} repeat(s), log_every={log_every}")
        started = time.perf_counter()
        try:
            result = measure(net, device, counts, repeats, log_every)
        except Exception as error:  # report it, time the other sizes
            rows.append({"size": net.label, "error": f"{type(error).__name__}: {error}"})
            continue
        target = TARGETS.get(net)
        speedup = result["pytorch"] / result["ours"]
        rows.append(
            {
                "size": net.label,
                "m": net.m,
                "n": net.n,
                "hidden": net.hidden,
                "outputs": net.outputs,
                "n1": counts[0],
                "n2": counts[1],
                "repeats": repeats,
                "log_every": log_every,
                "ours_ms_per_it": result["ours"] * 1e3,
                "pytorch_ms_per_it": result["pytorch"] * 1e3,
                "speedup": speedup,
                "target": f"≥ {target:g}× PyTorch loop" if target else "",
                "met": ("yes" if speedup >= target else "NO") if target else "",
                "totals_s": result["totals"],
                "section_seconds": time.perf_counter() - started,
            }
        )
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    notes = [
        "ms/it: (t(N2) − t(N1)) / (N2 − N1) of whole runs, t the median over interleaved repeats; "
        "speedup = PyTorch loop ms/it ÷ ours (> 1: train() is faster).",
        "Both read the cost every log_every iterations; at those iterations train() also evaluates "
        "the test cost, the accuracies and the gradient's norm (a log step is inside N2 − N1 "
        "only when log_every divides it).",
        f"gd at α = {LEARNING_RATE}, tanh, float32, full batch; the PyTorch loop is nn.Sequential + "
        "BCEWithLogitsLoss / CrossEntropyLoss + torch.optim.SGD.",
    ]
    return {
        "title": "MLP training loop: marginal time per iteration against the PyTorch loop",
        "rows": rows,
        "notes": notes,
        "columns": [
            ("size", "m×n → hidden → outputs", "s"),
            ("n1", "N1", "d"),
            ("n2", "N2", "d"),
            ("log_every", "log_every", "d"),
            ("ours_ms_per_it", "train() ms/it", ".4f"),
            ("pytorch_ms_per_it", "PyTorch loop ms/it", ".4f"),
            ("speedup", "speedup", ".2f"),
            ("target", "target", "s"),
            ("met", "met", "s"),
        ],
    }
