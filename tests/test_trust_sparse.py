"""A hostile user's sparse X: a fit that overflows stops as the dense fit does, never with NaN weights."""

import warnings

import numpy as np
import pytest

from torch_logreg.errors import TrainingDiverged

sp = pytest.importorskip("scipy.sparse")
pytest.importorskip("sklearn")
from torch_logreg.sklearn import LogisticRegressionClassifier, NotConvergedWarning  # noqa: E402 - needs scikit-learn


def rows_with_one_huge_entry(value: float):
    rng = np.random.default_rng(0)
    x = rng.random((60, 5))
    y = (x[:, 0] > 0.5).astype(int)
    x[0, 0] = value
    return sp.csr_matrix(x), y


@pytest.mark.parametrize(
    "value, settings, named",
    [
        # Was a PyTorch internal assert from torch.linalg.lstsq on a Hessian of infinities.
        (1e200, {"optimizer": "newton"}, "the features reach 1e+200"),
        # Was a fitted estimator with NaN coefficients, and only a "did not converge" warning.
        (1e100, {"optimizer": "lbfgs"}, "the features reach 1e+100"),
        (1.0, {"optimizer": "gd", "lr": 1e300, "max_iter": 5}, "try a smaller lr (now 1e+300)"),
        # Was torch's "value cannot be converted to type float without overflow".
        (1e39, {"optimizer": "lbfgs", "dtype": "float32"}, "the features overflow torch.float32"),
    ],
)
def test_a_sparse_fit_that_overflows_stops_naming_the_cause_as_the_dense_fit_does(value, settings, named):
    x, y = rows_with_one_huge_entry(value)
    estimator = LogisticRegressionClassifier(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TrainingDiverged, match="not finite|would overflow") as raised:
            estimator.fit(x, y)
    assert named in str(raised.value)
    assert not hasattr(estimator, "model_")  # nothing fitted to predict from


def test_features_whose_squares_still_fit_give_newton_the_dense_fits_outcome_and_a_stall_is_said():
    # 1e200 < float64's largest, so the Hessian is finite: sparse Newton (the trainer's own since the
    # sparse fit joined the trainer's optimizers) ends where dense Newton ends, and if that is short of
    # the optimum (a feature of 1e100 beside ones of 1 stalls it in float64), it says so.
    x, y = rows_with_one_huge_entry(1e100)
    fits = []
    for rows in (x, x.toarray()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator = LogisticRegressionClassifier(optimizer="newton").fit(rows, y)
        fits.append((estimator, [w.category for w in caught]))
    (sparse, sparse_said), (dense, _) = fits
    assert np.isfinite(sparse.coef_).all()
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6)
    assert sparse.converged_ == dense.converged_
    assert sparse.converged_ or any(issubclass(c, NotConvergedWarning) for c in sparse_said)


def test_the_dense_fit_advises_in_the_estimators_words_too():
    # Before: "standardize them (data.standardize=true)", a config key the estimator does not have.
    x, y = rows_with_one_huge_entry(1e300)
    with pytest.raises(TrainingDiverged) as raised:
        LogisticRegressionClassifier(optimizer="newton").fit(x.toarray(), y)
    assert "a StandardScaler in a Pipeline" in str(raised.value)
    assert "data.standardize" not in str(raised.value)
