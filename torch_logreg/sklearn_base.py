"""What both scikit-learn estimators share: ``fit`` through ``torch_logreg.train``, and predictions.

The estimators themselves (their parameters and fitted attributes) are in ``torch_logreg.sklearn``;
what ``fit`` makes of y, sample_weight and class_weight, and its run folders and logging, in
``sklearn_inputs.py``.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import scipy.sparse as sp
import torch

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils import TransformerTags
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - exercised by a test that hides scikit-learn
    raise ImportError(
        "torch_logreg.sklearn needs scikit-learn: pip install 'torch_logreg[sklearn]'"
    ) from error

from . import errors
from .data.labels import distinct_and_inverse
from .data.split import make_split
from .nn.sparse import SparseRows
from .saved_model import default_feature_names
from .sklearn_inputs import (
    _host,
    _in_estimator_words,
    _new_run_dir,
    _plain_label,
    _quiet_logging,
    _row_weights,
    _seed,
    check_targets,
    rows_tensor,
)
from .sklearn_warnings import NotConvergedWarning, category_of, in_estimator_words, say
from .training.config import check_config, load_config
from .training.optimizers import OPTIMIZERS
from .training.trainer import train

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
        check_targets(y)
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
        x = rows_tensor(X, dtype)
        y_tensor = torch.from_numpy(y_index.astype(np.float64))
        names = list(getattr(self, "feature_names_in_", default_feature_names(X.shape[1])))
        # No test rows: scikit-learn holds data out itself (cross_val_score, GridSearchCV).
        split = make_split(x, y_tensor, x[:0], y_tensor[:0], names, standardize=False, classes=labels)
        run_dir = _new_run_dir(self.log_dir, type(self).__name__) if self.log_dir is not None else None
        # The trainer's own warnings are caught by fit and said again in the estimator's words and classes.
        with _quiet_logging(self.verbose), _in_estimator_words():
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
            return self.model_(rows_tensor(X, reference.dtype))

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
        # What the optimizer reads and does, from its registry entry (an unknown name: check_config says so).
        spec = OPTIMIZERS.get(self.optimizer)
        if spec is None or "lr" in spec.keys:  # Newton takes no learning rate, as the docstring says
            config.optimizer.lr = float(self.lr)
        # tol=0 is scikit-learn's "run to max_iter": the smallest tolerance the config takes, never met.
        config.optimizer.grad_tol = None if self.tol is None else max(float(self.tol), TOL_NEVER_MET)
        config.train.iterations = int(self.max_iter)
        config.train.batch_size = self.batch_size
        if self.tol and spec is not None and not spec.capabilities.iterates_to_convergence:
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
