"""The end-of-run pictures: the confusion matrix, the misclassified test images, the decision regions.

Each function returns an (H, W, 3) uint8 array for ``SummaryWriter.add_image(..., dataformats="HWC")``.
Text is drawn with Pillow's own font (``ImageFont.load_default``), which every install has.
That font has no "→", so the arrow in "true → predicted" labels is drawn as lines.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

BINARY_COLORS = np.array([[45, 85, 200], [205, 45, 40]], dtype=float)  # class 0 blue, class 1 red
TAB10 = np.array(
    [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ],
    dtype=float,
)
REGION_WHITE = 0.45  # share of white in a region's colour where the model is sure


def font(size: int = 13) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def class_colors(num_classes: int) -> np.ndarray:
    """(K, 3) colours of the classes' points: blue/red for two classes, matplotlib's tab10, then evenly spaced hues."""
    if num_classes == 2:
        return BINARY_COLORS.copy()
    if num_classes <= len(TAB10):
        return TAB10[:num_classes].copy()
    hues = np.arange(num_classes) / num_classes
    return np.array([colorsys.hsv_to_rgb(h, 0.75, 0.85) for h in hues]) * 255


def region_colors(num_classes: int) -> np.ndarray:
    """(K, 3) colours of the regions where the model is sure: the class colours, lightened."""
    return np.round(class_colors(num_classes) * (1 - REGION_WHITE) + 255 * REGION_WHITE)


# ------------------------------------------------------------------ confusion matrix


def confusion_counts(y, pred, num_classes: int) -> np.ndarray:
    """(K, K) counts, rows the true class, columns the predicted one."""
    y, pred = np.asarray(y).astype(np.int64).reshape(-1), np.asarray(pred).astype(np.int64).reshape(-1)
    return np.bincount(y * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def confusion_matrix_image(counts: np.ndarray, classes: Sequence) -> np.ndarray:
    """Counts in cells shaded by their share of the row (the recall of that true class), class names on both axes."""
    k = len(classes)
    label_font, count_font = font(13), font(14)
    names = [_short(c) for c in classes]
    name_width = max(_text_size(label_font, n)[0] for n in names)
    cell = max(
        36, max(_text_size(count_font, str(int(c)))[0] for c in counts.reshape(-1)) + 12, name_width + 8
    )
    left, top = name_width + 40, 56
    width, height = left + k * cell + 12, top + k * cell + 12
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    _centered(draw, (left + k * cell / 2, 12), "predicted", label_font)
    _vertical_text(image, (8, top + k * cell / 2), "true", label_font)
    row_totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    share = counts / row_totals
    for j, name in enumerate(names):
        _centered(draw, (left + (j + 0.5) * cell, 36), name, label_font)
    for i, name in enumerate(names):
        draw.text(
            (left - 8 - _text_size(label_font, name)[0], top + (i + 0.5) * cell - 7),
            name,
            font=label_font,
            fill="black",
        )
        for j in range(k):
            x0, y0 = left + j * cell, top + i * cell
            fill = tuple(int(v) for v in np.round(255 - share[i, j] * np.array([210, 160, 60])))
            draw.rectangle([x0, y0, x0 + cell, y0 + cell], fill=fill, outline=(200, 200, 200))
            text_color = "white" if share[i, j] > 0.55 else "black"
            _centered(
                draw, (x0 + cell / 2, y0 + cell / 2 - 7), str(int(counts[i, j])), count_font, text_color
            )
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
    names = [_short(c, 6) for c in classes]
    label_w = max(_arrow_label_width(label_font, names[a], names[b]) for a, b in zip(y[wrong], pred[wrong]))
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
        _arrow_label(
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
        caption: the line above the plot (default: "Decision regions and test points", and the features' units).
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
    names = [_short(c) for c in classes]
    legend_w = 34 + max(_text_size(tick_font, n)[0] for n in names)
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
    for value in _nice_ticks(lo[0], hi[0]):
        px = left + (value - lo[0]) / (hi[0] - lo[0]) * (size - 1)
        draw.line([px, top + size, px, top + size + 4], fill="black")
        _centered(draw, (px, top + size + 6), _tick_text(value), tick_font)
    for value in _nice_ticks(lo[1], hi[1]):
        py = top + (hi[1] - value) / (hi[1] - lo[1]) * (size - 1)
        draw.line([left - 5, py, left - 1, py], fill="black")
        text = _tick_text(value)
        draw.text((left - 8 - _text_size(tick_font, text)[0], py - 8), text, font=tick_font, fill="black")
    _centered(draw, (left + size / 2, top + size + 26), f"{feature_names[0]}{suffix}", name_font)
    _vertical_text(image, (10, top + size / 2), f"{feature_names[1]}{suffix}", name_font)
    colors = class_colors(len(classes))
    for i, name in enumerate(names):
        x0, y0 = left + size + 16, top + 4 + 20 * i
        draw.rectangle([x0, y0, x0 + 12, y0 + 12], fill=tuple(int(c) for c in colors[i]), outline="white")
        draw.text((x0 + 18, y0 - 2), name, font=tick_font, fill="black")
    return np.asarray(image)


def _nice_ticks(lo: float, hi: float, target: int = 5) -> np.ndarray:
    """Round values (1, 2 or 5 × 10ᵏ apart) inside [lo, hi], about ``target`` of them."""
    raw = (hi - lo) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step


def _tick_text(value: float) -> str:
    return f"{value:.4g}" if abs(value) > 1e-12 else "0"


# ------------------------------------------------------------------ text helpers


def _short(value, limit: int = 14) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text_size(font_, text: str) -> tuple[int, int]:
    left, top, right, bottom = font_.getbbox(text)
    return right - left, bottom - top


def _centered(draw, center, text, font_, fill="black") -> None:
    """``text`` centred horizontally on center[0], its top at center[1]."""
    draw.text((center[0] - _text_size(font_, text)[0] / 2, center[1]), text, font=font_, fill=fill)


def _vertical_text(image: Image.Image, center, text: str, font_) -> None:
    """``text`` turned 90° anticlockwise, its left edge at center[0], centred vertically on center[1]."""
    w, h = _text_size(font_, text)
    strip = Image.new("RGB", (w + 4, h + 8), "white")
    ImageDraw.Draw(strip).text((2, -font_.getbbox(text)[1] + 2), text, font=font_, fill="black")
    strip = strip.rotate(90, expand=True)
    image.paste(strip, (int(center[0]), int(center[1] - strip.height / 2)))


def _arrow_width(font_) -> int:
    """The drawn arrow's length: about a glyph and a quarter of the font."""
    return max(16, round(1.25 * getattr(font_, "size", 13)))


def _arrow_label_width(font_, left: str, right: str) -> int:
    return _text_size(font_, left)[0] + _text_size(font_, right)[0] + _arrow_width(font_) + 8


def _arrow_label(draw, center, left: str, right: str, font_) -> None:
    """ "left → right" centred on center[0], the arrow drawn as lines (the default font has no arrow glyph)."""
    x = center[0] - _arrow_label_width(font_, left, right) / 2
    y = center[1]
    size, arrow = getattr(font_, "size", 13), _arrow_width(font_)
    draw.text((x, y), left, font=font_, fill=(0, 110, 0))
    x += _text_size(font_, left)[0] + 4
    mid, head, width = y + round(0.65 * size), max(3, size // 4), max(1, size // 12)
    draw.line([x, mid, x + arrow - 2, mid], fill="black", width=width)
    draw.line(
        [x + arrow - 2 - head, mid - head, x + arrow - 2, mid, x + arrow - 2 - head, mid + head],
        fill="black",
        width=width,
    )
    draw.text((x + arrow + 4, y), right, font=font_, fill=(190, 0, 0))


# ------------------------------------------------------------------ learning curves

# Series i is drawn in LINE_COLORS[i % 10]: dark grey, then tab10 from purple on, so that the first
# curves do not take the colours of the classes (blue, red; or blue, orange, green) in pictures beside them.
LINE_COLORS = np.concatenate([[[60.0, 60.0, 60.0]], TAB10[4:], TAB10[:3]])


def _legend(draw, names: list[str], left: int, tick_font) -> None:
    """One row of "── name" entries above the plot, so no entry hides a curve."""
    legend_x = left
    for i, name in enumerate(names):
        color = tuple(int(c) for c in LINE_COLORS[i % len(LINE_COLORS)])
        draw.line([legend_x, 37, legend_x + 18, 37], fill=color, width=3)
        draw.text((legend_x + 24, 29), name, font=tick_font, fill="black")
        legend_x += 24 + _text_size(tick_font, name)[0] + 18


def learning_curve_image(
    series: dict[str, tuple[list[int], list[float]]],
    title: str,
    ylabel: str,
    *,
    width: int = 480,
    height: int = 300,
) -> np.ndarray:
    """A line chart of each series over iterations, with ticked axes, a title and a legend above the plot.

    Args:
        series: name -> (iterations, values), e.g. {"logistic": ([0, 25, …], [0.69, 0.68, …])};
            non-finite values are skipped, a series of one point is drawn as a dot.
        title: the line above the legend.
        ylabel: the vertical axis's name ("iteration" names the horizontal one).
        width, height: the whole picture's size in pixels.

    Returns (height, width, 3) uint8.
    """
    tick_font, name_font = font(12), font(13)
    curves = []
    for name, (xs, ys) in series.items():
        xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        keep = np.isfinite(xs) & np.isfinite(ys)
        curves.append((_short(name, 28), xs[keep], ys[keep]))
    all_x = np.concatenate([c[1] for c in curves] + [np.zeros(0)])
    all_y = np.concatenate([c[2] for c in curves] + [np.zeros(0)])
    x_lo, x_hi = _padded_range(all_x, pad=0.0)
    y_lo, y_hi = _padded_range(all_y, pad=0.05)

    left, top, right, bottom = 74, 56, 28, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 8), title, font=name_font, fill="black")
    _legend(draw, [name for name, _, _ in curves], left, tick_font)

    def to_pixel(x, y):
        return (
            left + (x - x_lo) / (x_hi - x_lo) * (plot_w - 1),
            top + (y_hi - y) / (y_hi - y_lo) * (plot_h - 1),
        )

    for value in _nice_ticks(x_lo, x_hi):
        px = to_pixel(value, y_lo)[0]
        draw.line([px, top, px, top + plot_h], fill=(232, 232, 232))
        draw.line([px, top + plot_h, px, top + plot_h + 4], fill="black")
        _centered(draw, (px, top + plot_h + 6), _iteration_text(value), tick_font)
    for value in _nice_ticks(y_lo, y_hi):
        py = to_pixel(x_lo, value)[1]
        draw.line([left, py, left + plot_w, py], fill=(232, 232, 232))
        draw.line([left - 5, py, left - 1, py], fill="black")
        text = _tick_text(value)
        draw.text((left - 8 - _text_size(tick_font, text)[0], py - 8), text, font=tick_font, fill="black")
    draw.rectangle([left - 1, top - 1, left + plot_w, top + plot_h], outline="black")
    _centered(draw, (left + plot_w / 2, top + plot_h + 24), "iteration", name_font)
    _vertical_text(image, (10, top + plot_h / 2), ylabel, name_font)

    for i, (_, xs, ys) in enumerate(curves):
        color = tuple(int(c) for c in LINE_COLORS[i % len(LINE_COLORS)])
        points = [to_pixel(x, y) for x, y in zip(xs, ys)]
        if len(points) == 1:
            ((px, py),) = points
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=color)
        elif points:
            draw.line(points, fill=color, width=2, joint="curve")
    return np.asarray(image)


def _iteration_text(value: float) -> str:
    """Whole iteration counts in full ("10000", not "1e+04"); other ticks as ``_tick_text``."""
    return str(int(round(value))) if abs(value - round(value)) < 1e-9 else _tick_text(value)


def _padded_range(values: np.ndarray, pad: float) -> tuple[float, float]:
    """[min, max] of ``values`` widened by ``pad`` of its span; an empty or one-valued range gets a span of its own."""
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 1e-12 * max(1.0, abs(lo)):
        half = 0.5 if lo == 0 else abs(lo) * 0.1
        return lo - half, hi + half
    span = hi - lo
    return lo - pad * span, hi + pad * span
