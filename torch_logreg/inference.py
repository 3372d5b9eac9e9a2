"""A trained model, ready to predict on raw features: ``load_model`` and the predict command."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .checkpoint import CHECKPOINT_NAME, atomic_write_text, load_checkpoint
from .data import Standardizer, csv_rows, existing_file, finite_features, load_npy, load_npz, parse_number
from .errors import CheckpointError, DataError
from .module import LogisticRegression


class StandardizedModel(nn.Module):
    """x_raw ↦ model((x_raw − mean) / std): the training standardization, then the neuron.

    The logits are computed in float64 and returned in the model's dtype, so raw features
    far outside the training range saturate to ±inf instead of overflowing inside the
    sum (where inf − inf would give NaN).

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
        wide = torch.float64
        params = {name: p.to(wide) for name, p in self.model.named_parameters()}
        z = functional_call(self.model, params, ((x.to(wide) - self.mean.to(wide)) / self.std.to(wide),))
        return z.to(self.mean.dtype)

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
    except (KeyError, RuntimeError, TypeError, IndexError, AttributeError, ValueError) as error:
        raise CheckpointError(f"{run_dir_or_checkpoint}: not a torch_logreg checkpoint ({error})") from None
    return StandardizedModel(model, standardizer, state.get("feature_names"), state.get("target")).eval()


def read_features(path, model: StandardizedModel) -> Tensor:
    """Rows to predict, x (m, n): a CSV with or without the label column, a .npy of (m, n) features
    or (m, n + 1) with the label last, or a .npz holding ``x`` (m, n)."""
    path = existing_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        x = _feature_array(load_npy(path), path, model, label_may_follow=True)
    elif suffix == ".npz":
        x = _feature_array(load_npz(path, keys=("x",))[0], path, model, label_may_follow=False)
    else:
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                x = _read_feature_csv(handle, path, model)
        except UnicodeDecodeError:
            raise DataError(f"{path}: not a UTF-8 text CSV (a spreadsheet or binary file? export it as CSV)") from None
    if x.shape[1] != model.in_features:
        raise DataError(f"{path}: has {x.shape[1]} feature columns, the checkpoint expects {model.in_features}")
    return x


def _feature_array(array, path: Path, model: StandardizedModel, label_may_follow: bool) -> Tensor:
    n = model.in_features
    widths = f"{n} or {n + 1} (features, then the label)" if label_may_follow else f"{n}"
    if array.ndim != 2 or array.shape[0] < 1:
        raise DataError(f"{path}: expected a 2-D array of rows by {widths} columns, got shape {tuple(array.shape)}")
    if label_may_follow and array.shape[1] == n + 1:
        array = array[:, :-1]
    if array.shape[1] != n:
        raise DataError(f"{path}: has {array.shape[1]} columns, the checkpoint expects {widths}")
    return torch.from_numpy(finite_features(array, str(path)))


def _read_feature_csv(lines, path: Path, model: StandardizedModel) -> Tensor:
    rows_in = csv_rows(lines, str(path))
    _, header = next(rows_in, (0, []))
    if not any(c.strip() for c in header):
        raise DataError(f"{path}: the file is empty")
    header = [c.strip() for c in header]
    # Drop the label column when the file still has it: the training target, or one extra last column.
    drop = None
    if model.target and model.target in header:
        drop = header.index(model.target)
    elif len(header) == model.in_features + 1:
        drop = len(header) - 1
    values = []
    for line_number, row in rows_in:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line_number} has {len(row)} fields, the header has {len(header)}")
        values.append([parse_number(cell, str(path), line_number, header[i])
                       for i, cell in enumerate(row) if i != drop])
    if not values:
        raise DataError(f"{path}: the header has no rows under it")
    return torch.tensor(values, dtype=torch.float64)


def predict_file(checkpoint, data_path, out_path=None) -> str:
    """CSV text with ``probability,prediction`` per input row; written atomically to ``out_path`` if given.

    ``out_path`` may not be the checkpoint or the data file: predictions never replace their inputs.
    """
    if out_path is not None:
        _check_out_path(Path(out_path), checkpoint, data_path)
    model = load_model(checkpoint)
    x = read_features(data_path, model)
    with torch.no_grad():
        probabilities = model.predict_proba(x)
    bad = torch.nonzero(torch.isnan(probabilities)).flatten()
    if len(bad):
        raise DataError(f"{data_path}: row index {int(bad[0])} (from 0): features too large to score "
                        f"(the logit overflows float64)")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["probability", "prediction"])
    for p in probabilities.tolist():
        writer.writerow([f"{p:.10g}", int(p > 0.5)])
    text = buffer.getvalue()
    if out_path is not None:
        atomic_write_text(out_path, text)
    return text


def _check_out_path(out: Path, checkpoint, data_path) -> None:
    if out.is_dir():
        raise DataError(f"{out}: is a folder; --out takes the name of the CSV to write")
    checkpoint = Path(checkpoint)
    inputs = [checkpoint / CHECKPOINT_NAME if checkpoint.is_dir() else checkpoint, Path(data_path)]
    for given in inputs:
        if out.exists() and given.exists() and out.samefile(given):
            raise DataError(f"{out}: is an input of this command ({given}); write the predictions to another file")
