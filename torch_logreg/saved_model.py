"""A trained model on raw features: the checkpoint's model part, ``save_model`` and ``load_model``.

A format-2 checkpoint records, beside the trainer's own keys (config, optimizer, history, ...):

    format         2
    architecture   {"name": "logistic", "args": {...}}: ``nn.models.rebuild_model`` rebuilds it
    model          the state_dict
    classes        the original label values, index k = class k (ints, bools or strings)
    feature_names  the training feature columns, in the model's input order
    standardizer   {"mean": (n,), "std": (n,)} or None
    target         the label column's name, or None

``model_record`` writes the first six, for the trainer and for ``save_model`` alike.
Format-1 checkpoints (no architecture, no classes) load as the binary
``LogisticRegression(n, l2=config.model.l2)`` with classes [0, 1].
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

from .checkpoint import load_checkpoint, save_checkpoint
from .data.standardizer import Standardizer
from .errors import CheckpointError
from .nn import models
from .nn.classifier import Classifier

CHECKPOINT_FORMAT = 2


class StandardizedModel(nn.Module):
    """x_raw ↦ model((x_raw − mean) / std): the training standardization, then any ``Classifier``.

    The logits are computed in float64 and returned in the model's dtype, so raw features
    far outside the training range saturate to ±inf instead of overflowing inside the
    sum (where inf − inf would give NaN).

    Attributes:
        model: the ``Classifier``; classes: the original labels (class k is ``classes[k]``);
        feature_names, target, num_classes, in_features; label_map: training's ``data.labels`` or None.

    Shape: x (N, n) raw features -> logits (N,) for 2 classes, (N, K) for K.
    """

    def __init__(
        self,
        model: Classifier,
        standardizer: Standardizer | None = None,
        classes: list | None = None,
        feature_names: list[str] | None = None,
        target: str | None = None,
        label_map: dict | None = None,
    ):
        super().__init__()
        self.model = model
        n = model.in_features
        reference = next(model.parameters())
        mean = standardizer.mean if standardizer else torch.zeros(n)
        std = standardizer.std if standardizer else torch.ones(n)
        self.register_buffer("mean", mean.to(reference))
        self.register_buffer("std", std.to(reference))
        self.classes = list(classes) if classes is not None else list(range(model.num_classes))
        self.feature_names = list(feature_names) if feature_names else default_feature_names(n)
        self.target = target
        self.label_map = label_map  # training's data.labels (raw label -> class value), for labelled files

    @property
    def in_features(self) -> int:
        return self.model.in_features

    @property
    def num_classes(self) -> int:
        return self.model.num_classes

    def forward(self, x) -> Tensor:
        wide = torch.float64
        x = torch.as_tensor(x).to(device=self.mean.device, dtype=wide)
        tensors = {
            name: t.to(wide) if t.is_floating_point() else t
            for name, t in [*self.model.named_parameters(), *self.model.named_buffers()]
        }
        z = functional_call(self.model, tensors, ((x - self.mean.to(wide)) / self.std.to(wide),))
        return z.to(self.mean.dtype)

    @torch.no_grad()
    def predict_proba(self, x) -> Tensor:
        """P(class 1) (N,) for 2 classes; (N, K) rows that sum to 1 for K.  x: (N, n) raw, tensor or array."""
        return self.model.loss.proba(self(x))

    @torch.no_grad()
    def predict(self, x, threshold: float = 0.5) -> Tensor:
        """Class indices (N,) int64: σ(z) > threshold for 2 classes, the argmax for K."""
        return self.model.loss.predict(self(x), threshold)

    @torch.no_grad()
    def predict_labels(self, x, threshold: float = 0.5) -> list:
        """The original label of each row's predicted class: ``classes[predict(x)]``."""
        return [self.classes[k] for k in self.predict(x, threshold).tolist()]

    @torch.no_grad()
    def proba_and_predict(self, x, threshold: float = 0.5) -> tuple[Tensor, Tensor]:
        """``(predict_proba(x), predict(x, threshold))`` from one pass over the rows."""
        z = self(x)
        return self.model.loss.proba(z), self.model.loss.predict(z, threshold)


def default_feature_names(n: int) -> list[str]:
    return [f"x{i + 1}" for i in range(n)]


# ---------------------------------------------------------------- writing


def model_record(model: Classifier, standardizer=None, classes=None, feature_names=None) -> dict:
    """The checkpoint's model part: format, architecture, model, classes, feature_names, standardizer.

    The one place where they are written (the trainer adds its own keys beside them).
    ``standardizer`` is a ``Standardizer``, its ``state_dict()`` or None; ``classes``
    default to 0..K−1 and ``feature_names`` to x1..xn.  Raises ValueError when one of
    them does not fit the model.
    """
    n, k = model.in_features, model.num_classes
    classes = list(range(k)) if classes is None else [_plain_label(c) for c in classes]
    if len(classes) != k or len(set(map(repr, classes))) != k:
        raise ValueError(f"classes must be {k} distinct labels for this model, got {classes}")
    feature_names = (
        default_feature_names(n) if feature_names is None else [str(name) for name in feature_names]
    )
    if len(feature_names) != n:
        raise ValueError(f"feature_names must name the model's {n} features, got {len(feature_names)}")
    if isinstance(standardizer, Standardizer):
        standardizer = standardizer.state_dict()
    if standardizer is not None:
        standardizer = {
            key: torch.as_tensor(standardizer[key]).detach().to("cpu", copy=True) for key in ("mean", "std")
        }
        if any(tuple(t.shape) != (n,) for t in standardizer.values()):
            raise ValueError(f"the standardizer's mean and std must have shape ({n},)")
    return {
        "format": CHECKPOINT_FORMAT,
        "architecture": models.architecture(model),
        "model": {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()},
        "classes": classes,
        "feature_names": feature_names,
        "standardizer": standardizer,
    }


def _plain_label(label):
    """A label as the checkpoint stores it: a Python int, bool or str (whole-number floats become ints)."""
    if isinstance(label, (np.generic, Tensor)):
        label = label.item()
    if isinstance(label, (bool, int, str)):
        return label
    if isinstance(label, float) and math.isfinite(label) and label == int(label):
        return int(label)
    raise ValueError(f"a class label must be an int, a bool or a string, got {label!r}")


def save_model(model: Classifier, path, *, standardizer=None, classes=None, feature_names=None) -> None:
    """Save a model you trained yourself as a checkpoint that ``load_model`` reads (atomically).

    Example::

        >>> model = LogisticRegression(30)            # ... fit it on standardized rows ...
        >>> save_model(model, "model.pt", standardizer=Standardizer.fit(x_raw), feature_names=names)
        >>> load_model("model.pt").predict_labels(x_raw_new)
    """
    state = model_record(model, standardizer, classes, feature_names)
    save_checkpoint(path, {**state, "target": None, "config": {}})


# ---------------------------------------------------------------- reading


def load_model(run_dir_or_checkpoint) -> StandardizedModel:
    """The model of a run folder or checkpoint file, on the CPU, in eval mode, taking raw features.

    Any checkpoint content that does not describe a model raises ``CheckpointError`` (one line).
    """
    state = load_checkpoint(run_dir_or_checkpoint)
    try:
        weights = state["model"]
        dtype = next(t.dtype for t in weights.values() if t.is_floating_point())
        architecture = state["architecture"] if "architecture" in state else _format_1_architecture(state)
        model = _rebuild(architecture, weights, dtype)
        classes = state["classes"] if "architecture" in state else [0, 1]
        if not isinstance(classes, list) or len(classes) != model.num_classes:
            raise ValueError(f"classes {classes!r} do not fit a model of {model.num_classes} classes")
        names = state.get("feature_names")
        if names is not None and (not isinstance(names, list) or len(names) != model.in_features):
            raise ValueError(f"feature_names do not fit a model of {model.in_features} features")
        standardizer = _standardizer(state.get("standardizer"), model.in_features)
        target = state.get("target")
        label_map = ((state.get("config") or {}).get("data") or {}).get("labels")
        if label_map is not None and not isinstance(label_map, dict):
            raise ValueError(f"config data.labels must be a mapping, got {label_map!r}")
    except (
        KeyError,
        RuntimeError,
        TypeError,
        IndexError,
        AttributeError,
        ValueError,
        StopIteration,
    ) as error:
        raise CheckpointError(
            f"{run_dir_or_checkpoint}: not a torch_logreg checkpoint ({_one_line(error)})"
        ) from None
    loaded = StandardizedModel(model, standardizer, classes, names, target, label_map).eval()
    loaded.rows_not_image_files = _rows_not_image_files((state.get("config") or {}).get("data") or {})
    return loaded


def _rows_not_image_files(data: dict) -> str | None:
    """How the training images came as rows of numbers, whose scale need not be an image file's [0, 1]
    (built-in data, or ``data.image_shape`` on a CSV or .npy); None when they were image files or unknown."""
    if data.get("image_shape") is not None:
        return f"data.image_shape={list(data['image_shape'])} on {data.get('path')}"
    if data.get("name") and not data.get("path"):
        return f"data.name={data['name']}"
    return None


def _format_1_architecture(state: dict) -> dict:
    """Format 1 recorded no architecture: it was always the binary one-neuron model."""
    n = state["model"]["weight"].shape[1]
    return {
        "name": "logistic",
        "args": {"in_features": n, "num_classes": 2, "l2": state["config"]["model"]["l2"]},
    }


def _rebuild(architecture: dict, weights: dict, dtype: torch.dtype) -> Classifier:
    if not isinstance(architecture, dict) or not isinstance(architecture.get("args"), dict):
        raise ValueError(f"architecture must be {{'name': ..., 'args': {{...}}}}, got {architecture!r}")
    # First on the meta device: args that do not fit the weights (in_features=10**12, say)
    # are named here, before anything is allocated.
    with torch.device("meta"):
        probe = models.rebuild_model(architecture, dtype=dtype)
    expected = {key: tuple(t.shape) for key, t in probe.state_dict().items()}
    found = {key: tuple(t.shape) for key, t in weights.items()}
    for key in [
        *expected,
        *(key for key in found if key not in expected),
    ]:  # the model's order: first mismatch
        if expected.get(key) != found.get(key):
            raise ValueError(
                f"the weights do not fit architecture {architecture['name']!r}: {key!r} is "
                f"{found.get(key, 'missing')} in the checkpoint, {expected.get(key, 'absent')} "
                f"in the model"
            )
    model = models.rebuild_model(architecture, dtype=dtype)
    model.load_state_dict(weights)
    return model


def _standardizer(state, n: int) -> Standardizer | None:
    if not state:
        return None
    standardizer = Standardizer.from_state_dict(state)
    if any(tuple(t.shape) != (n,) for t in (standardizer.mean, standardizer.std)):
        raise ValueError(f"the standardizer's mean and std do not have shape ({n},)")
    return standardizer


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) if lines else type(error).__name__
