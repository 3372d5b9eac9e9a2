"""The README's pictures: what a line cannot do, and what one hidden layer does.

For the flower and for 3 spirals, train the network of ``configs/<name>_mlp.yaml`` and,
with the same data, L2, optimizer, iterations and seed, the one-layer model
(``model.name=logistic``: logistic regression for 2 classes, softmax regression for K).
Each picture holds both models' decision regions over the training points, captioned
with the training accuracy, above one chart of both training costs per iteration.

    python -m docs.figures          # from the repository root; writes docs/flower.png, docs/spirals.png
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from torch_logreg.data import load_split
from torch_logreg.training.config import load_config
from torch_logreg.training.images import decision_regions_image, learning_curve_image
from torch_logreg.training.trainer import train

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs"
FIGURES = {"flower": "configs/flower_mlp.yaml", "spirals": "configs/spirals_mlp.yaml"}
COMMON = ["train.print_cost=false", "train.device=cpu"]
POINTS_PER_CURVE = 200  # train.log_every = iterations / this
REGION_SIZE = 300  # pixels a side of each decision-region plot
GAP = 12  # pixels between the two region pictures
PALETTE_COLORS = 128  # the PNGs are quantized to this many colours, to stay small
ONE_LAYER = ["model.name=logistic", "model.init=zeros"]  # zeros: the one-layer default, which the configs' `he` is not


def model_name(model, num_classes: int) -> str:
    """"Logistic regression", "Softmax regression" or "MLP, 100 relu units"."""
    if model.name == "mlp":
        return f"MLP, {' + '.join(str(width) for width in model.hidden)} {model.activation} units"
    return "Logistic regression" if num_classes == 2 else "Softmax regression"


def regions_with_caption(split, model, caption: str) -> np.ndarray:
    """``decision_regions_image`` of the training points, captioned with ``caption``."""
    return decision_regions_image(split.x_train.numpy(), split.y_train.numpy(), model.predict_proba, split.classes,
                                  split.feature_names, standardized=split.standardizer is not None,
                                  size=REGION_SIZE, caption=caption)


def figure(config_path: str) -> tuple[Image.Image, dict[str, float]]:
    """The picture for one data set, and each model's training accuracy."""
    network_config = load_config(ROOT / config_path, COMMON)
    log_every = max(1, network_config.train.iterations // POINTS_PER_CURVE)
    split = load_split(network_config.data, network_config.seed)  # the split both runs train on
    pictures, curves, accuracies = [], {}, {}
    for overrides in (ONE_LAYER, []):
        config = load_config(ROOT / config_path, [*COMMON, *overrides, f"train.log_every={log_every}"])
        result = train(config, save=False)
        label = model_name(config.model, split.num_classes)
        accuracies[label] = float(result.metrics["train_accuracy"])
        caption = f"{label}: {accuracies[label]:.1%} training accuracy"
        pictures.append(regions_with_caption(split, result.model, caption))
        curves[label] = (result.history["iteration"], result.history["train_cost"])
    height = max(p.shape[0] for p in pictures)
    width = sum(p.shape[1] for p in pictures) + GAP
    opt = network_config.optimizer
    chart = learning_curve_image(curves, f"Training cost per iteration ({opt.name}, learning rate {opt.lr:g}, "
                                         f"{len(split.x_train)} training points)", "training cost",
                                 width=width, height=280)
    canvas = Image.new("RGB", (width, height + chart.shape[0]), "white")
    x = 0
    for picture in pictures:
        canvas.paste(Image.fromarray(picture), (x, 0))
        x += picture.shape[1] + GAP
    canvas.paste(Image.fromarray(chart), (0, height))
    return canvas, accuracies


def save_png(image: Image.Image, path: Path) -> None:
    image.quantize(colors=PALETTE_COLORS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True)


def main() -> int:
    logging.basicConfig(format="%(message)s")
    # The one-layer runs keep the network's model.hidden and model.activation on purpose: say nothing of them.
    logging.getLogger("torch_logreg.training.trainer").addFilter(
        lambda record: "is ignored: model.name=logistic" not in record.getMessage())
    torch.set_num_threads(1)  # a few hundred rows: handing them to a second thread costs more than it saves
    for name, config_path in FIGURES.items():
        image, accuracies = figure(config_path)
        path = OUT / f"{name}.png"
        save_png(image, path)
        shown = ", ".join(f"{model} {accuracy:.1%}" for model, accuracy in accuracies.items())
        print(f"{path.relative_to(ROOT)}: {image.width}×{image.height}, {path.stat().st_size // 1024} KiB; {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
