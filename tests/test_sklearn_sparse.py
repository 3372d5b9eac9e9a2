"""LogisticRegressionClassifier on scipy.sparse X: the dense fit's model, X never densified."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression

from torch_logreg.sklearn import LogisticRegressionClassifier
from torch_logreg.training import newton


def _text_like(classes: int, rows: int = 300, columns: int = 60, seed: int = 0):
    """A sparse X (10% stored) with labels that depend on it, as TF-IDF features do."""
    rng = np.random.default_rng(seed)
    x = sp.random(rows, columns, density=0.1, format="csr", random_state=seed)
    scores = x @ rng.normal(size=(columns, classes)) * 3 + rng.normal(size=(rows, classes))
    return x, scores.argmax(1)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("optimizer", ["newton", "lbfgs"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_fit_reaches_scikit_learns_optimum(classes, optimizer, fmt):
    x, y = _text_like(classes)
    x = x.asformat(fmt)
    ours = LogisticRegressionClassifier(optimizer=optimizer, max_iter=500).fit(x, y)  # tol: 1e-8 in float64
    theirs = LogisticRegression(tol=1e-12, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(x), ours.predict_proba(x.toarray()), atol=1e-12)
    assert ours.converged_


@pytest.mark.parametrize("classes", [2, 3])
def test_newton_cg_on_hessian_vector_products_reaches_the_same_optimum(classes, monkeypatch):
    x, y = _text_like(classes)
    monkeypatch.setattr(newton, "NEWTON_MAX_FEATURES", 0)  # no (P, P) matrix: conjugate gradients on H v
    ours = LogisticRegressionClassifier(optimizer="newton", max_iter=100, tol=1e-10).fit(x, y)
    theirs = LogisticRegression(tol=1e-12, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), atol=1e-6)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize(
    "optimizer, lr, batch_size", [("gd", 2.0, None), ("sgd", 0.5, 64), ("adam", 0.05, 64)]
)
def test_first_order_steps_on_sparse_x_are_the_dense_trainers_steps(classes, optimizer, lr, batch_size):
    """Same batches (drawn from (seed, epoch)), same objective: the same iterates, step for step."""
    x, y = _text_like(classes)
    weights = np.random.default_rng(1).integers(0, 3, x.shape[0]).astype(float)
    params = dict(optimizer=optimizer, lr=lr, batch_size=batch_size, max_iter=40, tol=0, random_state=3)
    sparse = LogisticRegressionClassifier(**params).fit(x, y, sample_weight=weights)
    dense = LogisticRegressionClassifier(**params).fit(x.toarray(), y, sample_weight=weights)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-9, atol=1e-12)
    assert sparse.n_iter_.tolist() == dense.n_iter_.tolist() == [40]


def test_first_order_tol_stops_when_the_cost_settles_as_the_dense_trainer_does():
    x, y = _text_like(2)
    params = dict(optimizer="gd", lr=2.0, max_iter=5000, tol=1e-6)
    sparse = LogisticRegressionClassifier(**params).fit(x, y)
    dense = LogisticRegressionClassifier(**params).fit(x.toarray(), y)
    assert sparse.converged_ and dense.converged_
    assert sparse.n_iter_.tolist() == dense.n_iter_.tolist() and sparse.n_iter_[0] < 5000


def test_sample_weight_two_on_sparse_x_equals_a_repeated_row():
    x, y = _text_like(3)
    weights = np.ones(x.shape[0])
    weights[:10] = 2
    weighted = LogisticRegressionClassifier(tol=1e-10).fit(x, y, sample_weight=weights)
    repeated = LogisticRegressionClassifier(tol=1e-10).fit(sp.vstack([x, x[:10]]), np.r_[y, y[:10]])
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-8)


def test_float32_sparse_x_gives_a_float32_model():
    x, y = _text_like(2)
    fitted = LogisticRegressionClassifier().fit(x.astype(np.float32), y)
    assert (
        fitted.coef_.dtype == np.float32
        and fitted.decision_function(x.astype(np.float32)).dtype == np.float32
    )
    dense = LogisticRegressionClassifier().fit(x.toarray().astype(np.float32), y)
    assert dense.coef_.dtype == np.float32
    np.testing.assert_allclose(fitted.predict_proba(x), dense.predict_proba(x.toarray()), atol=1e-5)


def test_sparse_x_is_never_densified(monkeypatch):
    x, y = _text_like(3)

    def refuse(*args, **kwargs):
        raise AssertionError("X was densified")

    for cls in (sp.csr_matrix, sp.csc_matrix):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    for optimizer in ("newton", "lbfgs", "sgd"):
        fitted = LogisticRegressionClassifier(optimizer=optimizer, batch_size=50, max_iter=5).fit(x, y)
        assert fitted.predict_proba(x).shape == (300, 3)


def test_the_mlp_refuses_sparse_x_saying_what_to_do():
    from torch_logreg.sklearn import MLPClassifier

    x, y = _text_like(2)
    with pytest.raises(TypeError, match="dense"):
        MLPClassifier().fit(x, y)


@pytest.mark.parametrize("optimizer", ["newton", "lbfgs", "sgd"])
def test_sparse_fit_steps_with_the_trainers_own_optimizers(optimizer, monkeypatch):
    """One Newton, one L-BFGS: the sparse fit is the trainer's registry optimizer on the model's sparse
    gradients, not a second copy of the method."""
    from torch_logreg.training import optimizers

    built = []
    real = optimizers.make_optimizer
    monkeypatch.setattr(
        "torch_logreg.sklearn_sparse.make_optimizer", lambda *a, **k: built.append(real(*a, **k)) or built[-1]
    )
    x, y = _text_like(3)
    LogisticRegressionClassifier(optimizer=optimizer, lr=0.5, batch_size=100, max_iter=3, tol=0).fit(x, y)
    expected = {"newton": newton.Newton, "lbfgs": optimizers.LBFGS, "sgd": torch.optim.SGD}[optimizer]
    assert [type(o) for o in built] == [expected]


def test_newton_cg_never_builds_the_null_directions_of_a_wide_softmax(monkeypatch):
    """With l2 = 0 softmax's flat directions are (P, n + 1): past the size limit CG needs none of them."""
    from torch_logreg.nn.logistic import LogisticRegression

    def refuse(self):
        raise AssertionError("null_directions built on the conjugate-gradient path")

    monkeypatch.setattr(newton, "NEWTON_MAX_FEATURES", 0)
    monkeypatch.setattr(LogisticRegression, "null_directions", refuse)
    x, y = _text_like(3)
    with pytest.warns(Warning):  # l2 = 0 on 300 rows of 60 columns: it need not converge in 3 steps
        fitted = LogisticRegressionClassifier(l2=0.0, max_iter=3).fit(x, y)
    assert np.isfinite(fitted.coef_).all() and fitted.n_iter_[0] >= 1
