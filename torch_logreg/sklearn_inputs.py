"""What an estimator's ``fit`` makes of its inputs and surroundings: y's labels, sample_weight ×
class_weight, the seed, a new run folder per fit, the estimator's words in advice, quiet logging.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import numpy as np
import torch

try:
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted
except ImportError as error:  # pragma: no cover - exercised by a test that hides scikit-learn
    raise ImportError(
        "torch_logreg.sklearn needs scikit-learn: pip install 'torch_logreg[sklearn]'"
    ) from error

from . import errors
from .sklearn_warnings import in_estimator_words
from .training.trainer import class_weights


def _host(values):
    """Tensors (any device) as numpy arrays; anything else as it is (pandas keeps its column names)."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return values


def rows_tensor(X: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """X (m, n) as a tensor of ``dtype`` that the fit and the predictions only read.

    X itself, shared, when it already is a writeable, C-ordered array of that dtype (a copy of
    100k×100 float64 is 80 MB and a fifteenth of a fit); otherwise a copy (X may be a read-only memmap,
    which torch cannot share, or another dtype or order).  Nothing downstream writes into the rows: the
    estimator's tests check X is bitwise the same after ``fit``."""
    if X.dtype == torch.empty(0, dtype=dtype).numpy().dtype and X.flags.c_contiguous and X.flags.writeable:
        return torch.from_numpy(X)
    return torch.tensor(X, dtype=dtype)


def check_targets(y: np.ndarray) -> None:
    """scikit-learn's ``check_classification_targets``, which refuses continuous and multi-output y.

    1-D integer or boolean labels are always binary or multiclass, so for them the check (a sort of y:
    about a twentieth of a small fit, 14 ms of a million rows) is skipped; any other y gets it."""
    if y.ndim == 1 and y.dtype.kind in "biu":
        return
    check_classification_targets(y)


def _plain_label(label):
    """A class as the trainer and its checkpoint keep it: a Python scalar, whole-number floats as ints."""
    value = label.item() if isinstance(label, np.generic) else label
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _parameter_view(estimator, name: str, pick) -> np.ndarray:
    check_is_fitted(estimator, name)
    return pick(getattr(estimator, name)).detach().numpy()


def _write_parameter(parameter: torch.Tensor, value, name: str) -> None:
    """Copy ``value`` into the model's parameter; its shape must be the attribute's."""
    array = np.asarray(value)
    if array.shape != tuple(parameter.shape):
        raise ValueError(f"{name} must have shape {tuple(parameter.shape)}, got {array.shape}")
    with torch.no_grad():
        parameter.copy_(torch.from_numpy(array.astype(np.float64, copy=False)))


def _row_weights(estimator, X, y_index: np.ndarray, sample_weight) -> np.ndarray | None:
    """sample_weight × the row's class_weight, (m,) float64, or None when both are absent.

    The class weights are folded in here rather than passed to the trainer, so that a class weight
    of 0 (scikit-learn accepts it: those rows count for nothing) needs no special case there.
    """
    weights = None
    if sample_weight is not None:
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if estimator.class_weight is not None:
        labels = [_plain_label(c) for c in estimator.classes_]
        mapping = _class_weight(estimator.class_weight, estimator.classes_, labels, y_index, weights)
        if mapping == "balanced":
            per_class = class_weights("balanced", labels, torch.from_numpy(y_index)).numpy()
        else:
            per_class = np.array([mapping.get(label, 1.0) for label in labels])
        if np.any(per_class < 0) or not np.all(np.isfinite(per_class)):
            raise ValueError(f"class_weight must be finite and >= 0, got {estimator.class_weight!r}")
        row = per_class[y_index]
        weights = row if weights is None else weights * row
    if weights is not None and len(np.unique(y_index[weights > 0])) < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs samples of at least 2 classes with a positive "
            f"weight (sample_weight × class_weight), but only one class has any weight"
        )
    return weights


def _class_weight(
    class_weight, classes: np.ndarray, labels: list, y_index: np.ndarray, sample_weight: np.ndarray | None
):
    """``class_weight`` keyed by the trainer's labels (``model.class_weight``); unknown labels are an error.

    ``"balanced"`` with sample weights counts each class by its weight, Σs / (K·Σ_{y=k} s), as
    scikit-learn's ``compute_class_weight`` does (so weight 2 stays a repeated row); the trainer's
    own ``"balanced"`` counts rows, so that case is passed to it as a mapping.
    """
    if class_weight == "balanced" and sample_weight is not None:
        per_class = np.bincount(y_index, weights=sample_weight, minlength=len(classes))
        balanced = sample_weight.sum() / (len(classes) * np.where(per_class > 0, per_class, np.inf))
        return {label: float(weight) if weight > 0 else 1.0 for label, weight in zip(labels, balanced)}
    if class_weight is None or isinstance(class_weight, str):
        return class_weight
    mapped = {}
    for key, weight in dict(class_weight).items():
        matches = np.flatnonzero(classes == key)
        if len(matches) != 1:
            raise ValueError(
                f"class_weight names label {key!r}, which is not a class of y "
                f"(classes: {', '.join(map(str, classes))})"
            )
        mapped[labels[matches[0]]] = float(weight)
    return mapped


def _seed(random_state) -> int:
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return int(random_state)


def _new_run_dir(log_dir, name: str) -> Path:
    """A new, empty folder ``log_dir/<name>-<timestamp>[-k]``, claimed by mkdir: parallel fits never share."""
    root = Path(log_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in range(1, 10_000):
        folder = root / (f"{name}-{stamp}" if suffix == 1 else f"{name}-{stamp}-{suffix}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise RuntimeError(f"{root}: no free run folder name for {name}-{stamp}")


@contextlib.contextmanager
def _in_estimator_words():
    """A divergence's advice names the estimator's parameters (``lr``, a StandardScaler), as its warnings do,
    not the trainer's config keys (``optimizer.lr``, ``data.standardize=true``) that the user never set."""
    try:
        yield
    except errors.TrainingDiverged as error:
        raise errors.TrainingDiverged(in_estimator_words(str(error))) from None


@contextlib.contextmanager
def _quiet_logging(verbose):
    """verbose=0: the package's log lines reach only the caller's handlers (never Python's last resort)."""
    if verbose:
        yield
        return
    package_logger = logging.getLogger("torch_logreg")
    handler = logging.NullHandler()
    package_logger.addHandler(handler)
    try:
        yield
    finally:
        package_logger.removeHandler(handler)
