"""A trained model on files of raw rows: the ``predict`` and ``evaluate`` commands.

The model side (``load_model``, ``save_model``, ``model_record``) lives in ``saved_model``,
reading the rows (the header check, labels) in ``feature_files``; both are re-exported here.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch
from torch import Tensor

from .checkpoint import CHECKPOINT_NAME, atomic_write_text
from .data.image_folder import image_inputs, load_image_folder, read_images
from .errors import DataError, UserInputError
from .feature_files import class_indices, read_rows
from .saved_model import StandardizedModel, load_model, model_record, save_model
from .training.metrics import classification_metrics

__all__ = [
    "StandardizedModel",
    "load_model",
    "save_model",
    "model_record",
    "read_rows",
    "predict_file",
    "evaluate_file",
    "evaluate_split",
]


# ---------------------------------------------------------------- the commands


def predict_file(
    checkpoint,
    data_path,
    out_path=None,
    *,
    threshold: float = 0.5,
    header: bool = True,
    overwrite: bool = False,
) -> str:
    """CSV text: the predicted label (``prediction``), then ``p_<class>``, the probability of the positive
    class (the second of ``classes``), for a binary model or one ``p_<class>`` column per class for K classes;
    one line per row.

    Written atomically to ``out_path`` if given; ``out_path`` may not be the checkpoint or the
    data file: predictions never replace their inputs.  ``threshold`` is for binary models.
    """
    if out_path is not None:
        _check_out_path(Path(out_path), checkpoint, data_path, overwrite)
    model = load_model(checkpoint)
    if not 0.0 <= threshold <= 1.0:
        raise UserInputError(f"the threshold must be in [0, 1], got {threshold}")
    if model.num_classes > 2 and threshold != 0.5:
        raise UserInputError(
            f"--threshold applies to binary models; this model has {model.num_classes} classes "
            f"and predicts the most probable one"
        )
    images = image_inputs(model.model.sample_shape, data_path)  # a folder or a file of images: their paths
    if images:
        _check_trained_on_image_files(model, data_path)
        x = read_images(images, model.model.sample_shape)
    else:
        x = read_rows(data_path, model, header=header)[0]
    proba, predicted = model.proba_and_predict(x, threshold)
    _check_finite(proba, data_path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    binary = model.num_classes == 2
    # The binary column names its class (p_1, p_dog), as the K-class columns do.
    writer.writerow(
        [
            *(["path"] if images else []),
            "prediction",
            *([f"p_{model.classes[1]}"] if binary else (f"p_{c}" for c in model.classes)),
        ]
    )
    for index, (k, p) in enumerate(zip(predicted.tolist(), proba.tolist())):
        path = [str(images[index])] if images else []
        writer.writerow([*path, model.classes[k], *(f"{v:.10g}" for v in ([p] if binary else p))])
    text = buffer.getvalue()
    if out_path is not None:
        atomic_write_text(out_path, text)
    return text


def _check_trained_on_image_files(model, data_path) -> None:
    """Image files are read as pixels in [0, 1]: a model trained on rows of numbers (the digits' 0-16, a
    CSV of pixels) would take them at another scale and give wrong numbers without a sign, so it
    refuses them."""
    source = getattr(model, "rows_not_image_files", None)
    if source is not None:
        raise DataError(
            f"{data_path}: image files are read as pixels in [0, 1], but this model was trained on "
            f"rows of numbers ({source}) whose scale may differ; give it rows in its training form "
            f"(a CSV or .npy), or train it on a folder of images"
        )


def evaluate_file(checkpoint, data_path, *, header: bool = True) -> dict:
    """The model's metrics on a labelled file, plus ``rows``: ``training.metrics.classification_metrics``'
    names without a prefix (binary: accuracy, auc, f1, precision, recall, log_loss;
    K classes: accuracy, macro_f1, log_loss).

    Labels are read as training read them (``data.labels`` applies) and must be among the
    checkpoint's classes; an unknown one is a DataError naming it and its line.
    """
    model = load_model(checkpoint)
    shape = model.model.sample_shape
    if image_inputs(shape, data_path):  # labelled images: a folder with one sub-folder per class
        _check_trained_on_image_files(model, data_path)
        if not Path(data_path).is_dir():
            raise DataError(
                f"{data_path}: evaluate needs labelled images, a folder with one sub-folder per class"
            )
        x, y, _, _ = load_image_folder(data_path, shape[1:], model.classes, shape[0])
        y = y.long()
    else:
        x, labels, places = read_rows(data_path, model, header=header, need_labels=True)
        y = class_indices(labels, places, model, data_path)
    proba = model.predict_proba(x)
    _check_finite(proba, data_path)
    return {"rows": len(y), **_metrics(y, proba, model.num_classes)}


def evaluate_split(checkpoint, which: str) -> dict:
    """The model's metrics on its own run's ``test`` (held-out) or ``train`` rows, plus ``rows``.

    The split is rebuilt from the checkpoint's config and seed, as training made it; the data files
    must be the ones it was trained on (the checkpoint's fingerprint), or the rows would be others.
    """
    from .checkpoint import load_checkpoint
    from .data.fingerprint import data_fingerprint
    from .data.split import load_split
    from .training.config import config_from_dict
    from .training.resume import changed_data_file

    if which not in ("train", "test"):
        raise UserInputError(f"--split is train or test, got {which!r}")
    state = load_checkpoint(checkpoint)
    if not state.get("config") or "art" in state:
        # save_model's files hold config {}: from it the default data's split would be rebuilt, and a
        # model of 30 features scored on rows it never saw as though they were its own held-out ones.
        raise DataError(
            f"{checkpoint}: holds no training run's config ("
            + ("an art run" if "art" in state else "a model saved with save_model")
            + "), so it has no split of its own; evaluate it on a labelled file with --data"
        )
    config = config_from_dict(state["config"])
    if config.data.stream:
        raise UserInputError(
            "--split needs the rows in memory; evaluate a streamed run's test file with --data"
        )
    key = changed_data_file(state.get("data_fingerprint"), data_fingerprint(config.data))
    if key is not None:
        raise DataError(
            f"data.{key} ({getattr(config.data, key)}) changed since the run trained on it, so "
            f"its {which} rows cannot be rebuilt; evaluate on a file with --data"
        )
    split = load_split(config.data, config.seed)
    model = load_model(checkpoint)
    x, y = (split.x_test, split.y_test) if which == "test" else (split.x_train, split.y_train)
    if len(y) == 0:
        raise DataError(f"the run has no {which} rows (data.test_fraction=0 and no data.test_path)")
    inner = model.model  # the split's rows are standardized already, as the inner model takes them
    dtype = next(inner.parameters()).dtype
    with torch.no_grad():
        proba = inner.predict_proba(x.to(dtype))
    return {"rows": len(y), **_metrics(y.long(), proba, model.num_classes)}


# ---------------------------------------------------------------- metrics


def _metrics(y: Tensor, proba: Tensor, num_classes: int) -> dict[str, float]:
    return {
        key.removeprefix("data_"): value
        for key, value in classification_metrics(y, proba, num_classes, "data").items()
    }


# ---------------------------------------------------------------- safety


def _check_finite(proba: Tensor, data_path) -> None:
    bad = torch.nonzero(torch.isnan(proba.reshape(len(proba), -1)).any(1)).flatten()
    if len(bad):
        raise DataError(
            f"{data_path}: row index {int(bad[0])} (from 0): features too large to score "
            f"(the logit overflows float64)"
        )


def _check_out_path(out: Path, checkpoint, data_path, overwrite: bool) -> None:
    """An output never replaces a run folder's own files, nor an input (the checkpoint, the data file or a
    file in the data folder), nor any existing file unless ``overwrite``."""
    from .training.run_dir import is_run_folder_file

    if out.is_dir():
        raise DataError(f"{out}: is a folder; --out takes the name of the CSV to write")
    checkpoint = Path(checkpoint)
    inputs = [checkpoint / CHECKPOINT_NAME if checkpoint.is_dir() else checkpoint, Path(data_path)]
    for given in inputs:
        if out.exists() and given.exists() and out.samefile(given):
            raise DataError(
                f"{out}: is an input of this command ({given}); write the predictions to another file"
            )
    if Path(data_path).is_dir() and out.resolve().is_relative_to(Path(data_path).resolve()):
        # every file of an input folder is an input (an image), and a CSV left there breaks the folder
        raise DataError(f"{out}: is inside the input folder {data_path}; write the predictions outside it")
    if is_run_folder_file(out):
        raise DataError(f"{out}: is one of a run folder's own files; write the predictions to another file")
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise DataError(f"{out}: already exists; pass --overwrite to replace it, or choose another --out")
