"""What the end-of-run pictures share: the class colours, Pillow's font, text placed and turned, the
drawn arrow, and round tick values.

Text is drawn with Pillow's own font (``ImageFont.load_default``), which every install has.
That font has no "→", so the arrow in "true → predicted" labels is drawn as lines.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
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
    """(K, 3) colours of the classes' points: blue/red for two classes, matplotlib's tab10, then evenly
    spaced hues."""
    if num_classes == 2:
        return BINARY_COLORS.copy()
    if num_classes <= len(TAB10):
        return TAB10[:num_classes].copy()
    hues = np.arange(num_classes) / num_classes
    return np.array([colorsys.hsv_to_rgb(h, 0.75, 0.85) for h in hues]) * 255


def region_colors(num_classes: int) -> np.ndarray:
    """(K, 3) colours of the regions where the model is sure: the class colours, lightened."""
    return np.round(class_colors(num_classes) * (1 - REGION_WHITE) + 255 * REGION_WHITE)


def nice_ticks(lo: float, hi: float, target: int = 5) -> np.ndarray:
    """Round values (1, 2 or 5 × 10ᵏ apart) inside [lo, hi], about ``target`` of them."""
    raw = (hi - lo) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step


def tick_text(value: float) -> str:
    return f"{value:.4g}" if abs(value) > 1e-12 else "0"


# ------------------------------------------------------------------ text helpers


def short(value, limit: int = 14) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_box(font_, text: str) -> tuple[int, int]:
    left, top, right, bottom = font_.getbbox(text)
    return right - left, bottom - top


def centered(draw, center, text, font_, fill="black") -> None:
    """``text`` centred horizontally on center[0], its top at center[1]."""
    draw.text((center[0] - text_box(font_, text)[0] / 2, center[1]), text, font=font_, fill=fill)


def vertical_text(image: Image.Image, center, text: str, font_) -> None:
    """``text`` turned 90° anticlockwise, its left edge at center[0], centred vertically on center[1]."""
    w, h = text_box(font_, text)
    strip = Image.new("RGB", (w + 4, h + 8), "white")
    ImageDraw.Draw(strip).text((2, -font_.getbbox(text)[1] + 2), text, font=font_, fill="black")
    strip = strip.rotate(90, expand=True)
    image.paste(strip, (int(center[0]), int(center[1] - strip.height / 2)))


def arrow_width(font_) -> int:
    """The drawn arrow's length: about a glyph and a quarter of the font."""
    return max(16, round(1.25 * getattr(font_, "size", 13)))


def arrow_label_width(font_, left: str, right: str) -> int:
    return text_box(font_, left)[0] + text_box(font_, right)[0] + arrow_width(font_) + 8


def arrow_label(draw, center, left: str, right: str, font_) -> None:
    """ "left → right" centred on center[0], the arrow drawn as lines (the default font has no arrow
    glyph)."""
    x = center[0] - arrow_label_width(font_, left, right) / 2
    y = center[1]
    size, arrow = getattr(font_, "size", 13), arrow_width(font_)
    draw.text((x, y), left, font=font_, fill=(0, 110, 0))
    x += text_box(font_, left)[0] + 4
    mid, head, width = y + round(0.65 * size), max(3, size // 4), max(1, size // 12)
    draw.line([x, mid, x + arrow - 2, mid], fill="black", width=width)
    draw.line(
        [x + arrow - 2 - head, mid - head, x + arrow - 2, mid, x + arrow - 2 - head, mid + head],
        fill="black",
        width=width,
    )
    draw.text((x + arrow + 4, y), right, font=font_, fill=(190, 0, 0))
