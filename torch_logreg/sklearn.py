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
converge gives ``NotConvergedWarning``, separable data ``SeparatedWarning`` (both are
scikit-learn's ``ConvergenceWarning`` and the project's ``torch_logreg.errors`` classes), a
constant or duplicated column ``torch_logreg.errors.DesignWarning``; each speaks in the
estimator's parameters (``max_iter``, ``tol``, ``l2``), not the config's keys.  ``log_dir`` writes
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
import scipy.sparse as sp
import torch

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils import TransformerTags
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        validate_data,
    )
except ImportError as error:  # pragma: no cover - exercised by a test that hides scikit-learn
    raise ImportError(
        "torch_logreg.sklearn needs scikit-learn: pip install 'torch_logreg[sklearn]'"
    ) from error

from . import errors
from .data.labels import distinct_and_inverse
from .data.split import make_split
from .nn.sparse import SparseRows
from .saved_model import default_feature_names
from .sklearn_sparse import fit_sparse
from .sklearn_warnings import NotConvergedWarning, SeparatedWarning, category_of, in_estimator_words, say
from .training.config import check_config, load_config
from .training.optim import default_grad_tol
from .training.trainer import class_weights, train

__all__ = ["LogisticRegressionClassifier", "MLPClassifier", "NotConvergedWarning", "SeparatedWarning"]

# tol=0 ("run to max_iter"): a gradient tolerance no float32 or float64 run meets, and the config accepts.
TOL_NEVER_MET = 1e-30


class _TorchClassifier(ClassifierMixin, BaseEstimator):
    """What both estimators share: fit through ``train``, and the prediction methods.

    Subclasses set ``_model_settings()`` (the ``model.*`` keys), ``_sparse_formats`` (False, or the
    scipy.sparse formats ``fit`` takes) and their attributes (properties over ``model_``).
    """

    _sparse_formats = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = bool(self._sparse_formats)
        # float32 X gives a float32 model, coefficients and logits.  scikit-learn keeps this tag among
        # the transformer tags, and reads it only for estimators that transform.
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64", "float32"])
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit on X (m, n) numpy, pandas, tensor (or scipy.sparse CSR/CSC where the estimator takes it),
        y (m,) labels, optional sample_weight (m,) >= 0.  -> self."""
        X, y = validate_data(
            self, _host(X), _host(y), dtype=[np.float64, np.float32], accept_sparse=self._sparse_formats
        )
        check_classification_targets(y)
        self.classes_, y_index = distinct_and_inverse(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but the data "
                f"contain only one class: {self.classes_[0]!r}"
            )
        weights = _row_weights(self, X, y_index, sample_weight)
        dtype = self._torch_dtype(X)
        config = self._config(dtype, X.shape[0])
        with contextlib.ExitStack() as stack:
            caught = stack.enter_context(warnings.catch_warnings(record=True))
            warnings.simplefilter("always")
            if sp.issparse(X):
                metrics = self._fit_sparse(X, y_index, weights, config)
            else:
                metrics = self._fit_dense(X, y_index, weights, config)
        lines = [
            (str(w.message), w.category) for w in caught if issubclass(w.category, errors.TorchLogregWarning)
        ]
        for w in caught:  # anything else (a library's own warning) is said as it was
            if not issubclass(w.category, errors.TorchLogregWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self._warn(metrics, lines)
        return self

    def _fit_dense(self, X, y_index, weights, config) -> dict:
        labels = [_plain_label(c) for c in self.classes_]
        dtype = getattr(torch, config.train.dtype)
        x = torch.tensor(X, dtype=dtype)  # a copy: X may be a read-only memmap
        y_tensor = torch.from_numpy(y_index.astype(np.float64))
        names = list(getattr(self, "feature_names_in_", default_feature_names(X.shape[1])))
        # No test rows: scikit-learn holds data out itself (cross_val_score, GridSearchCV).
        split = make_split(x, y_tensor, x[:0], y_tensor[:0], names, standardize=False, classes=labels)
        run_dir = _new_run_dir(self.log_dir, type(self).__name__) if self.log_dir is not None else None
        # The trainer's own warnings are caught by fit and said again in the estimator's words and classes.
        with _quiet_logging(self.verbose):
            result = train(
                config,
                run_dir=run_dir,
                save=run_dir is not None,
                report=run_dir is not None,
                data=split,
                sample_weight=None if weights is None else torch.from_numpy(weights),
            )
        self.model_ = result.model.cpu().eval()
        self._fitted_run(int(result.metrics["iterations"]), bool(result.metrics["converged"]), result.run_dir)
        return result.metrics

    def _fit_sparse(self, X, y_index, weights, config) -> dict:
        raise TypeError(
            f"{type(self).__name__} does not take sparse X"
        )  # the estimators that do override this

    def _fitted_run(self, iterations: int, converged: bool, run_dir) -> None:
        self.n_iter_ = np.array([iterations], dtype=np.int32)  # scikit-learn's LogisticRegression: shape (1,)
        self.converged_ = converged
        self.run_dir_ = run_dir

    # ------------------------------------------------------------ predictions

    def decision_function(self, X) -> np.ndarray:
        """Logits in the model's dtype: (N,) for 2 classes (the positive class's), (N, K) for K."""
        return self._logits(X).numpy()

    def predict(self, X) -> np.ndarray:
        """The label of each row's most probable class, from ``classes_``.  (N,)."""
        z = self._logits(X)
        index = (z > 0).long() if z.ndim == 1 else z.argmax(1)
        return self.classes_[index.numpy()]

    def predict_proba(self, X) -> np.ndarray:
        """(N, K) probabilities, columns in the order of ``classes_`` (two columns for 2 classes)."""
        z = self._logits(X)  # in the model's dtype: float32 X gives float32 probabilities, as scikit-learn's
        if z.ndim == 1:
            return torch.stack([torch.sigmoid(-z), torch.sigmoid(z)], 1).numpy()
        return torch.softmax(z, 1).numpy()

    def predict_log_proba(self, X) -> np.ndarray:
        """log ``predict_proba``, from the logits (no log of a rounded probability).  (N, K)."""
        z = self._logits(X)
        if z.ndim == 1:
            return torch.stack(
                [-torch.nn.functional.softplus(z), -torch.nn.functional.softplus(-z)], 1
            ).numpy()
        return torch.log_softmax(z, 1).numpy()

    # ------------------------------------------------------------ helpers

    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = validate_data(
            self, _host(X), reset=False, dtype=[np.float64, np.float32], accept_sparse=self._sparse_formats
        )
        reference = next(self.model_.parameters())
        with torch.no_grad():
            if sp.issparse(X):  # the model's logits from the CSR: X is never densified
                return self.model_(SparseRows(X, reference.dtype))
            return self.model_(torch.tensor(X, dtype=reference.dtype))

    def _torch_dtype(self, X) -> torch.dtype:
        """``dtype``, or X's own (float32 stays float32, as scikit-learn's ``preserves_dtype`` promises)."""
        if self.dtype is None:
            return torch.float32 if X.dtype == np.float32 else torch.float64
        return getattr(torch, str(self.dtype))

    def _config(self, dtype: torch.dtype, rows: int):
        """The trainer's config for these parameters; a bad value is a ValueError naming the parameter."""
        try:
            return self._config_of(dtype, rows)
        except errors.ConfigError as error:
            raise ValueError(in_estimator_words(str(error).removeprefix("config: "))) from None

    def _config_of(self, dtype: torch.dtype, rows: int):
        config = load_config(None, [])
        config.seed = _seed(self.random_state)
        config.model.name = self._model_name
        for key, value in self._model_settings().items():
            setattr(config.model, key, value)
        config.model.l2 = float(self.l2)
        config.model.class_weight = (
            None  # folded into the row weights (_row_weights): a zero weight is allowed
        )
        config.optimizer.name = self.optimizer
        if (
            self.optimizer != "newton"
        ):  # Newton takes no learning rate: lr is then unused, as said in the docstring
            config.optimizer.lr = float(self.lr)
        # tol=0 is scikit-learn's "run to max_iter": the smallest tolerance the config takes, never met.
        config.optimizer.grad_tol = None if self.tol is None else max(float(self.tol), TOL_NEVER_MET)
        config.train.iterations = int(self.max_iter)
        config.train.batch_size = self.batch_size
        if self.tol and self.optimizer in ("gd", "sgd", "adam"):
            # scikit-learn's sgd/adam stop on the cost: here, once the full training cost changes by less
            # than tol from one epoch to the next (the trainer's train.tol, read every epoch).
            config.train.tol = float(self.tol)
            config.train.log_every = max(1, -(-rows // self.batch_size) if self.batch_size else 1)
        config.train.device = str(self.device)
        config.train.dtype = str(dtype).removeprefix("torch.")
        config.train.print_cost = bool(self.verbose)
        config.train.checkpoint_every = 0
        config.data.standardize = False
        config.name = type(self).__name__
        check_config(config, type(self).__name__)
        return config

    def _warn(self, metrics: dict, caught: list) -> None:
        """Say the run's warnings once each, in the estimator's words (``sklearn_warnings``)."""
        lines = caught + [(line, None) for line in metrics["warnings"]]
        if not metrics["converged"] and not any(
            category_of(line, category) is NotConvergedWarning for line, category in lines
        ):
            said = (
                f"{self.optimizer} did not converge in {int(metrics['iterations'])} iterations: the largest "
                f"gradient entry is {metrics['grad_norm']:.3g} > tol; raise max_iter"
            )
            lines.append((said, None))
        say(lines, stacklevel=4)


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
        dtype: None (X's own: float32 X stays float32), ``"float64"`` or ``"float32"``.
        random_state: the seed (None: 0); used by mini-batches and sub-sampled Newton.
        verbose: 0 prints nothing; 1 prints the cost at the trainer's log steps.
        log_dir: None writes nothing; a folder: each fit writes its run into a new subfolder.

    X may be scipy.sparse CSR or CSC: fit and predictions then run on CSR products and never
    densify X (``torch_logreg.sklearn_sparse``).

    Attributes:
        classes_ (K,), coef_ (1, n) for 2 classes or (K, n), intercept_ (1,) or (K,): the model
        itself (writing them changes ``decision_function`` and ``predict``), n_iter_ (1,),
        n_features_in_, feature_names_in_ (pandas input only), converged_, run_dir_, model_
        (the fitted ``torch_logreg.LogisticRegression``, on the CPU).

    Example::

        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import StandardScaler
        >>> make_pipeline(StandardScaler(), LogisticRegressionClassifier(l2=1.0)).fit(X, y).predict_proba(X)
    """

    _model_name = "logistic"
    _sparse_formats = ("csr", "csc")

    def __init__(
        self,
        l2=1.0,
        optimizer="newton",
        lr=0.5,
        max_iter=100,
        tol=None,
        batch_size=None,
        class_weight=None,
        device="cpu",
        dtype=None,
        random_state=None,
        verbose=0,
        log_dir=None,
    ):
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

    # coef_ and intercept_ are views of the model's parameters: reading shares memory, writing copies in.
    @property
    def coef_(self) -> np.ndarray:
        """(1, n) for 2 classes, (K, n) for K: the model's weight, in its dtype."""
        return _parameter_view(self, "model_", lambda model: model.weight)

    @coef_.setter
    def coef_(self, value) -> None:
        _write_parameter(self.model_.weight, value, "coef_")

    @property
    def intercept_(self) -> np.ndarray:
        """(1,) for 2 classes, (K,) for K: the model's bias."""
        return _parameter_view(self, "model_", lambda model: model.bias)

    @intercept_.setter
    def intercept_(self, value) -> None:
        _write_parameter(self.model_.bias, value, "intercept_")

    def _fit_sparse(self, X, y_index, weights, config) -> dict:
        """Train on scipy.sparse X without densifying it (``sklearn_sparse.fit_sparse``)."""
        dtype = getattr(torch, config.train.dtype)
        k = len(self.classes_)
        y = torch.from_numpy(y_index).to(dtype) if k == 2 else torch.from_numpy(y_index).long()
        s = None if weights is None else torch.from_numpy(weights).to(dtype)
        tol = default_grad_tol(dtype) if self.tol is None else float(self.tol)
        fit = fit_sparse(
            X,
            y,
            s,
            classes=k,
            l2=float(self.l2),
            optimizer=self.optimizer,
            lr=float(self.lr),
            max_iter=int(self.max_iter),
            tol=tol,
            batch_size=self.batch_size,
            seed=config.seed,
            dtype=dtype,
            cost_tol=config.train.tol or None,
        )
        self.model_ = fit.model.eval()
        self._fitted_run(fit.iterations, fit.converged, None)
        said = []
        if fit.stalled:
            said.append(
                f"{self.optimizer} stalled at iteration {fit.iterations}: no step lowers the cost in this "
                f"precision any more (largest gradient entry {fit.grad_max:.3g}); add l2"
            )
        elif config.train.tol and not fit.converged:
            said.append(
                f"the cost did not settle to tol={config.train.tol:g} in {fit.iterations} iterations; "
                f"raise max_iter or tol"
            )
        return {
            "iterations": fit.iterations,
            "converged": fit.converged,
            "grad_norm": fit.grad_max,
            "warnings": said,
        }

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
        if np.any(index >= len(self.classes_)) or np.any(
            self.classes_[np.minimum(index, len(self.classes_) - 1)] != y
        ):
            raise ValueError("y holds labels that are not in classes_")
        given = _row_weights(
            self, X, index, sample_weight
        )  # the fitted objective's row weights, as fit built them
        weights = None if given is None else torch.from_numpy(given)
        names = list(getattr(self, "feature_names_in_", default_feature_names(X.shape[1])))
        return summary(
            self.model_,
            torch.tensor(X, dtype=self.model_.weight.dtype),
            torch.from_numpy(index.astype(np.float64)),
            feature_names=names,
            sample_weight=weights,
            converged=self.converged_,
            classes=[_plain_label(c) for c in self.classes_],
        )


class MLPClassifier(_TorchClassifier):
    """A network of ``hidden`` layers (hand-written backward) as a scikit-learn classifier.

    The same machinery and objective as ``LogisticRegressionClassifier``, the L2 term on
    every weight matrix (``l2`` is scikit-learn's ``MLPClassifier(alpha=...)``), trained by
    L-BFGS by default.  Attributes: classes_, coefs_ (list of (fan_in, fan_out), as
    scikit-learn's), intercepts_ (views of the model's parameters, in its dtype: float32 X gives
    float32), n_iter_ (an int, as scikit-learn's MLP), n_features_in_, converged_, model_
    (``torch_logreg.MLP``).  Dense X only: scipy.sparse X is refused with a TypeError (the
    hidden layers' products are dense; densify or reduce it, e.g. ``TruncatedSVD``).

    ``tol`` with ``sgd``/``adam``/``gd``: the fit stops once the full training cost changes by less
    than ``tol`` from one epoch to the next (an epoch: ceil(m / batch_size) steps); without
    ``tol`` it runs ``max_iter`` steps.
    """

    _model_name = "mlp"

    def __init__(
        self,
        hidden=(4,),
        activation="tanh",
        l2=1e-4,
        optimizer="lbfgs",
        lr=1.0,
        max_iter=200,
        tol=None,
        batch_size=None,
        class_weight=None,
        init="uniform",
        device="cpu",
        dtype=None,
        random_state=None,
        verbose=0,
        log_dir=None,
    ):
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
        return {
            "hidden": [int(width) for width in self.hidden],
            "activation": self.activation,
            "init": self.init,
        }

    def _fitted_run(self, iterations: int, converged: bool, run_dir) -> None:
        super()._fitted_run(iterations, converged, run_dir)
        self.n_iter_ = iterations  # scikit-learn's MLPClassifier.n_iter_ is an int

    @property
    def coefs_(self) -> list[np.ndarray]:
        """[(fan_in, fan_out)] per layer: views of the model's weights (writing an entry changes the model)."""
        check_is_fitted(self, "model_")
        return [layer.weight.detach().numpy().T for layer in self.model_.layers]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """[(fan_out,)] per layer: views of the model's biases."""
        check_is_fitted(self, "model_")
        return [layer.bias.detach().numpy() for layer in self.model_.layers]


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
