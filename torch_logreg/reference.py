"""The document's first part, written literally: the loop over m examples.

This is the one deliberate second copy of the math, kept slow and readable so
that the vectorized code (``functional.cost_and_grads``, ``document.propagate``)
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


def gradient_descent_step(w: Tensor, b: float, X: Tensor, Y: Tensor, learning_rate: float) -> tuple[Tensor, float]:
    """One update of the document: w ← w − α·dw, b ← b − α·db, with dw, db from the loop.

    Returns:
        (new w as a float64 tensor (n, 1), new b as a float).
    """
    _, dw, db = loop_cost_and_grads(w, b, X, Y)
    w = torch.as_tensor(w, dtype=torch.float64).reshape(-1, 1)
    return w - learning_rate * dw, float(b) - learning_rate * db
