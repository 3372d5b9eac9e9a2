"""Art: one iteration (the loss and its gradient for the image), hand-written against plain PyTorch.

Both sides evaluate the same objective on the same network, image and targets:

* ours: ``Objective.loss_and_grad`` (``torch_logreg.art``), the forward with a tape and the image
  gradient walked back by hand through ``conv2d_backward_input``, ``relu_backward``, the pooling
  backwards, ``gram_backward`` … under ``no_grad``, as every L-BFGS evaluation of ``train.py art`` runs;
* PyTorch: ``Objective.stock_loss`` (``F.conv2d``, ``torch.relu``, ``F.avg_pool2d``, matmul) and
  ``torch.autograd.grad`` for the image, the code a PyTorch user writes.

Rows: the default network (``random``: 64 random filters at 6 scales, 3 to 55 px) for a texture
(``flower.jpg``, style loss alone, as ``python train.py art``) and for style transfer (``china.jpg``
in the style of ``flower.jpg``: style, content and TV terms), at 128 and 256 px; and VGG-19
(random weights in torchvision's layout: the time does not depend on the values) for style transfer.
The ratio is PyTorch's time over ours (> 1: ours is faster), both timed interleaved in one process.

    python -m benchmarks.art_step --out benchmarks/results        # CPU, the committed results
    python -m benchmarks.art_step --quick                         # a smoke run, into benchmarks/results/local
    python -m benchmarks.art_step --device cuda --sizes 128,256,512   # on a GPU
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from torch_logreg.art import images
from torch_logreg.art.objective import Objective, Weights
from torch_logreg.art.random_net import random_multiscale_network
from torch_logreg.art.vgg19 import expected_shapes, vgg19_network

from . import machine, report, timing

OURS, PYTORCH = "ours (hand-written)", "PyTorch (F.conv2d + autograd)"


def random_vgg19(folder: Path):
    """VGG-19 with random weights saved in torchvision's layout and loaded by the art loader."""
    gen = torch.Generator().manual_seed(0)
    state = {name: torch.randn(*shape, generator=gen) * 0.05 for name, shape in expected_shapes().items()}
    path = folder / "vgg19_random.pth"
    torch.save(state, path)
    return vgg19_network(path, "avg")


def problem(network, size: int, task: str, device: str) -> tuple[Objective, torch.Tensor]:
    """The objective and a noise image, as the first evaluation of ``train.py art`` sees them."""
    style = images.load_image("flower.jpg", size).to(device)
    content = images.load_image("china.jpg", size).to(device) if task == "style transfer" else None
    weights = Weights(
        content=1.0 if content is not None else 0.0, style=1000.0, tv=1.0 if content is not None else 0.0
    )
    objective = Objective(network, weights, [style], [1.0], content)
    shape = content.shape if content is not None else style.shape
    image = (0.5 + 0.1 * torch.randn(shape, generator=torch.Generator().manual_seed(0))).to(device)
    return objective, image


def ours(objective: Objective, image: torch.Tensor):
    return lambda: objective.loss_and_grad(image)


def pytorch(objective: Objective, image: torch.Tensor):
    def step():
        x = image.detach().clone().requires_grad_(True)
        loss = objective.stock_loss(x)
        (grad,) = torch.autograd.grad(loss, x)
        return loss.detach(), grad

    return step


def run(plan: list[tuple[str, str, int]], device: str, repeats: int, min_seconds: float, log=print) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, task, size in plan:
            label = {"network": name, "task": task, "size": size}
            try:
                network = random_multiscale_network(0) if name == "random" else random_vgg19(Path(folder))
                objective, image = problem(network.to(device=device), size, task, device)
                hand, auto = ours(objective, image)(), pytorch(objective, image)()
                difference = float((hand[2] - auto[1]).abs().max() / auto[1].abs().max())
                times = timing.interleaved_medians(
                    {OURS: (ours(objective, image), device), PYTORCH: (pytorch(objective, image), device)},
                    repeats,
                    min_seconds,
                )
            except Exception as error:  # noqa: BLE001 - a failing row is reported, the others still run
                rows.append({**label, "error": f"{type(error).__name__}: {error}"})
                continue
            row = {
                **label,
                "pixels": f"{image.shape[-2]}×{image.shape[-1]}",
                "ours_ms": 1e3 * times[OURS]["seconds"],
                "pytorch_ms": 1e3 * times[PYTORCH]["seconds"],
                "ratio": times[PYTORCH]["seconds"] / times[OURS]["seconds"],
                "spread": max(times[OURS]["spread"], times[PYTORCH]["spread"]),
                "grad_difference": difference,
                "repeats": repeats,
            }
            rows.append(row)
            log(
                f"{name} {task} {size} px: ours {row['ours_ms']:.1f} ms, PyTorch {row['pytorch_ms']:.1f} ms, "
                f"ratio {row['ratio']:.2f}× (spread {row['spread']:.0%})"
            )
    return {
        "title": "Art: one iteration (loss + image gradient), hand-written vs F.conv2d + autograd",
        "rows": rows,
        "columns": [
            ("network", "network", "s"),
            ("task", "task", "s"),
            ("size", "size (px)", "d"),
            ("pixels", "H×W", "s"),
            ("ours_ms", "ours (ms)", ".1f"),
            ("pytorch_ms", "PyTorch (ms)", ".1f"),
            ("ratio", "PyTorch ÷ ours", ".2f"),
            ("spread", "spread (IQR/median)", ".0%"),
            ("grad_difference", "largest Δgrad ÷ largest grad", ".1e"),
        ],
        "notes": [
            (
                "ratio > 1: ours is faster; the target is ≥ 1.0× on the CPU at 128 and 256 px "
                "(≥ 1.0× at 512 px on a GPU)"
            ),
            "the gradients of both sides agree to float32 rounding (last column)",
        ],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.art_step", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="128,256", help="longest sides, comma-separated")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-seconds", type=float, default=0.5, help="each repeat lasts at least this")
    parser.add_argument("--no-vgg", action="store_true", help="the random network only")
    parser.add_argument("--quick", action="store_true", help="64 px, 3 repeats: a smoke run")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local"))
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    sizes = [64] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats, min_seconds = (3, 0.05) if args.quick else (args.repeats, args.min_seconds)
    plan = [("random", task, size) for size in sizes for task in ("texture", "style transfer")]
    if not args.no_vgg:
        plan += [("vgg19", "style transfer", size) for size in sizes[:1]]
    info = machine.describe(args.device)
    started = time.perf_counter()
    section = run(plan, args.device, repeats, min_seconds)
    info["load_average_at_end"] = machine.load_average()
    result = {
        "machine": info,
        "run": {
            "command": " ".join(["python -m benchmarks.art_step", *argv]),
            "device": args.device,
            "quick": args.quick,
            "seconds": time.perf_counter() - started,
        },
        "sections": {"art": section},
    }
    stem = "art-" + machine.result_stem(info, args.quick)
    json_path, md_path = report.write(result, args.out, stem)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
