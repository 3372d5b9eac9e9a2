"""What an art checkpoint's fields must hold, checked before a resume uses any of them.

``checkpoint_fields.check_fields`` checks what every checkpoint shares (the image is a finite float
tensor); the art run's own state (``art``: its config, images, where it stood, Adam's moments) was
read unchecked, so a checkpoint written by hand or by another version gave a ``KeyError``, a
``ValueError`` from ``int("abc")`` or an interpolation error deep in the run.  Here the first wrong
field is one ``CheckpointError`` line naming the checkpoint and the field, as for a training run.
"""

from __future__ import annotations

import numbers

import pydantic
import torch

from ..checkpoint_fields import _shown
from ..errors import CheckpointError, UserInputError
from .config import ArtConfig


def check_art_checkpoint(checkpoint: dict, path) -> ArtConfig:
    """Raise ``CheckpointError`` naming ``path`` and the first field of the art run that is wrong;
    return the saved config."""

    def fail(field: str, expected: str, value) -> None:
        raise CheckpointError(f"{path}: field {field!r} must be {expected}, got {_shown(value)}")

    saved = checkpoint.get("art")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: the checkpoint holds no art run to resume")
    config = _saved_config(saved.get("config"), path)
    style = saved.get("style")
    if not (isinstance(style, list) and style and all(isinstance(name, str) for name in style)):
        fail("art.style", "a list of image names", style)
    if saved.get("content") is not None and not isinstance(saved["content"], str):
        fail("art.content", "an image name or None", saved["content"])
    for field in ("scale", "iteration", "step"):
        value = saved.get(field)
        if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0):
            fail(f"art.{field}", "a whole number >= 0", value)
    if saved["scale"] >= config.scales:
        fail("art.scale", f"below art.scales={config.scales}", saved["scale"])
    initial, seconds = saved.get("initial"), saved.get("seconds")
    if not isinstance(initial, dict) or not all(isinstance(v, numbers.Real) for v in initial.values()):
        fail("art.initial", "a mapping of loss names to numbers", initial)
    if not (isinstance(seconds, numbers.Real) and seconds >= 0):
        fail("art.seconds", "a number >= 0", seconds)
    images = saved.get("images", {})
    if not (isinstance(images, dict) and all(isinstance(v, str) for v in images.values())):
        fail("art.images", "a mapping of file names to hashes", images)
    image = (checkpoint.get("model") or {}).get("image")
    if not (torch.is_tensor(image) and image.dim() == 4 and image.shape[:2] == (1, 3)):
        fail("model.image", "a (1, 3, H, W) tensor", image)
    _check_adam(saved.get("adam"), image, fail)
    return config


def _saved_config(saved, path) -> ArtConfig:
    if not isinstance(saved, dict):
        raise CheckpointError(
            f"{path}: field 'art.config' must be a mapping of art keys, got {_shown(saved)}"
        )
    try:
        return ArtConfig(**saved)
    except (pydantic.ValidationError, UserInputError, TypeError) as error:
        first = str(error).strip().splitlines()
        reason = first[1].strip() + ": " + first[2].strip() if len(first) > 2 else (first or [""])[0]
        raise CheckpointError(f"{path}: field 'art.config' is not a valid art config ({reason})") from None


def _check_adam(adam, image: torch.Tensor, fail) -> None:
    """None (L-BFGS), or Adam's state_dict whose moments have the image's shape."""
    if adam is None:
        return
    if not (isinstance(adam, dict) and isinstance(adam.get("state"), dict) and adam.get("param_groups")):
        fail("art.adam", "an Adam state_dict ('state' and 'param_groups') or None", adam)
    for moments in adam["state"].values():
        for name in ("exp_avg", "exp_avg_sq"):
            value = moments.get(name) if isinstance(moments, dict) else None
            if not (torch.is_tensor(value) and value.shape == image.shape):
                fail(f"art.adam.{name}", f"a tensor of the image's shape {tuple(image.shape)}", value)
