"""The models a config can name, and how a checkpoint rebuilds one.

A new model joins with its own module file, one line here, its config keys and
its tests: the trainer, the optimizers, checkpoints and ``predict`` find what
they need through the ``Classifier`` interface.
"""

from __future__ import annotations

import math

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


def models_using(key: str) -> tuple[str, ...]:
    """The models that read ``model.<key>`` (one of some models' ``config_keys``), in registry order."""
    return tuple(name for name, model in MODELS.items() if key in model.config_keys)


def models_with_coefficient_table() -> tuple[str, ...]:
    """The models whose coefficients ``train.summary`` can tabulate."""
    return tuple(name for name, model in MODELS.items() if model.coefficient_table)


def model_name_help() -> str:
    """``model.name``'s description, from each model's ``help``."""
    parts = [model.help for model in MODELS.values()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", or " + parts[-1]


def build_model(model_config, sample_shape, num_classes: int) -> Classifier:
    """The model that ``model.name`` names, for samples of ``sample_shape`` ((n,) for a row of n features,
    (C, H, W) for an image; an int n is (n,)) and ``num_classes`` classes.

    A model too large to allocate is a ``ConfigError`` naming the keys that size it and the bytes
    asked for."""
    if isinstance(sample_shape, int):
        sample_shape = (sample_shape,)
    shape = tuple(int(side) for side in sample_shape)
    model_class = MODELS[model_config.name]
    try:
        return model_class.from_config(model_config, shape, num_classes)
    except (RuntimeError, MemoryError) as error:
        if "memory" not in str(error).lower():
            raise
        with torch.device("meta"):  # the same model, sized without allocating
            sized = model_class.from_config(model_config, shape, num_classes)
        need = sum(p.numel() * p.element_size() for p in sized.parameters())
        keys = [
            f"model.{k}={getattr(model_config, k)!r}"
            for k in sorted(model_config.model_fields_set)
            if k != "name"
        ]
        raise ConfigError(
            f"the model is too large to allocate: its parameters need {need:,} bytes "
            f"({need / 2**30:.1f} GiB) for {math.prod(shape)} features and "
            f"{num_classes} classes"
            f"{' with ' + ', '.join(keys) if keys else ''}; choose a smaller model"
        ) from None


def architecture(model: Classifier) -> dict:
    """What a checkpoint records to rebuild ``model``: its name, constructor arguments and the shape of one
    sample (``sample_shape``: (n,) or (C, H, W); a checkpoint without it holds rows of ``in_features``)."""
    return {
        "name": type(model).name,
        "args": model.constructor_args(),
        "sample_shape": list(model.sample_shape),
    }


def rebuild_model(architecture: dict, dtype=None) -> Classifier:
    """A fresh model from ``architecture(model)``; load the weights into it after."""
    name = architecture["name"]
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    return MODELS[name](**architecture["args"], dtype=dtype)
