"""The end-of-run pictures: the confusion matrix, the misclassified test images, the decision regions.

Each function returns an (H, W, 3) uint8 array for ``SummaryWriter.add_image(..., dataformats="HWC")``.
The colours, the font and the text helpers are ``drawing``'s; the learning curves are ``learning_curves``'.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from .drawing import (
    BINARY_COLORS,
    REGION_WHITE,
    arrow_label,
    arrow_label_width,
    centered,
    class_colors,
    font,
    nice_ticks,
    region_colors,  # noqa: F401  (importable from here, as before)
    short,
    text_box,
    tick_text,
    vertical_text,
)
from .learning_curves import LINE_COLORS, learning_curve_image  # noqa: F401  (importable from here, as before)

# ------------------------------------------------------------------ confusion matrix


def confusion_counts(y, pred, num_classes: int) -> np.ndarray:
    """(K, K) counts, rows the true class, columns the predicted one."""
    y, pred = np.asarray(y).astype(np.int64).reshape(-1), np.asarray(pred).astype(np.int64).reshape(-1)
    return np.bincount(y * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def confusion_matrix_image(counts: np.ndarray, classes: Sequence) -> np.ndarray:
    """Counts in cells shaded by their share of the row (the recall of that true class), class names on
    both axes."""
    k = len(classes)
    label_font, count_font = font(13), font(14)
    names = [short(c) for c in classes]
    name_width = max(text_box(label_font, n)[0] for n in names)
    cell = max(36, max(text_box(count_font, str(int(c)))[0] for c in counts.reshape(-1)) + 12, name_width + 8)
    left, top = name_width + 40, 56
    width, height = left + k * cell + 12, top + k * cell + 12
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    centered(draw, (left + k * cell / 2, 12), "predicted", label_font)
    vertical_text(image, (8, top + k * cell / 2), "true", label_font)
    row_totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    share = counts / row_totals
    for j, name in enumerate(names):
        centered(draw, (left + (j + 0.5) * cell, 36), name, label_font)
    for i, name in enumerate(names):
        draw.text(
            (left - 8 - text_box(label_font, name)[0], top + (i + 0.5) * cell - 7),
            name,
            font=label_font,
            fill="black",
        )
        for j in range(k):
            x0, y0 = left + j * cell, top + i * cell
            fill = tuple(int(v) for v in np.round(255 - share[i, j] * np.array([210, 160, 60])))
            draw.rectangle([x0, y0, x0 + cell, y0 + cell], fill=fill, outline=(200, 200, 200))
            text_color = "white" if share[i, j] > 0.55 else "black"
            centered(draw, (x0 + cell / 2, y0 + cell / 2 - 7), str(int(counts[i, j])), count_font, text_color)
    return np.asarray(image)


# ------------------------------------------------------------------ misclassified images


def misclassified_image(
    images: np.ndarray,
    y,
    pred,
    classes: Sequence,
    limit: int = 16,
    columns: int = 4,
    tile: int = 96,
    text_size: int = 24,
) -> np.ndarray:
    """A grid of the first ``limit`` images with y ≠ pred, each labelled "true → predicted".

    ``images`` (N, H, W) raw values are scaled to 0..255 over the whole set, high values
    dark (ink on paper, as the digits are drawn), and enlarged to about ``tile`` pixels a side.
    Few large tiles: TensorBoard shows an image at its card's width (about 450 pixels), so a
    4-column grid keeps its ``text_size``-pixel captions readable without enlarging the card.
    """
    images = np.asarray(images, dtype=np.float64)
    y, pred = np.asarray(y).astype(np.int64).reshape(-1), np.asarray(pred).astype(np.int64).reshape(-1)
    wrong = np.flatnonzero(y != pred)[:limit]
    label_font = font(text_size)
    if wrong.size == 0:
        image = Image.new("RGB", (16 * text_size, 2 * text_size), "white")
        ImageDraw.Draw(image).text((10, 12), "no misclassified test images", font=label_font, fill="black")
        return np.asarray(image)
    lo, hi = float(images.min()), float(images.max())
    gray = 255 - np.round((images - lo) / (hi - lo if hi > lo else 1.0) * 255)
    zoom = max(1, tile // max(images.shape[1:]))
    tile_h, tile_w = images.shape[1] * zoom, images.shape[2] * zoom
    names = [short(c, 6) for c in classes]
    label_w = max(arrow_label_width(label_font, names[a], names[b]) for a, b in zip(y[wrong], pred[wrong]))
    step_x, step_y = max(tile_w, label_w) + 12, tile_h + round(1.6 * text_size)
    rows = -(-wrong.size // columns)
    canvas = Image.new("RGB", (min(columns, wrong.size) * step_x + 8, rows * step_y + 8), "white")
    draw = ImageDraw.Draw(canvas)
    for slot, index in enumerate(wrong):
        x0, y0 = 8 + (slot % columns) * step_x, 8 + (slot // columns) * step_y
        tile = Image.fromarray(gray[index].astype(np.uint8), "L").resize((tile_w, tile_h), Image.NEAREST)
        tile_x = x0 + (step_x - 12 - tile_w) // 2
        canvas.paste(tile.convert("RGB"), (tile_x, y0))
        draw.rectangle([tile_x - 1, y0 - 1, tile_x + tile_w, y0 + tile_h], outline=(190, 190, 190))
        arrow_label(
            draw, (x0 + (step_x - 12) / 2, y0 + tile_h + 4), names[y[index]], names[pred[index]], label_font
        )
    return np.asarray(canvas)


# ------------------------------------------------------------------ decision regions


def decision_regions_image(
    x: np.ndarray,
    y,
    proba_fn: Callable[[torch.Tensor], torch.Tensor],
    classes: Sequence,
    feature_names: Sequence[str],
    standardized: bool | None,
    size: int = 300,
    caption: str | None = None,
) -> np.ndarray:
    """The model's regions over the data's box, with the points on top and labelled axes.

    Two classes: P(class 1) shaded from blue (0) to red (1), the contour P = 0.5 in black.
    K classes: each pixel in its argmax class's colour, lighter where the largest
    probability is low, the boundaries between regions in black. Points are drawn in
    their true class's colour with a white rim.

    Args:
        x: (N, 2) features, in the coordinates proba_fn takes.
        y: (N,) class indices.
        proba_fn: (G, 2) float64 tensor -> (G,) P(class 1) or (G, K) probabilities.
        standardized: whether x is standardized; the axis labels and caption say so (None: they say nothing).
        caption: the line above the plot (default: "Decision regions and test points", and the
            features' units).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y).astype(np.int64).reshape(-1)
    k = len(classes)
    lo, hi = x.min(0), x.max(0)
    pad = (hi - lo) * 0.05 + 1e-9
    lo, hi = lo - pad, hi + pad
    u = np.linspace(lo[0], hi[0], size)
    v = np.linspace(hi[1], lo[1], size)  # row 0 is the top of the picture
    grid = np.stack(np.meshgrid(u, v), axis=-1).reshape(-1, 2)  # (size², 2)
    with torch.no_grad():
        proba = np.asarray(torch.as_tensor(proba_fn(torch.from_numpy(grid))).detach().cpu().double())
    plot = _shade_regions(proba, k).reshape(size, size, 3)
    label = (proba > 0.5).astype(int) if proba.ndim == 1 else proba.argmax(axis=1)
    _draw_boundaries(plot, label.reshape(size, size))
    cols = np.clip(np.round((x[:, 0] - lo[0]) / (hi[0] - lo[0]) * (size - 1)).astype(int), 0, size - 1)
    rows = np.clip(np.round((hi[1] - x[:, 1]) / (hi[1] - lo[1]) * (size - 1)).astype(int), 0, size - 1)
    colors = class_colors(k)
    for r, c, cls in zip(rows, cols, y):
        plot[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4] = 255
        plot[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3] = colors[cls]
    return _frame(np.round(plot).astype(np.uint8), (lo, hi), classes, feature_names, standardized, caption)


def _shade_regions(proba: np.ndarray, k: int) -> np.ndarray:
    if proba.ndim == 1:  # P(class 1): blue → red, as sure as the model is
        p = proba[:, None]
        return (p * BINARY_COLORS[1] + (1 - p) * BINARY_COLORS[0]) * (1 - REGION_WHITE) + 255 * REGION_WHITE
    label = proba.argmax(axis=1)
    sure = (proba.max(axis=1) - 1 / k) / (
        1 - 1 / k
    )  # 0 where every class is equally likely, 1 where one is certain
    white = REGION_WHITE + (1 - REGION_WHITE) * 0.8 * (1 - sure[:, None])
    return class_colors(k)[label] * (1 - white) + 255 * white


def _draw_boundaries(plot: np.ndarray, label: np.ndarray) -> None:
    """Black where a pixel's class differs from its right or lower neighbour's: two pixels wide."""
    edge = np.zeros(label.shape, dtype=bool)
    edge[:, :-1] |= label[:, 1:] != label[:, :-1]
    edge[:-1, :] |= label[1:, :] != label[:-1, :]
    edge[:, 1:] |= edge[:, :-1].copy()
    plot[edge] = 0


def _frame(
    plot: np.ndarray, box, classes, feature_names, standardized: bool | None, caption: str | None = None
) -> np.ndarray:
    """The plot inside axes with ticks, axis names, a caption and a legend."""
    size = plot.shape[0]
    tick_font, name_font = font(12), font(13)
    lo, hi = box
    suffix = " (standardized)" if standardized else ""
    names = [short(c) for c in classes]
    legend_w = 34 + max(text_box(tick_font, n)[0] for n in names)
    left, top, bottom = 74, 34, 52
    image = Image.new("RGB", (left + size + 16 + legend_w, top + size + bottom), "white")
    image.paste(Image.fromarray(plot), (left, top))
    draw = ImageDraw.Draw(image)
    draw.rectangle([left - 1, top - 1, left + size, top + size], outline="black")
    if caption is None:
        caption = (
            "Decision regions and test points"
            + {True: ", standardized features", False: ", raw features", None: ""}[standardized]
        )
    draw.text((left, 10), caption, font=name_font, fill="black")
    for value in nice_ticks(lo[0], hi[0]):
        px = left + (value - lo[0]) / (hi[0] - lo[0]) * (size - 1)
        draw.line([px, top + size, px, top + size + 4], fill="black")
        centered(draw, (px, top + size + 6), tick_text(value), tick_font)
    for value in nice_ticks(lo[1], hi[1]):
        py = top + (hi[1] - value) / (hi[1] - lo[1]) * (size - 1)
        draw.line([left - 5, py, left - 1, py], fill="black")
        text = tick_text(value)
        draw.text((left - 8 - text_box(tick_font, text)[0], py - 8), text, font=tick_font, fill="black")
    centered(draw, (left + size / 2, top + size + 26), f"{feature_names[0]}{suffix}", name_font)
    vertical_text(image, (10, top + size / 2), f"{feature_names[1]}{suffix}", name_font)
    colors = class_colors(len(classes))
    for i, name in enumerate(names):
        x0, y0 = left + size + 16, top + 4 + 20 * i
        draw.rectangle([x0, y0, x0 + 12, y0 + 12], fill=tuple(int(c) for c in colors[i]), outline="white")
        draw.text((x0 + 18, y0 - 2), name, font=tick_font, fill="black")
    return np.asarray(image)
