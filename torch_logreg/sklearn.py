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

import numpy as np
import torch

try:
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - exercised by a test that hides scikit-learn
    raise ImportError(
        "torch_logreg.sklearn needs scikit-learn: pip install 'torch_logreg[sklearn]'"
    ) from error

from .saved_model import default_feature_names
from .sklearn_base import _TorchClassifier
from .sklearn_inputs import _host, _parameter_view, _plain_label, _row_weights, _write_parameter
from .sklearn_sparse import fit_sparse
from .sklearn_warnings import NotConvergedWarning, SeparatedWarning
from .sparse_divergence import checked_sparse_fit
from .training.optim import default_grad_tol

__all__ = ["LogisticRegressionClassifier", "MLPClassifier", "NotConvergedWarning", "SeparatedWarning"]


class LogisticRegressionClassifier(_TorchClassifier):
    r"""Logistic regression (binary: one neuron; K classes: softmax) as a scikit-learn classifier.

    Minimizes (1/Σs) Σ sᵢ·lossᵢ + (l2/2Σs)·‖W‖² with Newton's method on the closed-form
    Hessian by default; ``l2=1.0`` is scikit-learn's ``LogisticRegression(C=1)``.

    Args:
        l2: L2 strength on the weights (never the intercept); ``C = 1/l2``.
        optimizer: ``"newton"``, ``"lbfgs"``, ``"gd"``, ``"sgd"`` or ``"adam"``.
        lr: learning rate (not used by newton).
        max_iter: optimizer steps at most (newton and lbfgs stop once converged).
        tol: converged when the gradient's largest entry is below this (None: 1e-8 in float64, 1e-4 in
            float32).
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
        fit = checked_sparse_fit(
            lambda: fit_sparse(
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
            ),
            X,
            optimizer=self.optimizer,
            lr=float(self.lr),
            l2=float(self.l2),
            dtype=dtype,
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
        """[(fan_in, fan_out)] per layer: views of the model's weights (writing one changes the model)."""
        check_is_fitted(self, "model_")
        return [layer.weight.detach().numpy().T for layer in self.model_.layers]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """[(fan_out,)] per layer: views of the model's biases."""
        check_is_fitted(self, "model_")
        return [layer.bias.detach().numpy() for layer in self.model_.layers]
