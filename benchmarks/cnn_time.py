"""The CNN's training step against the same network in plain PyTorch, ratios in one run.

One step = the cost of a batch, its gradients, one Adam update (lr 1e-3), in float32:

* ours: ``torch_logreg.CNN`` stepped as ``train()`` steps it (``training.steps.make_step``): the
  gradients from its graph-free ``cost_and_grads`` (the hand-written formulas of ``conv2d``,
  ``max_pool2d``, ``linear``, …), then ``torch.optim.Adam``;
* PyTorch: ``nn.Sequential(nn.Conv2d, nn.ReLU, nn.MaxPool2d, …, nn.Flatten, nn.Linear, …)`` with the same
  weights, ``F.cross_entropy`` and autograd, the same ``torch.optim.Adam``.

The two are timed interleaved (``timing.interleaved_medians``), so a load that comes and goes on the
machine falls on both.  Sizes (the issue's): 8×8×1 digits-sized images, conv 16 → pool → conv 32 → pool →
dense 64 → 10 classes, batches of 64; and 32×32×3 images through 64-channel convolutions
(conv 64 → pool → conv 64 → pool → dense 128 → 10), batches of 64.

    python -m benchmarks.cnn_time [--device cuda] [--out benchmarks/results]

writes ``cnn-<machine>-<date>.json`` and ``.md`` (with the command) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from torch_logreg import CNN
from torch_logreg.training.steps import make_step

from . import machine, timing

LEARNING_RATE = 1e-3


class Net(NamedTuple):
    image: tuple[int, int, int]  # (C, H, W)
    channels: tuple[int, ...]
    hidden: int
    classes: int
    batch: int

    @property
    def label(self) -> str:
        c, h, w = self.image
        convs = " → ".join(f"conv {k} → pool" for k in self.channels)
        return f"{h}×{w}×{c}, {convs} → {self.hidden} → {self.classes}, batch {self.batch}"


SIZES = [Net((1, 8, 8), (16, 32), 64, 10, 64), Net((3, 32, 32), (64, 64), 128, 10, 64)]
TARGET = 1.0  # the issue's: our step at least as fast as plain PyTorch's


def stock_network(model: CNN) -> nn.Sequential:
    """``model`` rebuilt from stock layers, with its weights."""
    layers, channels = [], model.image_shape[0]
    for conv in model.convolutions:
        stock = nn.Conv2d(channels, conv.out_channels, conv.kernel_size, padding=conv.padding)
        stock.load_state_dict(conv.state_dict())
        layers += [stock, nn.ReLU(), nn.MaxPool2d(2)]
        channels = conv.out_channels
    layers.append(nn.Flatten())
    for index, layer in enumerate(model.dense_layers):
        stock = nn.Linear(layer.weight.shape[1], layer.weight.shape[0])
        stock.load_state_dict(layer.state_dict())
        layers += [stock, nn.ReLU()] if index < len(model.dense_layers) - 1 else [stock]
    return nn.Sequential(*layers)


def steps(net: Net, device: str):
    """(our step, PyTorch's step): each a function that trains one batch."""
    torch.manual_seed(0)
    c, h, w = net.image
    ours = CNN(c * h * w, net.image, net.channels, 3, "max", (net.hidden,), net.classes, "relu").to(device)
    stock = stock_network(ours).to(device)
    x = torch.randn(net.batch, c, h, w, device=device)
    y = torch.randint(0, net.classes, (net.batch,), device=device)
    ours_adam = torch.optim.Adam(ours.parameters(), lr=LEARNING_RATE)
    stock_adam = torch.optim.Adam(stock.parameters(), lr=LEARNING_RATE)

    _, train_step = make_step(ours, ours_adam, x, full_batch=False)

    def our_step():
        train_step(x, y, None)

    def stock_step():
        stock_adam.zero_grad(set_to_none=True)
        F.cross_entropy(stock(x), y).backward()
        stock_adam.step()

    return our_step, stock_step


def run(sizes=SIZES, device: str = "cpu", repeats: int = 15, min_seconds: float = 0.2, log=print) -> dict:
    rows = []
    for net in sizes:
        log(f"[cnn] {net.label} on {device}")
        our_step, stock_step = steps(net, device)
        found = timing.interleaved_medians(
            {"ours": (our_step, device), "pytorch": (stock_step, device)}, repeats, min_seconds
        )
        ours, pytorch = found["ours"]["seconds"], found["pytorch"]["seconds"]
        rows.append(
            {
                "size": net.label,
                "ours_ms": ours * 1e3,
                "pytorch_ms": pytorch * 1e3,
                "speedup": pytorch / ours,
                "target": TARGET,
                "ours_spread": found["ours"]["spread"],
                "pytorch_spread": found["pytorch"]["spread"],
            }
        )
    return {"device": device, "rows": rows}


def markdown(section: dict, info: dict, command: str) -> str:
    lines = [
        f"# CNN training step: ours vs plain PyTorch ({info['device']})",
        "",
        f"`{command}`",
        "",
        (
            f"{info['cpu_model']}, {info['logical_cpus']} logical CPUs, torch {info['torch']} with "
            f"{info['torch_threads']} threads, GPU: {info['gpu']}; load average at start "
            f"{info['load_average_at_start']}, at end {info.get('load_average_at_end')}"
        ),
        "",
        "| size | ours ms/step | PyTorch ms/step | speedup (PyTorch / ours) | target "
        "| IQR/median ours, PyTorch |",
        "|---|---|---|---|---|---|",
    ]
    for row in section["rows"]:
        lines.append(
            f"| {row['size']} | {row['ours_ms']:.3f} | {row['pytorch_ms']:.3f} | {row['speedup']:.2f} | "
            f"≥ {row['target']:.1f} | {row['ours_spread']:.2f}, {row['pytorch_spread']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    info = machine.describe(args.device)
    section = run(device=args.device, repeats=args.repeats)
    info["load_average_at_end"] = machine.load_average()
    command = "python -m benchmarks.cnn_time " + " ".join(argv if argv is not None else sys.argv[1:])
    stem = "cnn-" + machine.result_stem(info, quick=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps({"command": command, "machine": info, **section}, indent=1))
    (out / f"{stem}.md").write_text(markdown(section, info, command))
    print(markdown(section, info, command))


if __name__ == "__main__":
    main()
