"""torch_logreg.sklearn: the estimators pass check_estimator and agree with scikit-learn's own."""

import importlib
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from torch_logreg import errors
from torch_logreg.sklearn import (
    LogisticRegressionClassifier,
    MLPClassifier,
    NotConvergedWarning,
    SeparatedWarning,
)

# Every check passes: no expected failures are declared (the issue allows two, each with its reason).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [LogisticRegressionClassifier()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
def test_check_estimator(estimator, check):
    check(estimator)


def reference(**params):
    """scikit-learn's LogisticRegression, converged far past its default tol=1e-4."""
    return LogisticRegression(tol=1e-12, max_iter=10_000, **params)


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(x), y


# ------------------------------------------------------------------ the same optimum as scikit-learn


def test_iris_three_classes_match_logistic_regression_c1_to_1e_6_in_probability(iris):
    x, y = iris
    ours = LogisticRegressionClassifier().fit(x, y)
    theirs = reference(C=1.0).fit(x, y)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), atol=1e-6)
    assert ours.coef_.shape == (3, 4) and ours.intercept_.shape == (3,)
    assert ours.converged_ and 1 <= ours.n_iter_ < 20


def test_binary_has_one_row_of_coefficients_and_two_probability_columns(iris):
    x, y = iris
    y = np.where(y == 2, "virginica", "other")
    ours = LogisticRegressionClassifier(l2=0.5).fit(x, y)
    theirs = reference(C=2.0).fit(x, y)
    assert ours.coef_.shape == (1, 4) and ours.intercept_.shape == (1,)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), atol=1e-6)
    assert list(ours.classes_) == ["other", "virginica"]
    assert ours.decision_function(x).shape == (150,)
    assert set(ours.predict(x)) == {"other", "virginica"}
    np.testing.assert_allclose(np.exp(ours.predict_log_proba(x)), ours.predict_proba(x), rtol=1e-12)


def test_multinomial_decision_function_and_log_proba_shapes(iris):
    x, y = iris
    ours = LogisticRegressionClassifier().fit(x, y)
    assert ours.decision_function(x).shape == (150, 3) and ours.predict_proba(x).shape == (150, 3)
    np.testing.assert_allclose(np.exp(ours.predict_log_proba(x)), ours.predict_proba(x), rtol=1e-12)
    assert ours.score(x, y) == pytest.approx(np.mean(ours.predict(x) == y))


# ------------------------------------------------------------------ weights


def test_sample_weight_two_equals_a_repeated_row(iris):
    x, y = iris
    weights = np.ones(len(y))
    weights[::7] = 2.0
    weighted = LogisticRegressionClassifier().fit(x, y, sample_weight=weights)
    repeated = LogisticRegressionClassifier().fit(np.vstack([x, x[::7]]), np.concatenate([y, y[::7]]))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-8, atol=1e-10)


def test_class_weight_dict_is_a_per_class_sample_weight(iris):
    x, y = iris
    by_class = LogisticRegressionClassifier(class_weight={0: 3.0, 2: 0.5}).fit(x, y)
    by_row = LogisticRegressionClassifier().fit(
        x, y, sample_weight=np.select([y == 0, y == 2], [3.0, 0.5], 1.0)
    )
    np.testing.assert_allclose(by_class.coef_, by_row.coef_, rtol=1e-8)


@pytest.mark.parametrize("weighted", [False, True])
def test_balanced_class_weight_matches_scikit_learn(iris, weighted):
    # With sample weights, "balanced" counts each class by its weight (scikit-learn's compute_class_weight).
    x, y = iris
    keep = np.r_[0:50, 50:70, 100:150]  # unequal classes: 50, 20, 50
    weights = np.random.default_rng(0).uniform(0.2, 3.0, len(keep)) if weighted else None
    ours = LogisticRegressionClassifier(class_weight="balanced").fit(x[keep], y[keep], sample_weight=weights)
    theirs = reference(C=1.0, class_weight="balanced").fit(x[keep], y[keep], sample_weight=weights)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), atol=1e-6)


def test_class_weight_naming_an_unknown_label_is_an_error(iris):
    x, y = iris
    with pytest.raises(ValueError, match="class_weight names label 7"):
        LogisticRegressionClassifier(class_weight={7: 2.0}).fit(x, y)


# ------------------------------------------------------------------ scikit-learn's machinery


def test_pipeline_grid_search_and_cross_val_score():
    x, y = load_iris(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), LogisticRegressionClassifier())
    search = GridSearchCV(pipeline, {"logisticregressionclassifier__l2": [0.01, 1.0, 100.0]}, cv=3).fit(x, y)
    assert search.best_params_["logisticregressionclassifier__l2"] in (0.01, 1.0)  # 100 underfits iris
    assert search.best_score_ > 0.9
    scores = cross_val_score(pipeline, x, y, cv=5)
    assert scores.shape == (5,) and scores.mean() > 0.9


def test_pickle_clone_get_and_set_params(iris):
    x, y = iris
    fitted = LogisticRegressionClassifier(l2=0.3, max_iter=50).fit(x, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(x), fitted.predict_proba(x))
    fresh = clone(fitted)
    assert fresh.get_params() == fitted.get_params() and not hasattr(fresh, "coef_")
    assert fresh.set_params(l2=2.0).l2 == 2.0 and fitted.l2 == 0.3


def test_pandas_frames_keep_feature_names_and_tensors_fit_like_arrays(iris):
    x, y = iris
    frame = pd.DataFrame(x, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    from_frame = LogisticRegressionClassifier().fit(frame, pd.Series(y))
    from_tensor = LogisticRegressionClassifier().fit(torch.tensor(x), torch.tensor(y))
    from_array = LogisticRegressionClassifier().fit(x, y)
    assert list(from_frame.feature_names_in_) == list(frame.columns) and from_frame.n_features_in_ == 4
    assert not hasattr(from_array, "feature_names_in_")
    np.testing.assert_array_equal(from_tensor.coef_, from_array.coef_)
    np.testing.assert_array_equal(from_frame.coef_, from_array.coef_)
    np.testing.assert_array_equal(from_tensor.predict(torch.tensor(x)), from_array.predict(x))
    table = from_frame.summary(frame, y)
    assert list(table.names[:5]) == ["const", "sepal_length", "sepal_width", "petal_length", "petal_width"]


# ------------------------------------------------------------------ quiet, warnings, logs


def test_quiet_by_default_and_verbose_prints_the_cost(tmp_path):
    # In a fresh interpreter with no logging configured, as a user's script runs (pytest installs handlers).
    code = """if True:
        import sys
        from sklearn.datasets import load_iris
        from torch_logreg.sklearn import LogisticRegressionClassifier
        x, y = load_iris(return_X_y=True)
        LogisticRegressionClassifier().fit(x, y)
        print("--- verbose=1", flush=True)
        LogisticRegressionClassifier(verbose=1).fit(x, y)
    """
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }  # this checkout's torch_logreg
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, env=env
    )
    quiet, verbose = run.stdout.split("--- verbose=1\n")
    assert quiet == "" and run.stderr == ""
    assert "Cost after iteration 0" in verbose
    assert list(tmp_path.iterdir()) == []  # no run folder (no runs/) without log_dir


def test_not_converging_is_a_convergence_warning(iris):
    x, y = iris
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations"):
        fitted = LogisticRegressionClassifier(max_iter=1).fit(x, y)
    assert not fitted.converged_ and fitted.n_iter_ == 1


def test_log_dir_writes_each_fit_to_a_new_run_folder(iris, tmp_path):
    x, y = iris
    first = LogisticRegressionClassifier(log_dir=tmp_path).fit(x, y)
    second = LogisticRegressionClassifier(log_dir=tmp_path).fit(x, y)
    assert first.run_dir_ != second.run_dir_ and first.run_dir_.parent == tmp_path
    assert (first.run_dir_ / "checkpoint.pt").is_file() and (second.run_dir_ / "config.yaml").is_file()


# ------------------------------------------------------------------ statistics


def test_summary_of_an_unpenalized_fit_matches_statsmodels_logit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = (rng.random(300) < 1 / (1 + np.exp(-(x @ [1.0, -2.0, 0.5] + 0.3)))).astype(int)
    table = LogisticRegressionClassifier(l2=0.0).fit(x, y).summary(x, y)
    theirs = sm.Logit(y, sm.add_constant(x)).fit(disp=0)
    for ours, reference_values in [
        (table.coef, theirs.params),
        (table.std_err, theirs.bse),
        (table.p_value, theirs.pvalues),
    ]:
        np.testing.assert_allclose(ours, reference_values, rtol=1e-6)
    assert table.converged is True and "penalized" not in str(table)


# ------------------------------------------------------------------ the network


def test_mlp_classifier_fits_predicts_clones_and_pickles():
    x, y = make_moons(200, noise=0.1, random_state=0)
    model = MLPClassifier(hidden=(8,), random_state=0, max_iter=50)
    fitted = model.fit(x, y)
    assert fitted.score(x, y) > 0.95  # a line gets ~0.88 on the moons
    assert [c.shape for c in fitted.coefs_] == [(2, 8), (8, 1)]
    assert fitted.predict_proba(x).shape == (200, 2)
    again = clone(model).fit(x, y)
    np.testing.assert_array_equal(again.predict_proba(x), fitted.predict_proba(x))  # same seed, same fit
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(x), fitted.predict_proba(x))


# ------------------------------------------------------------------ the optional dependency


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    for name in [name for name in sys.modules if name == "sklearn" or name.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
    monkeypatch.delitem(sys.modules, "torch_logreg.sklearn")
    with pytest.raises(ImportError, match=r"pip install 'torch_logreg\[sklearn\]'"):
        importlib.import_module("torch_logreg.sklearn")


def test_only_torch_logreg_sklearn_imports_scikit_learn():
    code = "import sys, torch_logreg, torch_logreg.stats, torch_logreg.cli; print('sklearn' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        == "False\n"
    )


# ------------------------------------------------------------------ scikit-learn's attribute contract


def test_writing_coef_and_intercept_changes_predictions(iris):
    x, y = iris
    fitted = LogisticRegressionClassifier().fit(x, y)
    fitted.coef_ = np.zeros((3, 4))
    fitted.intercept_ = np.array([0.0, 1.0, 0.0])
    np.testing.assert_array_equal(fitted.decision_function(x), np.tile([0.0, 1.0, 0.0], (150, 1)))
    assert set(fitted.predict(x)) == {1}
    fitted.coef_[0, 0] = 5.0  # in place, as scikit-learn's arrays are written
    assert fitted.decision_function(x[:1])[0, 0] == pytest.approx(5.0 * x[0, 0])
    with pytest.raises(ValueError, match=r"coef_ must have shape \(3, 4\), got \(4,\)"):
        fitted.coef_ = np.zeros(4)


def test_a_zero_class_weight_makes_that_class_count_for_nothing():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 3))
    y = np.array(["bar", "baz", "foo"])[np.arange(90) % 3]
    weights = {"bar": 1, "baz": 2, "foo": 0}
    fitted = LogisticRegressionClassifier(class_weight=weights).fit(x, y)
    moved = x.copy()
    moved[y == "foo"] = rng.normal(size=(30, 3)) * 100  # the zero-weight rows say anything: nothing changes
    again = LogisticRegressionClassifier(class_weight=weights).fit(moved, y)
    np.testing.assert_allclose(again.coef_, fitted.coef_, atol=1e-10)
    assert list(fitted.classes_) == ["bar", "baz", "foo"]


def test_n_iter_is_an_array_of_shape_1_as_scikit_learns(iris):
    x, y = iris
    fitted = LogisticRegressionClassifier().fit(x, y)
    theirs = reference().fit(x, y)
    assert fitted.n_iter_.shape == theirs.n_iter_.shape == (1,)
    assert fitted.n_iter_.dtype.kind == "i"


@pytest.mark.parametrize("make", [lambda: LogisticRegressionClassifier(), lambda: MLPClassifier(max_iter=30)])
def test_float32_input_stays_float32_end_to_end(iris, make):
    x, y = iris
    fitted = make().fit(x.astype(np.float32), y)
    parameters = (
        fitted.coefs_ + fitted.intercepts_ if hasattr(fitted, "coefs_") else [fitted.coef_, fitted.intercept_]
    )
    assert {p.dtype for p in parameters} == {np.dtype(np.float32)}
    x32 = x.astype(np.float32)
    for method in ("predict_proba", "predict_log_proba"):
        assert getattr(fitted, method)(x32).dtype == np.float32
    assert "float32" in fitted.__sklearn_tags__().transformer_tags.preserves_dtype
    assert make().fit(x, y).predict_proba(x).dtype == np.float64


def test_tol_zero_runs_to_max_iter(iris):
    x, y = iris
    for optimizer in ("gd", "adam"):
        with pytest.warns(ConvergenceWarning, match="did not converge in 30 iterations"):
            fitted = LogisticRegressionClassifier(optimizer=optimizer, lr=0.1, tol=0, max_iter=30).fit(x, y)
        assert fitted.n_iter_.tolist() == [30]


def test_messages_name_the_estimators_parameters(iris):
    x, y = iris
    with pytest.warns(ConvergenceWarning) as said:
        LogisticRegressionClassifier(optimizer="lbfgs", max_iter=2, tol=1e-12).fit(x, y)
    text = " ".join(str(w.message) for w in said)
    assert "max_iter" in text and "tol" in text
    assert not any(
        key in text for key in ("train.iterations", "optimizer.grad_tol", "model.l2", "data.standardize")
    )
    with pytest.raises(ValueError, match=r"^lr must be > 0, got 0.0"):
        LogisticRegressionClassifier(optimizer="gd", lr=0.0).fit(x, y)
    with pytest.raises(ValueError, match=r"^batch_size must be >= 1 or None"):
        MLPClassifier(batch_size=0).fit(x, y)


def test_separation_and_non_convergence_are_scikit_learns_convergence_warning():
    x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.warns(ConvergenceWarning) as said:
        LogisticRegressionClassifier(l2=0.0).fit(x, y)
    separated = [w for w in said if issubclass(w.category, SeparatedWarning)]
    assert separated and issubclass(separated[0].category, errors.SeparationWarning)
    assert "l2 > 0" in str(separated[0].message) and "model.l2" not in str(separated[0].message)
    assert issubclass(NotConvergedWarning, ConvergenceWarning) and issubclass(
        NotConvergedWarning, errors.ConvergenceWarning
    )
    with warnings.catch_warnings():  # a user's filter on scikit-learn's class silences ours
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        LogisticRegressionClassifier(l2=0.0).fit(x, y)
        LogisticRegressionClassifier(max_iter=1).fit(x, y)


def test_mlp_sgd_with_tol_stops_once_the_cost_settles(iris):
    x, y = iris
    settled = MLPClassifier(
        optimizer="sgd", lr=0.1, batch_size=30, tol=1e-4, max_iter=5000, random_state=0
    ).fit(x, y)
    assert settled.converged_ and settled.n_iter_ < 5000 and settled.n_iter_ % 5 == 0  # 5 steps an epoch
    with pytest.warns(ConvergenceWarning, match="did not settle to tol=1e-09"):
        MLPClassifier(optimizer="sgd", lr=0.1, batch_size=30, tol=1e-9, max_iter=50, random_state=0).fit(x, y)


def test_mlp_integer_sample_weights_are_repeated_rows_step_for_step(iris):
    """The weighted objective is the repeated rows' objective: same initialization (it does not depend
    on the row count), same L2 divisor (Σs = the repeated count), so gradient steps agree to rounding.

    L-BFGS runs on the two agree to ~1e-12 for the first steps, then part (7.5e-3 after 10 steps on
    iris, hidden=(5,)): the same repeated rows merely shuffled part from the unshuffled fit as well
    (8.2e-4), so the rounding of a different summation order, amplified by the line search on a
    non-convex objective, is what differs, not the objective."""
    x, y = iris
    weights = np.random.default_rng(0).integers(0, 4, len(y))
    params = {"hidden": (5,), "optimizer": "gd", "lr": 0.5, "max_iter": 50, "tol": 0, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MLPClassifier(**params).fit(x, y, sample_weight=weights)
        repeated = MLPClassifier(**params).fit(np.repeat(x, weights, 0), np.repeat(y, weights))
    for ours, theirs in zip(weighted.coefs_ + weighted.intercepts_, repeated.coefs_ + repeated.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("optimizer", ["newton", "lbfgs", "gd", "sgd", "adam"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("classes", [2, 3])
def test_fit_and_predict_share_x_and_never_write_into_it(optimizer, dtype, classes):
    """fit trains on X's own memory when it can (no 80 MB copy at 100k×100): it must only read it."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(dtype)
    X[:, 3] = X[:, 2]  # a duplicated column: the design checks look at it closely
    y = rng.integers(0, classes, size=300)
    before = X.copy()
    kwargs = (
        {}
        if optimizer in ("newton", "lbfgs")
        else {"lr": 0.1, "batch_size": 64 if optimizer == "sgd" else None}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegressionClassifier(optimizer=optimizer, max_iter=20, **kwargs).fit(X, y)
        model.predict_proba(X)
    assert np.array_equal(X, before)
    assert model.coef_.dtype == dtype


def test_x_is_shared_only_when_it_is_writeable_c_ordered_and_of_the_models_dtype():
    from torch_logreg.sklearn_inputs import rows_tensor

    X = np.arange(12.0).reshape(4, 3)
    assert np.shares_memory(rows_tensor(X, torch.float64).numpy(), X)
    read_only = X.copy()
    read_only.setflags(write=False)
    for other, dtype in (
        (np.asfortranarray(X), torch.float64),
        (X, torch.float32),
        (read_only, torch.float64),
    ):
        tensor = rows_tensor(other, dtype)
        assert tensor.dtype == dtype and not np.shares_memory(tensor.numpy(), other)
        assert np.array_equal(tensor.numpy(), other.astype(tensor.numpy().dtype))


def test_a_read_only_x_is_copied_not_refused():
    X, y = make_moons(100, noise=0.3, random_state=0)
    X.setflags(write=False)
    model = LogisticRegressionClassifier(optimizer="newton").fit(X, y)
    assert model.score(X, y) > 0.8


def test_the_network_estimator_shares_x_and_never_writes_into_it():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(200, 5)), rng.integers(0, 3, size=200)
    before = X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(hidden=(4,), max_iter=10).fit(X, y).predict(X)
    assert np.array_equal(X, before)
