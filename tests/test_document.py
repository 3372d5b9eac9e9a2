"""The document-style API reproduces the exercise's published numbers and conventions."""

import pytest
import torch

from torch_logreg import data, document

F64 = torch.float64


def exercise(dtype=F64):
    """The exercise's propagate/optimize test case: w, b, X (2, 3), Y (1, 3)."""
    w = torch.tensor([[1.0], [2.0]], dtype=dtype)
    X = torch.tensor([[1.0, -2.0, -1.0], [3.0, 0.5, -3.2]], dtype=dtype)
    Y = torch.tensor([[1.0, 1.0, 0.0]], dtype=dtype)
    return w, 1.5, X, Y


def test_sigmoid_of_0_and_2():
    assert document.sigmoid(torch.tensor([0.0, 2.0], dtype=F64)).tolist() == pytest.approx(
        [0.5, 0.8807970779778823]
    )


def test_initialize_with_zeros_gives_a_zero_column_and_a_zero_bias():
    w, b = document.initialize_with_zeros(2)
    assert w.tolist() == [[0.0], [0.0]] and w.dtype == F64
    assert b == 0.0 and isinstance(b, float)


def test_propagate_gives_the_exercise_gradients_and_cost():
    grads, cost = document.propagate(*exercise())
    torch.testing.assert_close(
        grads["dw"], torch.tensor([[0.25071532], [-0.06604096]], dtype=F64), atol=1e-8, rtol=0
    )
    assert grads["db"] == pytest.approx(-0.1250040450043965, abs=1e-15)
    assert cost == pytest.approx(0.15900537707692405, abs=1e-15)
    assert isinstance(grads["db"], float) and isinstance(cost, float)


def test_optimize_100_iterations_at_0_009_gives_the_exercise_parameters():
    params, grads, costs = document.optimize(*exercise(), num_iterations=100, learning_rate=0.009)
    torch.testing.assert_close(
        params["w"], torch.tensor([[0.80956046], [2.0508202]], dtype=F64), atol=1e-8, rtol=0
    )
    assert params["b"] == pytest.approx(1.5948713189708588, abs=1e-14)
    assert costs == [pytest.approx(0.15900537707692405, abs=1e-15)]  # only i = 0 is recorded


def test_predict_gives_the_exercise_labels():
    w = torch.tensor([[0.1124579], [0.23106775]], dtype=F64)
    X = torch.tensor([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]], dtype=F64)
    assert document.predict(w, -0.3, X).tolist() == [[1.0, 1.0, 0.0]]


def test_predict_is_strict_a_probability_of_exactly_one_half_predicts_0():
    w, _ = document.initialize_with_zeros(2)
    X = torch.tensor([[1.0, -4.0], [2.0, 3.0]], dtype=F64)
    assert document.predict(w, 0.0, X).tolist() == [[0.0, 0.0]]


def test_a_cost_is_recorded_every_100_iterations_2000_iterations_give_20():
    params, _, costs = document.optimize(*exercise(), num_iterations=2000, learning_rate=0.009)
    assert len(costs) == 20
    assert costs == sorted(costs, reverse=True)  # gradient descent at a small rate only goes down


def test_print_cost_prints_the_recorded_costs(capsys):
    _, _, costs = document.optimize(*exercise(), num_iterations=201, learning_rate=0.009, print_cost=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Cost after iteration %i: %f" % (i, c) for i, c in zip((0, 100, 200), costs)]
    assert lines[0] == "Cost after iteration 0: 0.159005"


def test_optimize_returns_the_grads_of_the_last_pass_before_the_last_update():
    w, b, X, Y = exercise()
    before_last, _, _ = document.optimize(w, b, X, Y, num_iterations=4, learning_rate=0.009)
    params, grads, _ = document.optimize(w, b, X, Y, num_iterations=5, learning_rate=0.009)

    last_pass, _ = document.propagate(before_last["w"], before_last["b"], X, Y)
    after_update, _ = document.propagate(params["w"], params["b"], X, Y)
    torch.testing.assert_close(grads["dw"], last_pass["dw"], atol=0, rtol=0)
    assert grads["db"] == last_pass["db"]
    assert grads["db"] != after_update["db"]


def test_optimize_needs_at_least_one_iteration():
    with pytest.raises(ValueError, match="num_iterations"):
        document.optimize(*exercise(), num_iterations=0, learning_rate=0.1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_step_keeps_the_input_dtype(dtype):
    w, b, X, Y = exercise(dtype)
    grads, cost = document.propagate(w, b, X, Y)
    params, last_grads, _ = document.optimize(w, b, X, Y, num_iterations=3, learning_rate=0.1)
    assert grads["dw"].dtype == last_grads["dw"].dtype == params["w"].dtype == dtype
    assert document.predict(params["w"], params["b"], X).dtype == dtype
    assert document.initialize_with_zeros(2, dtype=dtype)[0].dtype == dtype


def test_model_on_the_default_data_reaches_95_percent_test_accuracy(capsys):
    # The document's own run: 2000 iterations at rate 0.5 on the default split (a quarter held
    # out, standardized on the training rows): 99.5 % train, 95.1 % (135/142) test.
    split = data.breast_cancer()
    result = document.model(
        split.x_train.T, split.y_train.reshape(1, -1), split.x_test.T, split.y_test.reshape(1, -1)
    )

    test_accuracy = 100 - (result["Y_prediction_test"] - split.y_test).abs().mean().item() * 100
    assert test_accuracy >= 95
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("train accuracy: ") and lines[0].endswith(" %")
    assert lines[1] == "test accuracy: {} %".format(test_accuracy)
    assert sorted(result) == sorted(
        ["costs", "Y_prediction_test", "Y_prediction_train", "w", "b", "learning_rate", "num_iterations"]
    )
    assert len(result["costs"]) == 20 and result["num_iterations"] == 2000 and result["learning_rate"] == 0.5
    assert result["w"].shape == (split.n_features, 1) and result["w"].dtype == F64
    assert result["Y_prediction_train"].shape == (1, len(split.y_train))


def test_model_defaults_are_the_documents_2000_iterations_at_rate_0_5(capsys):
    _, _, X, Y = exercise()
    result = document.model(X, Y, X, Y)
    assert result["num_iterations"] == 2000 and result["learning_rate"] == 0.5
    assert result["Y_prediction_train"].tolist() == Y.tolist()  # 3 points, separable: all right
    assert capsys.readouterr().out.splitlines() == ["train accuracy: 100.0 %", "test accuracy: 100.0 %"]
