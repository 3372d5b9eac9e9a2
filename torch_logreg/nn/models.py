"""The models a config can name, and how a checkpoint rebuilds one.

A new model joins with its own module file, one line here, its config keys and
its tests: the trainer, the optimizers, checkpoints and ``predict`` find what
they need through the ``Classifier`` interface.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from .classifier import Classifier
from .cnn import CNN
from .logistic import LogisticRegression
from .mlp import MLP

MODELS: dict[str, type[Classifier]] = {
    LogisticRegression.name: LogisticRegression,
    MLP.name: MLP,
    CNN.name: CNN,
}


def build_model(model_config, in_features: int, num_classes: int, image_shape=None) -> Classifier:
    """The model that ``model.name`` names, for data with ``in_features`` and ``num_classes``; a model
    that ``reads_images`` also gets the rows' ``image_shape`` ((C, H, W), (H, W) or None).

    A model too large to allocate is a ``ConfigError`` naming the keys that size it and the bytes asked for."""
    model_class = MODELS[model_config.name]
    shape = {"image_shape": image_shape} if getattr(model_class, "reads_images", False) else {}
    try:
        return model_class.from_config(model_config, in_features, num_classes, **shape)
    except (RuntimeError, MemoryError) as error:
        if "memory" not in str(error).lower():
            raise
        with torch.device("meta"):  # the same model, sized without allocating
            sized = model_class.from_config(model_config, in_features, num_classes, **shape)
        need = sum(p.numel() * p.element_size() for p in sized.parameters())
        keys = [f"model.{k}={getattr(model_config, k)!r}" for k in sorted(model_config.model_fields_set) if k != "name"]
        raise ConfigError(f"the model is too large to allocate: its parameters need {need:,} bytes "
                          f"({need / 2**30:.1f} GiB) for {in_features} features and {num_classes} classes"
                          f"{' with ' + ', '.join(keys) if keys else ''}; choose a smaller model") from None


def architecture(model: Classifier) -> dict:
    """What a checkpoint records to rebuild ``model``: its name and constructor arguments."""
    return {"name": type(model).name, "args": model.constructor_args()}


def rebuild_model(architecture: dict, dtype=None) -> Classifier:
    """A fresh model from ``architecture(model)``; load the weights into it after."""
    name = architecture["name"]
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    return MODELS[name](**architecture["args"], dtype=dtype)
