"""Cases of scikit-learn's own ``linear_model/tests/test_logistic.py`` and
``neural_network/tests/test_mlp.py``, ported to ``LogisticRegressionClassifier`` and ``MLPClassifier``.

Ported where the estimators have the feature (``C`` is ``1/l2``, ``alpha`` is ``l2``); left out:
L1/elastic-net, ``solver``, ``fit_intercept=False``, ``warm_start``, ``multi_class``, path/CV
estimators, ``sparsify``, MLP ``early_stopping``/``n_iter_no_change``/``learning_rate``
schedules/``partial_fit``/multilabel/regressors (none exist here).  Each test names its original.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from torch_logreg.sklearn import LogisticRegressionClassifier, MLPClassifier

X = [[-1, 0], [0, 1], [1, 1]]
Y1 = [0, 1, 1]
Y2 = [2, 1, 0]


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(x), y


# ------------------------------------------------------------------ test_logistic.py


def check_predictions(clf, x, y):
    """test_logistic.check_predictions: labels, classes_, probabilities that sum to 1 and pick the label."""
    n_samples = len(y)
    classes = np.unique(y)
    predicted = clf.fit(x, y).predict(x)
    np.testing.assert_array_equal(clf.classes_, classes)
    assert predicted.shape == (n_samples,)
    np.testing.assert_array_equal(predicted, y)
    probabilities = clf.predict_proba(x)
    assert probabilities.shape == (n_samples, len(classes))
    np.testing.assert_array_almost_equal(probabilities.sum(axis=1), np.ones(n_samples))
    np.testing.assert_array_equal(probabilities.argmax(axis=1), np.searchsorted(classes, y))


@pytest.mark.parametrize("sparse", [False, True])
def test_predict_2_classes(sparse):
    """test_predict_2_classes: small l2, dense and CSR X."""
    x = sp.csr_matrix(X) if sparse else np.array(X, dtype=float)
    check_predictions(LogisticRegressionClassifier(), x, np.array(Y1))
    check_predictions(LogisticRegressionClassifier(l2=0.01), x, np.array(Y1))


def test_predict_3_classes():
    """test_predict_3_classes."""
    check_predictions(LogisticRegressionClassifier(l2=0.1), np.array(X, dtype=float), np.array(Y2))
    check_predictions(LogisticRegressionClassifier(l2=0.1), sp.csr_matrix(X), np.array(Y2))


def test_predict_iris(iris):
    """test_predict_iris: string labels, accuracy > 0.95, probabilities agree with the prediction."""
    x, target = iris
    names = np.array(["setosa", "versicolor", "virginica"])[target]
    for optimizer in ("newton", "lbfgs"):
        clf = LogisticRegressionClassifier(l2=1 / len(x), optimizer=optimizer, max_iter=200).fit(x, names)
        np.testing.assert_array_equal(np.unique(names), clf.classes_)
        assert np.mean(clf.predict(x) == names) > 0.95
        probabilities = clf.predict_proba(x)
        np.testing.assert_allclose(probabilities.sum(axis=1), np.ones(len(x)))
        assert np.mean(clf.classes_[probabilities.argmax(axis=1)] == names) > 0.95


def test_inconsistent_input():
    """test_inconsistent_input: wrong y length or feature count is a ValueError."""
    rng = np.random.RandomState(0)
    x = rng.random_sample((10, 12))
    y = np.array([0] * 5 + [1] * 5)
    clf = LogisticRegressionClassifier()
    with pytest.raises(ValueError):
        clf.fit(x, y[:-1])
    with pytest.raises(ValueError):
        clf.fit(x, y).predict(rng.random_sample((3, 5)))


def test_write_parameters():
    """test_write_parameters: writing into coef_ and intercept_ in place changes decision_function."""
    clf = LogisticRegressionClassifier().fit(np.array(X, dtype=float), Y1)
    clf.coef_[:] = 0
    clf.intercept_[:] = 0
    np.testing.assert_array_almost_equal(clf.decision_function(np.array(X, dtype=float)), 0)


def test_nan():
    """test_nan: NaN in X is a ValueError."""
    x = np.array(X, dtype=float)
    x[0, 1] = np.nan
    with pytest.raises(ValueError):
        LogisticRegressionClassifier().fit(x, Y1)


@pytest.mark.parametrize("optimizer", ["newton", "lbfgs"])
def test_multinomial_binary_and_solvers_agree(optimizer, iris):
    """test_logistic_regression_solvers / _multiclass: every solver reaches scikit-learn's optimum."""
    x, y = iris
    for target in (y, (y == 2).astype(int)):
        ours = LogisticRegressionClassifier(optimizer=optimizer, max_iter=500).fit(x, target)
        theirs = LogisticRegression(tol=1e-12, max_iter=10_000).fit(x, target)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-4, atol=1e-5)


def test_logistic_regression_sample_weights():
    """test_logistic_regression_sample_weights: unit weights change nothing; class_weight is a weight."""
    x, y = make_classification(n_samples=20, n_features=5, n_informative=3, n_classes=2, random_state=0)
    plain = LogisticRegressionClassifier().fit(x, y)
    ones = LogisticRegressionClassifier().fit(x, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(plain.coef_, ones.coef_, rtol=1e-10)
    weights = np.where(y == 0, 2.0, 1.0)
    by_row = LogisticRegressionClassifier().fit(x, y, sample_weight=weights)
    by_class = LogisticRegressionClassifier(class_weight={0: 2, 1: 1}).fit(x, y)
    np.testing.assert_allclose(by_row.coef_, by_class.coef_, rtol=1e-8)


def test_logistic_regression_class_weights_balanced():
    """test_logistic_regression_class_weights: "balanced" equals the explicit dict of the same weights."""
    x, y = make_classification(
        n_samples=60, n_features=5, n_informative=3, n_classes=3, weights=[0.6, 0.3, 0.1], random_state=0
    )
    counts = np.bincount(y)
    explicit = {k: len(y) / (3 * counts[k]) for k in range(3)}
    balanced = LogisticRegressionClassifier(class_weight="balanced").fit(x, y)
    by_dict = LogisticRegressionClassifier(class_weight=explicit).fit(x, y)
    np.testing.assert_allclose(balanced.coef_, by_dict.coef_, rtol=1e-8)


def test_multinomial_logistic_regression_string_inputs():
    """test_multinomial_logistic_regression_string_inputs: string labels give the integer labels' model."""
    x, y = make_classification(
        n_samples=30, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0
    )
    names = np.array(["bar", "baz", "foo"])[y]
    by_int = LogisticRegressionClassifier().fit(x, y)
    by_name = LogisticRegressionClassifier().fit(x, names)
    np.testing.assert_allclose(by_int.coef_, by_name.coef_)
    assert sorted(np.unique(by_name.predict(x))) == ["bar", "baz", "foo"]


def test_zero_class_weight_in_a_dict_is_accepted():
    """test_lr_cv/..._class_weights use {'bar': 1, 'baz': 2, 'foo': 0}: rows of 'foo' count for nothing."""
    x, y = make_classification(
        n_samples=60, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0
    )
    names = np.array(["bar", "baz", "foo"])[y]
    fitted = LogisticRegressionClassifier(class_weight={"bar": 1, "baz": 2, "foo": 0}).fit(x, names)
    weights = np.select([names == "bar", names == "baz"], [1.0, 2.0], 0.0)
    by_row = LogisticRegressionClassifier().fit(x, names, sample_weight=weights)
    np.testing.assert_allclose(fitted.coef_, by_row.coef_, rtol=1e-8)


@pytest.mark.parametrize("sparse", [False, True])
def test_dtype_match(sparse):
    """test_dtype_match: float32 X gives float32 coef_ and predictions, float64 gives float64; they agree."""
    x64, y = make_classification(n_samples=40, n_features=5, random_state=0)
    x32 = x64.astype(np.float32)
    if sparse:
        x64, x32 = sp.csr_matrix(x64), sp.csr_matrix(x32)
    fit32 = LogisticRegressionClassifier().fit(x32, y)
    fit64 = LogisticRegressionClassifier().fit(x64, y)
    assert fit32.coef_.dtype == np.float32 and fit64.coef_.dtype == np.float64
    assert fit32.decision_function(x32).dtype == np.float32
    np.testing.assert_allclose(fit32.coef_, fit64.coef_, rtol=1e-3, atol=1e-4)


def test_n_iter():
    """test_n_iter: n_iter_ has shape (1,) for binary and multinomial fits, and is at most max_iter."""
    x, y = load_iris(return_X_y=True)
    for target in (y, (y == 0).astype(int)):
        clf = LogisticRegressionClassifier(max_iter=50).fit(x, target)
        assert clf.n_iter_.shape == (1,) and 0 < clf.n_iter_[0] <= 50


def test_max_iter():
    """test_max_iter: with an unreachable tol the fit stops at max_iter, saying so."""
    x, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning):
        clf = LogisticRegressionClassifier(optimizer="gd", lr=0.01, tol=1e-15, max_iter=7).fit(x, y)
    assert clf.n_iter_[0] == 7


def test_logreg_predict_proba_multinomial():
    """test_logreg_predict_proba_multinomial: the softmax model's log loss beats one-vs-rest's."""
    x, y = make_classification(n_samples=10, n_features=20, random_state=0, n_classes=3, n_informative=10)
    ours = LogisticRegressionClassifier().fit(x, y)
    ovr_loss = np.mean(
        [log_loss(y == k, LogisticRegression(C=1.0).fit(x, y == k).predict_proba(x)) for k in range(3)]
    )
    assert log_loss(y, ours.predict_proba(x)) < ovr_loss * 3


@pytest.mark.parametrize("params", [{"l2": -1.0}, {"max_iter": -1}, {"optimizer": "liblinear"}, {"lr": 0.0}])
def test_bad_parameters_are_value_errors_naming_them(params):
    """test_logistic.test_..._error / test_mlp.test_params_errors: a bad parameter: ValueError naming it."""
    x, y = load_iris(return_X_y=True)
    name = next(iter(params))
    for estimator in (LogisticRegressionClassifier(optimizer="gd"), MLPClassifier()):
        with pytest.raises(ValueError, match=f"^{name} "):
            estimator.set_params(**params).fit(x, y)


# ------------------------------------------------------------------ test_mlp.py


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(n_class=3, return_X_y=True)
    return StandardScaler().fit_transform(x[:200]), y[:200]


def test_lbfgs_classification(digits):
    """test_lbfgs_classification: an MLP trained by lbfgs fits digits (3 classes) to a score above 0.95."""
    x, y = digits
    for activation in ("tanh", "relu", "sigmoid"):
        mlp = MLPClassifier(hidden=(50,), activation=activation, max_iter=150, random_state=1).fit(x, y)
        assert mlp.score(x, y) > 0.95
        assert mlp.predict(x).shape == (200,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predict_proba_binary_and_multiclass(digits):
    """test_predict_proba_binary / _multiclass: shapes, rows summing to 1, log proba = log proba."""
    x, y = digits
    for target in ((y == 0).astype(int), y):
        mlp = MLPClassifier(hidden=(5,), max_iter=30, random_state=0).fit(x, target)
        probabilities = mlp.predict_proba(x)
        k = len(np.unique(target))
        assert probabilities.shape == (200, k)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1)
        np.testing.assert_allclose(np.log(probabilities), mlp.predict_log_proba(x), rtol=1e-10, atol=1e-13)


def test_tolerance(iris):
    """test_tolerance: sgd with a loose tol stops before max_iter."""
    x, y = iris
    mlp = MLPClassifier(optimizer="sgd", lr=0.1, batch_size=50, tol=0.5, max_iter=3000).fit(x, y)
    assert mlp.n_iter_ < 3000 and mlp.converged_


def test_mlp_param_dtypes(iris):
    """test_mlp_param_dtypes: float32 X gives float32 coefs_, intercepts_ and predictions."""
    x, y = iris
    for dtype in (np.float32, np.float64):
        mlp = MLPClassifier(max_iter=20, tol=0)  # tol=0: never converged, so it warns whatever the BLAS
        with pytest.warns(ConvergenceWarning):
            mlp.fit(x.astype(dtype), y)
        assert all(c.dtype == dtype for c in mlp.coefs_ + mlp.intercepts_)
        assert mlp.predict_proba(x.astype(dtype)).dtype == dtype


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_alpha(iris):
    """test_alpha: a larger penalty gives smaller weights."""
    x, y = iris
    norms = []
    for l2 in (0.001, 1.0, 100.0):
        mlp = MLPClassifier(hidden=(5,), l2=l2, random_state=0, max_iter=100).fit(x, y)
        norms.append(sum(np.sum(c**2) for c in mlp.coefs_))
    assert norms[0] > norms[1] > norms[2]


def test_mlp_loading_from_pickle(iris):
    """test_mlp_loading_from_joblib_pickle: a pickled MLP predicts as the original."""
    x, y = iris
    mlp = MLPClassifier(hidden=(5,), random_state=0, max_iter=50, tol=0)  # tol=0: it warns whatever the BLAS
    with pytest.warns(ConvergenceWarning):
        mlp.fit(x, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(mlp)).predict_proba(x), mlp.predict_proba(x))
