"""A hostile user's sparse X: a fit that overflows stops as the dense fit does, never with NaN weights."""

import warnings

import numpy as np
import pytest

from torch_logreg.errors import TrainingDiverged

sp = pytest.importorskip("scipy.sparse")
pytest.importorskip("sklearn")
from torch_logreg.sklearn import LogisticRegressionClassifier  # noqa: E402 - needs scikit-learn


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


def test_features_whose_squares_still_fit_are_fitted_by_newton_without_doubt():
    x, y = rows_with_one_huge_entry(1e100)  # 1e200 < float64's largest: the Hessian is finite
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimator = LogisticRegressionClassifier(optimizer="newton").fit(x, y)
    assert np.isfinite(estimator.coef_).all() and estimator.score(x, y) > 0.9


def test_the_dense_fit_advises_in_the_estimators_words_too():
    # Before: "standardize them (data.standardize=true)", a config key the estimator does not have.
    x, y = rows_with_one_huge_entry(1e300)
    with pytest.raises(TrainingDiverged) as raised:
        LogisticRegressionClassifier(optimizer="newton").fit(x.toarray(), y)
    assert "a StandardScaler in a Pipeline" in str(raised.value)
    assert "data.standardize" not in str(raised.value)
