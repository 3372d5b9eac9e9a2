"""scikit-learn estimators on torch_logreg's trainer: ``LogisticRegressionClassifier``, ``MLPClassifier``.

Each ``fit`` validates X and y as scikit-learn does, encodes the labels (``classes_``,
sorted), and calls ``torch_logreg.train`` on the rows as given (no standardization:
put a ``StandardScaler`` in a ``Pipeline``), minimizing

    J = (1/Σs) Σᵢ sᵢ·lossᵢ + (l2 / 2Σs)·‖W‖²          s = sample_weight × class_weight

(unit weights: the mean loss plus (l2/2m)·‖W‖²), so ``l2 = 1/C`` gives scikit-learn's
``LogisticRegression(C=C)`` and weight 2 is the same as a repeated row.

Estimator parameter -> config key:  l2 -> model.l2, optimizer -> optimizer.name, lr ->
optimizer.lr, max_iter -> train.iterations, tol -> optimizer.grad_tol (None: the dtype's
default), batch_size -> train.batch_size, class_weight -> model.class_weight, device ->
train.device, dtype -> train.dtype, random_state -> seed (None: 0), verbose -> train.print_cost.

Quiet by default: ``verbose=0`` prints nothing and writes nothing; a fit that does not
converge raises scikit-learn's ``ConvergenceWarning``, the trainer's other warnings
(a constant or duplicated column, separable data) a ``UserWarning``.  ``log_dir`` writes
each fit's run (config, checkpoint, TensorBoard) to a new folder under it.

scikit-learn is an optional dependency: ``pip install 'torch_logreg[sklearn]'``.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import torch

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - exercised by a test that hides scikit-learn
    raise ImportError("torch_logreg.sklearn needs scikit-learn: pip install 'torch_logreg[sklearn]'") from error

from . import errors
from .data.labels import distinct_and_inverse
from .errors import TorchLogregWarning
from .data.split import make_split
from .saved_model import default_feature_names
from .training.config import check_config, load_config
from .training.trainer import class_weights, train

__all__ = ["LogisticRegressionClassifier", "MLPClassifier"]


class NotConvergedWarning(errors.ConvergenceWarning, ConvergenceWarning):
    """The fit stopped before its convergence test: both the project's and scikit-learn's class, so
    either's filters catch it."""


class SeparatedWarning(errors.SeparationWarning, ConvergenceWarning):
    """The training rows are separable (the weights grow without bound without l2): scikit-learn's class too."""


class _TorchClassifier(ClassifierMixin, BaseEstimator):
    """What both estimators share: fit through ``train``, and the prediction methods.

    Subclasses set ``_model_settings()`` (the ``model.*`` keys) and, in ``_fitted``, their own attributes.
    """

    def fit(self, X, y, sample_weight=None):
        """Fit on X (m, n) numpy, pandas or tensor, y (m,) labels, optional sample_weight (m,) >= 0.  -> self."""
        X, y = validate_data(self, _host(X), _host(y), dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_index = distinct_and_inverse(y)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the data, but the data "
                             f"contain only one class: {self.classes_[0]!r}")
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
            weighted_classes = np.unique(y_index[weights > 0])
            if len(weighted_classes) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes with a positive "
                                 f"sample_weight, but only one class has any weight")
        labels = [_plain_label(c) for c in self.classes_]
        config = self._config(labels, y_index, weights)
        x = torch.tensor(X, dtype=torch.float64)  # a copy: X may be a read-only memmap
        y_tensor = torch.from_numpy(y_index.astype(np.float64))
        names = list(getattr(self, "feature_names_in_", default_feature_names(X.shape[1])))
        # No test rows: scikit-learn holds data out itself (cross_val_score, GridSearchCV).
        split = make_split(x, y_tensor, x[:0], y_tensor[:0], names, standardize=False, classes=labels)
        run_dir = _new_run_dir(self.log_dir, type(self).__name__) if self.log_dir is not None else None
        # The trainer's own warnings are said again below in the estimator's words and classes.
        with _quiet_logging(self.verbose), warnings.catch_warnings():
            warnings.simplefilter("ignore", TorchLogregWarning)
            result = train(config, run_dir=run_dir, save=run_dir is not None, report=run_dir is not None, data=split,
                           sample_weight=weights)
        self.model_ = result.model.cpu().eval()
        self.n_iter_ = int(result.metrics["iterations"])
        self.converged_ = bool(result.metrics["converged"])
        self.run_dir_ = result.run_dir
        self._fitted()
        self._warn(result.metrics)
        return self

    # ------------------------------------------------------------ predictions

    def decision_function(self, X) -> np.ndarray:
        """Logits: (N,) for 2 classes (the positive class's), (N, K) for K."""
        return self._logits(X).numpy().astype(np.float64, copy=False)

    def predict(self, X) -> np.ndarray:
        """The label of each row's most probable class, from ``classes_``.  (N,)."""
        z = self._logits(X)
        index = (z > 0).long() if z.ndim == 1 else z.argmax(1)
        return self.classes_[index.numpy()]

    def predict_proba(self, X) -> np.ndarray:
        """(N, K) probabilities, columns in the order of ``classes_`` (two columns for 2 classes)."""
        z = self._logits(X).to(torch.float64)
        if z.ndim == 1:
            return torch.stack([torch.sigmoid(-z), torch.sigmoid(z)], 1).numpy()
        return torch.softmax(z, 1).numpy()

    def predict_log_proba(self, X) -> np.ndarray:
        """log ``predict_proba``, from the logits (no log of a rounded probability).  (N, K)."""
        z = self._logits(X).to(torch.float64)
        if z.ndim == 1:
            return torch.stack([-torch.nn.functional.softplus(z), -torch.nn.functional.softplus(-z)], 1).numpy()
        return torch.log_softmax(z, 1).numpy()

    # ------------------------------------------------------------ helpers

    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = validate_data(self, _host(X), reset=False, dtype=[np.float64, np.float32])
        reference = next(self.model_.parameters())
        with torch.no_grad():
            return self.model_(torch.tensor(X, dtype=reference.dtype))

    def _config(self, labels: list, y_index: np.ndarray, sample_weight: np.ndarray | None):
        config = load_config(None, [])
        config.seed = _seed(self.random_state)
        config.model.name = self._model_name
        for key, value in self._model_settings().items():
            setattr(config.model, key, value)
        config.model.l2 = float(self.l2)
        config.model.class_weight = _class_weight(self.class_weight, self.classes_, labels, y_index, sample_weight)
        config.optimizer.name = self.optimizer
        config.optimizer.lr = float(self.lr)
        config.optimizer.grad_tol = None if self.tol is None else float(self.tol)
        config.train.iterations = int(self.max_iter)
        config.train.batch_size = self.batch_size
        config.train.device = str(self.device)
        config.train.dtype = self.dtype
        config.train.print_cost = bool(self.verbose)
        config.train.checkpoint_every = 0
        config.data.standardize = False
        config.name = type(self).__name__
        check_config(config, type(self).__name__)
        return config

    def _fitted(self) -> None:
        pass

    def _warn(self, metrics: dict) -> None:
        lines = list(metrics["warnings"])
        if not metrics["converged"]:
            said = [line for line in lines if "did not converge" in line or "did not settle" in line]
            lines = [line for line in lines if line not in said]
            warnings.warn(NotConvergedWarning(said[0] if said else
                                              f"{self.optimizer} did not converge in {self.n_iter_} iterations: the "
                                              f"largest gradient entry is {metrics['grad_norm']:.3g}; raise max_iter"))
        for line in lines:
            category = SeparatedWarning if "separa" in line else errors.TorchLogregWarning
            warnings.warn(category(line), stacklevel=3)


class LogisticRegressionClassifier(_TorchClassifier):
    r"""Logistic regression (binary: one neuron; K classes: softmax) as a scikit-learn classifier.

    Minimizes (1/Σs) Σ sᵢ·lossᵢ + (l2/2Σs)·‖W‖² with Newton's method on the closed-form
    Hessian by default; ``l2=1.0`` is scikit-learn's ``LogisticRegression(C=1)``.

    Args:
        l2: L2 strength on the weights (never the intercept); ``C = 1/l2``.
        optimizer: ``"newton"``, ``"lbfgs"``, ``"gd"``, ``"sgd"`` or ``"adam"``.
        lr: learning rate (not used by newton).
        max_iter: optimizer steps at most (newton and lbfgs stop once converged).
        tol: converged when the gradient's largest entry is below this (None: 1e-8 in float64, 1e-4 in float32).
        batch_size: mini-batch rows (None: full batch).
        class_weight: None, ``"balanced"`` (m / (K·count of the class)) or {label: weight}.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``; the fitted model is kept on the CPU.
        dtype: ``"float64"`` or ``"float32"``.
        random_state: the seed (None: 0); used by mini-batches and sub-sampled Newton.
        verbose: 0 prints nothing; 1 prints the cost at the trainer's log steps.
        log_dir: None writes nothing; a folder: each fit writes its run into a new subfolder.

    Attributes:
        classes_ (K,), coef_ (1, n) for 2 classes or (K, n), intercept_ (1,) or (K,), n_iter_,
        n_features_in_, feature_names_in_ (pandas input only), converged_, run_dir_, model_
        (the fitted ``torch_logreg.LogisticRegression``, on the CPU).

    Example::

        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import StandardScaler
        >>> make_pipeline(StandardScaler(), LogisticRegressionClassifier(l2=1.0)).fit(X, y).predict_proba(X)
    """

    _model_name = "logistic"

    def __init__(self, l2=1.0, optimizer="newton", lr=0.5, max_iter=100, tol=None, batch_size=None,
                 class_weight=None, device="cpu", dtype="float64", random_state=None, verbose=0, log_dir=None):
        self.l2 = l2
        self.optimizer = optimizer
        self.lr = lr
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.class_weight = class_weight
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.log_dir = log_dir

    def _model_settings(self) -> dict:
        return {"init": "zeros"}

    def _fitted(self) -> None:
        self.coef_ = self.model_.weight.detach().to(torch.float64).numpy().copy()  # (1, n) or (K, n)
        self.intercept_ = self.model_.bias.detach().to(torch.float64).numpy().copy()  # (1,) or (K,)

    def summary(self, X, y, sample_weight=None):
        """``torch_logreg.stats.summary`` of the fit on its training data (X, y as given to ``fit``).

        The Hessian is that of the fitted objective: class_weight and sample_weight weight the rows,
        and with l2 > 0 it is the penalized one (the table says so).  -> ``stats.Summary``.
        """
        from .stats import summary  # local: the estimator works without the statistics

        check_is_fitted(self)
        X = validate_data(self, _host(X), reset=False, dtype=[np.float64, np.float32])
        y = np.asarray(_host(y)).reshape(-1)
        index = np.searchsorted(self.classes_, y)
        if np.any(index >= len(self.classes_)) or np.any(self.classes_[np.minimum(index, len(self.classes_) - 1)] != y):
            raise ValueError("y holds labels that are not in classes_")
        given = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)
        weights = None if given is None else torch.from_numpy(given)
        if self.class_weight is not None:  # the fitted objective's row weights, as fit built them
            labels = [_plain_label(c) for c in self.classes_]
            per_class = class_weights(_class_weight(self.class_weight, self.classes_, labels, index, given), labels,
                                      torch.from_numpy(index))
            row = per_class[torch.from_numpy(index)]
            weights = row if weights is None else weights * row
        names = list(getattr(self, "feature_names_in_", default_feature_names(X.shape[1])))
        return summary(self.model_, torch.tensor(X), torch.from_numpy(index.astype(np.float64)), feature_names=names,
                       sample_weight=weights, converged=self.converged_,
                       classes=[_plain_label(c) for c in self.classes_])


class MLPClassifier(_TorchClassifier):
    """A network of ``hidden`` layers (hand-written backward) as a scikit-learn classifier.

    The same machinery and objective as ``LogisticRegressionClassifier``, the L2 term on
    every weight matrix (``l2`` is scikit-learn's ``MLPClassifier(alpha=...)``), trained by
    L-BFGS by default.  Attributes: classes_, coefs_ (list of (fan_in, fan_out), as
    scikit-learn's), intercepts_, n_iter_, n_features_in_, converged_, model_ (``torch_logreg.MLP``).
    """

    _model_name = "mlp"

    def __init__(self, hidden=(4,), activation="tanh", l2=1e-4, optimizer="lbfgs", lr=1.0, max_iter=200,
                 tol=None, batch_size=None, class_weight=None, init="uniform", device="cpu", dtype="float64",
                 random_state=None, verbose=0, log_dir=None):
        self.hidden = hidden
        self.activation = activation
        self.l2 = l2
        self.optimizer = optimizer
        self.lr = lr
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.class_weight = class_weight
        self.init = init
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.log_dir = log_dir

    def _model_settings(self) -> dict:
        return {"hidden": [int(width) for width in self.hidden], "activation": self.activation, "init": self.init}

    def _fitted(self) -> None:
        layers = self.model_.layers
        self.coefs_ = [layer.weight.detach().to(torch.float64).numpy().T.copy() for layer in layers]
        self.intercepts_ = [layer.bias.detach().to(torch.float64).numpy().copy() for layer in layers]


# ---------------------------------------------------------------- helpers


def _host(values):
    """Tensors (any device) as numpy arrays; anything else as it is (pandas keeps its column names)."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return values


def _plain_label(label):
    """A class as the trainer and its checkpoint keep it: a Python scalar, whole-number floats as ints."""
    value = label.item() if isinstance(label, np.generic) else label
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _class_weight(class_weight, classes: np.ndarray, labels: list, y_index: np.ndarray,
                  sample_weight: np.ndarray | None):
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
            raise ValueError(f"class_weight names label {key!r}, which is not a class of y "
                             f"(classes: {', '.join(map(str, classes))})")
        mapped[labels[matches[0]]] = float(weight)
    return mapped


def _seed(random_state) -> int:
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return int(random_state)


def _new_run_dir(log_dir, name: str) -> Path:
    """A new, empty folder ``log_dir/<name>-<timestamp>[-k]``, claimed by mkdir so parallel fits never share one."""
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
def _quiet_logging(verbose):
    """verbose=0: the package's log lines reach only handlers the caller configured (never Python's last resort)."""
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
