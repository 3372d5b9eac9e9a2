"""The document's own API, step by step, on torch tensors and in its layout.

The document (a NumPy exercise) works column-wise, one example per column:

    X: (n_features, m)    Y: (1, m) in {0, 1}    w: (n_features, 1)    b: a Python float

    A    = σ(wᵀX + b)                                        (1, m)   forward propagation
    cost = −(1/m) Σ [Y log A + (1−Y) log(1−A)]               scalar
    dw   = (1/m) X (A − Y)ᵀ                                  (n_features, 1)
    db   = (1/m) Σ (A − Y)                                   scalar
    w ← w − α·dw,  b ← b − α·db                              gradient descent

Its steps map to the functions here: 2. ``sigmoid``, 3. ``initialize_with_zeros``,
4. ``propagate`` and ``optimize``, 5. ``predict``; ``model`` merges them all.

None of the formulas is written again here: every function transposes to the
row layout of ``torch_logreg.nn.functional`` (x (m, n), y (m,), W (1, n)) and calls
the math written there once.  The cost in particular is computed from the
logits as mean(softplus(z) − y·z), which equals the document's expression but
never takes log(σ(z)), so saturated logits give a finite cost.

Unlike the rest of the library, ``optimize`` (with ``print_cost``) and ``model``
print, because the document's functions do.  Tensors keep their dtype: float64
in, float64 out; float32 in, float32 out.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .nn import functional


def sigmoid(z) -> Tensor:
    """Step 2: σ(z) = 1 / (1 + e^(−z)), elementwise.  z: any shape (or a number) -> same shape."""
    return torch.sigmoid(torch.as_tensor(z))


def initialize_with_zeros(dim: int, dtype: torch.dtype = torch.float64) -> tuple[Tensor, float]:
    """Step 3: w = 0 of shape (dim, 1) and b = 0.0, as the document starts gradient descent."""
    return torch.zeros(dim, 1, dtype=dtype), 0.0


def propagate(w: Tensor, b: float, X: Tensor, Y: Tensor) -> tuple[dict, float]:
    """Step 4, one forward and backward pass: the cost and its gradients.

    A = σ(wᵀX + b), cost = −(1/m) Σ [Y log A + (1−Y) log(1−A)],
    dw = (1/m) X (A − Y)ᵀ, db = (1/m) Σ (A − Y).

    Args:
        w: (n_features, 1) weights.  b: the bias, a float.
        X: (n_features, m) examples, one per column.  Y: (1, m) or (m,) labels in {0, 1}.

    Returns:
        ({"dw": (n_features, 1) tensor, "db": float}, cost as a float).
    """
    value, dweight, dbias = functional.cost_and_grads(
        X.T, Y.reshape(-1).to(X.dtype), w.reshape(1, -1), _bias_tensor(b, X), with_cost=True
    )
    grads = {"dw": dweight.T, "db": float(dbias)}  # dW (1, n) -> the document's dw (n, 1)
    return grads, float(value)


def optimize(
    w: Tensor,
    b: float,
    X: Tensor,
    Y: Tensor,
    num_iterations: int,
    learning_rate: float,
    print_cost: bool = False,
) -> tuple[dict, dict, list[float]]:
    """Step 4, gradient descent: ``num_iterations`` times, propagate then w ← w − α·dw, b ← b − α·db.

    The cost is recorded (and printed as "Cost after iteration %i: %f" when
    ``print_cost``) on iterations i with i % 100 == 0, before that iteration's
    update.  The returned grads are those of the last pass, taken before the
    last update, as in the document.

    Args:
        w: (n_features, 1).  b: float.  X: (n_features, m).  Y: (1, m).
        num_iterations: at least 1.  learning_rate: α.

    Returns:
        ({"w": (n_features, 1), "b": float}, {"dw": (n_features, 1), "db": float}, costs).
    """
    if num_iterations < 1:
        raise ValueError(f"num_iterations must be >= 1, got {num_iterations}")
    costs = []
    for i in range(num_iterations):
        grads, cost = propagate(w, b, X, Y)
        w = w - learning_rate * grads["dw"]
        b = b - learning_rate * grads["db"]
        if i % 100 == 0:
            costs.append(cost)
            if print_cost:
                print("Cost after iteration %i: %f" % (i, cost))
    return {"w": w, "b": b}, grads, costs


def predict(w: Tensor, b: float, X: Tensor) -> Tensor:
    """Step 5: Y_prediction = 1 where σ(wᵀX + b) > 0.5 (strictly), else 0.

    Args:
        w: (n_features, 1) or (n_features,).  b: float.  X: (n_features, m).

    Returns:
        Y_prediction: (1, m) in X's dtype, values in {0., 1.}.
    """
    z = functional.linear_forward(X.T, w.reshape(1, -1), _bias_tensor(b, X))  # (m, 1)
    A = sigmoid(z).T  # (1, m)
    return (A > 0.5).to(X.dtype)


def model(
    X_train: Tensor,
    Y_train: Tensor,
    X_test: Tensor,
    Y_test: Tensor,
    num_iterations: int = 2000,
    learning_rate: float = 0.5,
    print_cost: bool = False,
) -> dict:
    """All steps merged: initialize with zeros, optimize, predict, print train/test accuracy.

    Accuracy is 100 − mean(|Y_prediction − Y|)·100, printed as
    "train accuracy: {} %" and "test accuracy: {} %".

    Args:
        X_train: (n_features, m_train).  Y_train: (1, m_train) or (m_train,).
        X_test: (n_features, m_test).  Y_test: (1, m_test) or (m_test,).

    Returns:
        {"costs", "Y_prediction_test" (1, m_test), "Y_prediction_train" (1, m_train),
        "w" (n_features, 1), "b" (float), "learning_rate", "num_iterations"}.
    """
    w, b = initialize_with_zeros(X_train.shape[0], dtype=X_train.dtype)
    w = w.to(X_train.device)
    parameters, grads, costs = optimize(w, b, X_train, Y_train, num_iterations, learning_rate, print_cost)
    w, b = parameters["w"], parameters["b"]

    Y_prediction_test = predict(w, b, X_test)
    Y_prediction_train = predict(w, b, X_train)

    train_error = (Y_prediction_train - Y_train.reshape(1, -1)).abs().mean()
    test_error = (Y_prediction_test - Y_test.reshape(1, -1)).abs().mean()
    print("train accuracy: {} %".format(100 - float(train_error) * 100))
    print("test accuracy: {} %".format(100 - float(test_error) * 100))

    return {
        "costs": costs,
        "Y_prediction_test": Y_prediction_test,
        "Y_prediction_train": Y_prediction_train,
        "w": w,
        "b": b,
        "learning_rate": learning_rate,
        "num_iterations": num_iterations,
    }


def _bias_tensor(b: float, X: Tensor) -> Tensor:
    """The document's scalar b as functional's bias (1,), in X's dtype and on X's device."""
    return torch.as_tensor(b, dtype=X.dtype, device=X.device).reshape(1)
