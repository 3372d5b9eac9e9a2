"""Learning curves as one picture: each series over iterations, with ticked axes, a title and a legend."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .drawing import TAB10, centered, font, nice_ticks, short, text_box, tick_text, vertical_text

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
        legend_x += 24 + text_box(tick_font, name)[0] + 18


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
    curves = _finite_curves(series)
    x_range = _padded_range(np.concatenate([c[1] for c in curves] + [np.zeros(0)]), pad=0.0)
    y_range = _padded_range(np.concatenate([c[2] for c in curves] + [np.zeros(0)]), pad=0.05)
    left, top, right, bottom = 74, 56, 28, 46
    box = (left, top, width - left - right, height - top - bottom)  # the plot's corner, width and height
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 8), title, font=name_font, fill="black")
    _legend(draw, [name for name, _, _ in curves], left, tick_font)
    to_pixel = _pixel_map(box, x_range, y_range)
    _axes(image, draw, box, x_range, y_range, to_pixel, ylabel)
    for i, (_, xs, ys) in enumerate(curves):
        color = tuple(int(c) for c in LINE_COLORS[i % len(LINE_COLORS)])
        points = [to_pixel(x, y) for x, y in zip(xs, ys)]
        if len(points) == 1:
            ((px, py),) = points
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=color)
        elif points:
            draw.line(points, fill=color, width=2, joint="curve")
    return np.asarray(image)


def _finite_curves(series: dict) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(shortened name, iterations, values) of each series, its non-finite points left out."""
    curves = []
    for name, (xs, ys) in series.items():
        xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        keep = np.isfinite(xs) & np.isfinite(ys)
        curves.append((short(name, 28), xs[keep], ys[keep]))
    return curves


def _pixel_map(box, x_range, y_range):
    """(iteration, value) -> the pixel (x, y) inside the plot ``box`` (left, top, width, height)."""
    left, top, plot_w, plot_h = box
    (x_lo, x_hi), (y_lo, y_hi) = x_range, y_range

    def to_pixel(x, y):
        return (
            left + (x - x_lo) / (x_hi - x_lo) * (plot_w - 1),
            top + (y_hi - y) / (y_hi - y_lo) * (plot_h - 1),
        )

    return to_pixel


def _axes(image, draw, box, x_range, y_range, to_pixel, ylabel: str) -> None:
    """Grid lines and ticked values on both axes, the plot's frame and the axes' names."""
    tick_font, name_font = font(12), font(13)
    left, top, plot_w, plot_h = box
    (x_lo, x_hi), (y_lo, y_hi) = x_range, y_range
    for value in nice_ticks(x_lo, x_hi):
        px = to_pixel(value, y_lo)[0]
        draw.line([px, top, px, top + plot_h], fill=(232, 232, 232))
        draw.line([px, top + plot_h, px, top + plot_h + 4], fill="black")
        centered(draw, (px, top + plot_h + 6), _iteration_text(value), tick_font)
    for value in nice_ticks(y_lo, y_hi):
        py = to_pixel(x_lo, value)[1]
        draw.line([left, py, left + plot_w, py], fill=(232, 232, 232))
        draw.line([left - 5, py, left - 1, py], fill="black")
        text = tick_text(value)
        draw.text((left - 8 - text_box(tick_font, text)[0], py - 8), text, font=tick_font, fill="black")
    draw.rectangle([left - 1, top - 1, left + plot_w, top + plot_h], outline="black")
    centered(draw, (left + plot_w / 2, top + plot_h + 24), "iteration", name_font)
    vertical_text(image, (10, top + plot_h / 2), ylabel, name_font)


def _iteration_text(value: float) -> str:
    """Whole iteration counts in full ("10000", not "1e+04"); other ticks as ``tick_text``."""
    return str(int(round(value))) if abs(value - round(value)) < 1e-9 else tick_text(value)


def _padded_range(values: np.ndarray, pad: float) -> tuple[float, float]:
    """[min, max] of ``values`` widened by ``pad`` of its span; an empty or one-valued range gets a span
    of its own."""
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 1e-12 * max(1.0, abs(lo)):
        half = 0.5 if lo == 0 else abs(lo) * 0.1
        return lo - half, hi + half
    span = hi - lo
    return lo - pad * span, hi + pad * span
