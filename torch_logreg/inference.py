"""A trained model, ready to predict on raw features: ``load_model`` and the predict command."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch
from torch import Tensor, nn

from .checkpoint import atomic_write_text, load_checkpoint
from .data import Standardizer, parse_number, read_table
from .errors import CheckpointError, DataError
from .module import LogisticRegression


class StandardizedModel(nn.Module):
    """x_raw ↦ model((x_raw − mean) / std): the training standardization, then the neuron.

    Shape: x (N, n) raw features -> logits (N,).
    """

    def __init__(self, model: LogisticRegression, standardizer: Standardizer | None,
                 feature_names: list[str] | None = None, target: str | None = None):
        super().__init__()
        self.model = model
        n = model.in_features
        mean = standardizer.mean if standardizer else torch.zeros(n)
        std = standardizer.std if standardizer else torch.ones(n)
        self.register_buffer("mean", mean.to(model.weight))
        self.register_buffer("std", std.to(model.weight))
        self.feature_names = feature_names or [f"x{i + 1}" for i in range(n)]
        self.target = target

    @property
    def in_features(self) -> int:
        return self.model.in_features

    def forward(self, x: Tensor) -> Tensor:
        return self.model((x.to(self.mean) - self.mean) / self.std)

    def predict_proba(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self(x))

    def predict(self, x: Tensor, threshold: float = 0.5) -> Tensor:
        return (self.predict_proba(x) > threshold).to(self.mean.dtype)


def load_model(run_dir_or_checkpoint) -> StandardizedModel:
    """The model of a run folder or checkpoint file, on the CPU, in eval mode, taking raw features."""
    state = load_checkpoint(run_dir_or_checkpoint)
    try:
        weights = state["model"]
        n = weights["weight"].shape[1]
        model = LogisticRegression(n, l2=state["config"]["model"]["l2"], dtype=weights["weight"].dtype)
        model.load_state_dict(weights)
        standardizer = Standardizer.from_state_dict(state["standardizer"]) if state.get("standardizer") else None
    except (KeyError, RuntimeError, TypeError, IndexError) as error:
        raise CheckpointError(f"{run_dir_or_checkpoint}: not a torch_logreg checkpoint ({error})") from None
    return StandardizedModel(model, standardizer, state.get("feature_names"), state.get("target")).eval()


def read_features(path, model: StandardizedModel) -> Tensor:
    """Rows to predict from a CSV (.npy/.npz too): the training features, with or without the label column."""
    path = Path(path)
    if path.suffix.lower() in (".npy", ".npz"):
        x, _, _ = read_table(path)
    else:
        x = _read_feature_csv(path, model)
    if x.shape[1] != model.in_features:
        raise DataError(f"{path}: has {x.shape[1]} feature columns, the checkpoint expects {model.in_features}")
    return x


def _read_feature_csv(path: Path, model: StandardizedModel) -> Tensor:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or not any(c.strip() for c in rows[0]):
        raise DataError(f"{path}: the file is empty")
    header = [c.strip() for c in rows[0]]
    # Drop the label column when the file still has it: the training target, or one extra last column.
    drop = None
    if model.target and model.target in header:
        drop = header.index(model.target)
    elif len(header) == model.in_features + 1:
        drop = len(header) - 1
    values = []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(header):
            raise DataError(f"{path}: line {line_number} has {len(row)} fields, the header has {len(header)}")
        values.append([parse_number(cell, str(path), line_number, header[i])
                       for i, cell in enumerate(row) if i != drop])
    if not values:
        raise DataError(f"{path}: the header has no rows under it")
    return torch.tensor(values, dtype=torch.float64)


def predict_file(checkpoint, data_path, out_path=None) -> str:
    """CSV text with ``probability,prediction`` per input row; written atomically to ``out_path`` if given."""
    model = load_model(checkpoint)
    x = read_features(data_path, model)
    with torch.no_grad():
        probabilities = model.predict_proba(x)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["probability", "prediction"])
    for p in probabilities.tolist():
        writer.writerow([f"{p:.10g}", int(p > 0.5)])
    text = buffer.getvalue()
    if out_path is not None:
        atomic_write_text(out_path, text)
    return text
