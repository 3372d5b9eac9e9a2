"""The document's first part, written literally: the loop over m examples.

This is the one deliberate second copy of the math, kept slow and readable so
that the vectorized code (``nn.functional.cost_and_grads``, ``document.propagate``)
can be held against it.  Python floats, ``math.exp`` and ``math.log``, one
example at a time, for any number of features:

    J = 0; dw = [0]*n; db = 0
    for i = 1..m:
        z = wᵀx⁽ⁱ⁾ + b
        a = σ(z)
        J += −(y⁽ⁱ⁾ log a + (1−y⁽ⁱ⁾) log(1−a))
        dz = a − y⁽ⁱ⁾
        dw_j += x_j⁽ⁱ⁾ dz     for each feature j
        db += dz
    J /= m; dw /= m; db /= m

    w_j ← w_j − α dw_j;  b ← b − α db

Being literal, it takes log(σ(z)): keep the logits moderate (|z| below ~30),
or log(0) raises.  The library itself never does this.

``loop_cost_and_grads_one_hidden`` is the same loop with one hidden layer, the
reference for ``torch_logreg.MLP``.

Layout as in the document: X (n, m), Y (1, m) or (m,), w (n, 1) or (n,), b a float.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def loop_cost_and_grads(w: Tensor, b: float, X: Tensor, Y: Tensor) -> tuple[float, Tensor, float]:
    """J, dw, db by the document's loop over examples.

    Args:
        w: (n, 1) or (n,).  b: float.  X: (n, m), one example per column.  Y: (1, m) or (m,) in {0, 1}.

    Returns:
        (J as a float, dw as a float64 tensor (n, 1), db as a float).
    """
    n, m = X.shape
    w = [float(v) for v in torch.as_tensor(w).reshape(-1).tolist()]
    b = float(b)
    columns = X.T.tolist()  # m lists of n values: x⁽ⁱ⁾
    labels = [float(v) for v in torch.as_tensor(Y).reshape(-1).tolist()]

    J = 0.0
    dw = [0.0] * n
    db = 0.0
    for i in range(m):
        x, y = columns[i], labels[i]
        z = sum(w[j] * x[j] for j in range(n)) + b
        a = 1.0 / (1.0 + math.exp(-z))
        J += -(y * math.log(a) + (1.0 - y) * math.log(1.0 - a))
        # dz = da · a(1−a), with da = ∂L/∂a = −y/a + (1−y)/(1−a); that simplifies to a − y.
        dz = a - y
        for j in range(n):
            dw[j] += x[j] * dz
        db += dz
    J /= m
    dw = [value / m for value in dw]
    db /= m
    return J, torch.tensor(dw, dtype=torch.float64).reshape(n, 1), db


def gradient_descent_step(
    w: Tensor, b: float, X: Tensor, Y: Tensor, learning_rate: float
) -> tuple[Tensor, float]:
    """One update of the document: w ← w − α·dw, b ← b − α·db, with dw, db from the loop.

    Returns:
        (new w as a float64 tensor (n, 1), new b as a float).
    """
    _, dw, db = loop_cost_and_grads(w, b, X, Y)
    w = torch.as_tensor(w, dtype=torch.float64).reshape(-1, 1)
    return w - learning_rate * dw, float(b) - learning_rate * db


# --------------------------------------------------------------------------
# One hidden layer: the same loop with one more layer
# --------------------------------------------------------------------------
#
#     for i = 1..m:
#         z1_k = Σ_j W1_kj x_j⁽ⁱ⁾ + b1_k,   a1_k = g(z1_k)        each hidden unit k
#         z2 = Σ_k W2_k a1_k + b2,          a2 = σ(z2)
#         J += −(y⁽ⁱ⁾ log a2 + (1−y⁽ⁱ⁾) log(1−a2))
#         dz2 = a2 − y⁽ⁱ⁾                                        as for one neuron
#         dW2_k += dz2 · a1_k;   db2 += dz2
#         dz1_k = (W2_k · dz2) · g′(z1_k)                        g′ from a1_k
#         dW1_kj += dz1_k · x_j⁽ⁱ⁾;   db1_k += dz1_k
#     J /= m; every gradient /= m
#     with L2: J += (λ/2m)(Σ W1² + Σ W2²),  dW1 += (λ/m) W1,  dW2 += (λ/m) W2

_LOOP_ACTIVATIONS = {
    # name: (g(z), g′ written from a = g(z))
    "sigmoid": (lambda z: 1.0 / (1.0 + math.exp(-z)), lambda a: a * (1.0 - a)),
    "tanh": (math.tanh, lambda a: 1.0 - a * a),
    "relu": (lambda z: max(z, 0.0), lambda a: 1.0 if a > 0 else 0.0),
}


def loop_cost_and_grads_one_hidden(
    W1: Tensor, b1: Tensor, W2: Tensor, b2, X: Tensor, Y: Tensor, activation: str = "tanh", l2: float = 0.0
) -> tuple[float, dict[str, Tensor]]:
    """J and its gradients for a network with one hidden layer, two classes, by the loop over examples.

    Args:
        W1: (h, n).  b1: (h, 1) or (h,).  W2: (1, h) or (h,).  b2: a float or a one-element tensor.
        X: (n, m), one example per column.  Y: (1, m) or (m,) in {0, 1}.
        activation: the hidden layer's g, ``"sigmoid"``, ``"tanh"`` or ``"relu"``.
        l2: λ of the L2 term (λ/2m)·(‖W1‖² + ‖W2‖²); biases are not penalized.

    Returns:
        (J as a float, {"dW1": (h, n), "db1": (h, 1), "dW2": (1, h), "db2": (1, 1)} as float64 tensors).
    """
    g, g_prime = _LOOP_ACTIVATIONS[activation]
    n, m = X.shape
    W1 = torch.as_tensor(W1).tolist()  # h lists of n values
    h = len(W1)
    b1 = [float(v) for v in torch.as_tensor(b1).reshape(-1).tolist()]
    W2 = [float(v) for v in torch.as_tensor(W2).reshape(-1).tolist()]
    b2 = float(torch.as_tensor(b2).reshape(-1)[0])
    columns = X.T.tolist()  # m lists of n values: x⁽ⁱ⁾
    labels = [float(v) for v in torch.as_tensor(Y).reshape(-1).tolist()]

    J = 0.0
    dW1 = [[0.0] * n for _ in range(h)]
    db1 = [0.0] * h
    dW2 = [0.0] * h
    db2 = 0.0
    for i in range(m):
        x, y = columns[i], labels[i]
        a1 = [g(sum(W1[k][j] * x[j] for j in range(n)) + b1[k]) for k in range(h)]
        z2 = sum(W2[k] * a1[k] for k in range(h)) + b2
        a2 = 1.0 / (1.0 + math.exp(-z2))
        J += -(y * math.log(a2) + (1.0 - y) * math.log(1.0 - a2))
        dz2 = a2 - y
        for k in range(h):
            dW2[k] += dz2 * a1[k]
        db2 += dz2
        for k in range(h):
            dz1 = W2[k] * dz2 * g_prime(a1[k])
            for j in range(n):
                dW1[k][j] += dz1 * x[j]
            db1[k] += dz1
    J /= m
    dW1 = [[value / m for value in row] for row in dW1]
    db1 = [value / m for value in db1]
    dW2 = [value / m for value in dW2]
    db2 /= m
    if l2:
        J += l2 / (2 * m) * (sum(w * w for row in W1 for w in row) + sum(w * w for w in W2))
        dW1 = [[dW1[k][j] + l2 / m * W1[k][j] for j in range(n)] for k in range(h)]
        dW2 = [dW2[k] + l2 / m * W2[k] for k in range(h)]
    return J, {
        "dW1": _float64(dW1, (h, n)),
        "db1": _float64(db1, (h, 1)),
        "dW2": _float64(dW2, (1, h)),
        "db2": _float64([db2], (1, 1)),
    }


def _float64(values: list, shape: tuple[int, ...]) -> Tensor:
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def loop_softmax_cost_and_grads(W: Tensor, b: Tensor, X: Tensor, Y: Tensor) -> tuple[float, Tensor, Tensor]:
    """J, dW, db for K classes by the document's loop, with softmax for σ and dz = a − onehot(y).

        for i = 1..m:
            z_k = W_k·x⁽ⁱ⁾ + b_k                   for each class k
            a_k = e^(z_k) / Σ_j e^(z_j)            softmax (the max subtracted first: the same a)
            J  += −log a_y                          y = y⁽ⁱ⁾, the example's class
            dz_k = a_k − [k = y]
            dW_k,j += x_j⁽ⁱ⁾ dz_k;  db_k += dz_k
        J /= m; dW /= m; db /= m

    Args:
        W: (K, n).  b: (K,).  X: (n, m), one example per column.  Y: (m,) class indices 0..K−1.

    Returns:
        (J as a float, dW (K, n) and db (K,) as float64 tensors).
    """
    n, m = X.shape
    weights = [[float(v) for v in row] for row in torch.as_tensor(W).tolist()]
    biases = [float(v) for v in torch.as_tensor(b).reshape(-1).tolist()]
    k = len(weights)
    columns = X.T.tolist()
    labels = [int(v) for v in torch.as_tensor(Y).reshape(-1).tolist()]

    J = 0.0
    dW = [[0.0] * n for _ in range(k)]
    db = [0.0] * k
    for i in range(m):
        x, y = columns[i], labels[i]
        z = [sum(weights[c][j] * x[j] for j in range(n)) + biases[c] for c in range(k)]
        top = max(z)
        exps = [math.exp(value - top) for value in z]
        total = sum(exps)
        a = [value / total for value in exps]
        J += -math.log(a[y])
        for c in range(k):
            dz = a[c] - (1.0 if c == y else 0.0)
            for j in range(n):
                dW[c][j] += x[j] * dz
            db[c] += dz
    J /= m
    return (J, torch.tensor(dW, dtype=torch.float64) / m, torch.tensor(db, dtype=torch.float64) / m)
