"""The ``art.*`` keys: neural-style's options (jcjohnson/neural-style), declared with their ranges.

Set on the command line as ``art.key=value`` (typed by the field, as the trainer's keys are), in
Python as keyword arguments of ``stylize``.  Unknown keys and out-of-range values are one
``ConfigError`` line naming the key.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Literal

from pydantic import Field

from ..errors import ConfigError
from ..training.config import (
    SEED_LIMIT,
    Float,
    Int,
    Text,
    _assign,
    _parse_text,
    _Section,
    key,
)

MAX_SIZE = 4096  # longest side; the memory check refuses smaller sizes that would not fit either


class ArtConfig(_Section):
    _section = "art"

    size: Int = key(
        128, "longest side of the result, px (the content image is resized to it)", ge=16, le=MAX_SIZE
    )
    iterations: Int = key(
        200, "function evaluations (L-BFGS, as neural-style counts them) or Adam steps per scale", ge=0
    )
    optimizer: Literal["lbfgs", "adam"] = key("lbfgs", "`lbfgs` (strong-Wolfe line search) or `adam`")
    lr: Float = key(
        0.02, "`adam`'s learning rate (pixel values are in [0, 1]); L-BFGS takes steps of 1", gt=0
    )
    content_weight: Float = key(30.0, "weight of the content loss ½‖F − P‖²/|F| (style transfer only)", ge=0)
    style_weight: Float = key(
        1000.0, "weight of the style loss: the mean over style layers of Σ‖G − A‖²", ge=0
    )
    tv_weight: Float = key(0.0, "weight of the squared total variation per pixel (smooths the result)", ge=0)
    init: Literal["noise", "content"] | None = key(
        None, "start from `noise` or the `content` image (null: content when there is one, else noise)"
    )
    style_scale: Float = key(
        1.0,
        "the style image's longest side as a multiple of `size` (bigger: finer brush strokes)",
        gt=0,
        le=8,
    )
    original_colors: bool = key(
        False, "keep the content's colours: the result's luminance with the content's chrominance (YIQ)"
    )
    style_blend: list[Annotated[float, Field(gt=0)]] | None = key(
        None,
        "one weight per style image (comma-separated `--style`); null: equal weights",
        expected="null or a list of numbers > 0, one per style image",
        kind="a list of numbers",
    )
    scales: Int = key(
        1,
        "coarse-to-fine: solve at size/2^(scales−1), upsample, refine; each scale runs `iterations`",
        ge=1,
        le=4,
    )
    save_every: Int = key(
        50, "log the image to TensorBoard (and checkpoint) every N iterations (0: at the end)", ge=0
    )
    print_every: Int = key(10, "print the losses every N iterations", ge=1)
    seed: Int = key(
        0, "the random filters and the noise start", ge=0, lt=SEED_LIMIT, expected="in [0, 2**32)"
    )
    check_grad: bool = key(
        False, "compare the first hand-written image gradient with autograd's; stop if they differ"
    )
    network: Literal["random", "vgg19", "cnn"] = key(
        "random",
        "`random` (one layer of random multi-scale filters), `vgg19` (`art.weights`: a "
        "torchvision VGG-19 state_dict) or `cnn` (`art.weights`: a run of model.name=cnn trained "
        "on a folder of images)",
    )
    weights: Text | None = key(
        None, "the weights file for `vgg19`, the run folder or checkpoint for `cnn`; nothing is downloaded"
    )
    pooling: Literal["avg", "max"] = key("avg", "`vgg19`'s pooling: `avg` (Gatys et al.) or `max`")
    width: Int = key(64, "`random`: filters per scale", ge=1, le=1024)
    dtype: Literal["float32", "float64"] = key("float32", "`float32` or `float64`")


def art_config(overrides=(), options: dict | None = None, source: str = "override") -> ArtConfig:
    """Defaults, then ``art.key=value`` texts (typed by the field), then Python ``options``."""
    config = ArtConfig()
    for item in overrides:
        dotted, sep, text = item.partition("=")
        name = dotted.strip().removeprefix("art.")
        if not sep or not dotted.strip().startswith("art."):
            raise ConfigError(f"override {item!r} must look like art.key=value, e.g. art.size=256")
        _check_known(name, source)
        _assign(
            config,
            name,
            _parse_text(text.strip(), ArtConfig.model_fields[name].annotation),
            source,
            shown=text,
        )
    for name, value in (options or {}).items():
        _check_known(name, "stylize")
        _assign(config, name, value, "stylize")
    return config


def _check_known(name: str, source: str) -> None:
    if name not in ArtConfig.model_fields:
        close = difflib.get_close_matches(name, list(ArtConfig.model_fields), n=1)
        hint = f" (did you mean art.{close[0]}?)" if close else ""
        raise ConfigError(
            f"{source}: unknown key art.{name}{hint}; the art keys are {', '.join(ArtConfig.model_fields)}"
        )
