"""The models a config can name, and how a checkpoint rebuilds one.

A new model joins with its own module file, one line here, its config keys and
its tests: the trainer, the optimizers, checkpoints and ``predict`` find what
they need through the ``Classifier`` interface.
"""

from __future__ import annotations

from .classifier import Classifier
from .logistic import LogisticRegression
from .mlp import MLP

MODELS: dict[str, type[Classifier]] = {
    LogisticRegression.name: LogisticRegression,
    MLP.name: MLP,
}


def build_model(model_config, in_features: int, num_classes: int) -> Classifier:
    """The model that ``model.name`` names, for data with ``in_features`` and ``num_classes``."""
    return MODELS[model_config.name].from_config(model_config, in_features, num_classes)


def architecture(model: Classifier) -> dict:
    """What a checkpoint records to rebuild ``model``: its name and constructor arguments."""
    return {"name": type(model).name, "args": model.constructor_args()}


def rebuild_model(architecture: dict, dtype=None) -> Classifier:
    """A fresh model from ``architecture(model)``; load the weights into it after."""
    name = architecture["name"]
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    return MODELS[name](**architecture["args"], dtype=dtype)
