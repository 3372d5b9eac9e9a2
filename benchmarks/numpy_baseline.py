"""The document's NumPy code, vectorized: the baseline every step is compared with.

The document keeps one example per column, X: (n, m), Y: (1, m), w: (n, 1), and runs

    A = σ(wᵀX + b),  cost = −(1/m) Σ [Y log A + (1−Y) log(1−A)]
    dw = (1/m) X (A − Y)ᵀ,  db = (1/m) Σ (A − Y),  w ← w − α·dw,  b ← b − α·db

Its X is ``x.reshape(m, -1).T``: the transpose of row-major data, so the (m, n) array
of the other methods passed as ``x.T`` is the document's X in the same memory.

``python -m benchmarks.numpy_baseline M N`` times it in a fresh process and prints JSON;
``run.py`` uses that to time it once more with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset,
which this workplace sets on some processors and which slow a current numpy.
"""

from __future__ import annotations

import argparse
import json
from typing import Callable

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def document_step(x: np.ndarray, y: np.ndarray, learning_rate: float) -> Callable[[], float]:
    """One propagate + update per call, float32 as x.  x: (m, n), y: (m,)."""
    X = x.T  # (n, m), the document's layout, same memory
    Y = y.reshape(1, -1)  # (1, m)
    m = X.shape[1]
    state = {"w": np.zeros((X.shape[0], 1), dtype=x.dtype), "b": x.dtype.type(0.0)}

    def step() -> float:
        w, b = state["w"], state["b"]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            A = sigmoid(np.dot(w.T, X) + b)  # (1, m)
            cost = -1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
        dw = 1 / m * np.dot(X, (A - Y).T)  # (n, 1)
        db = 1 / m * np.sum(A - Y)
        state["w"] = w - learning_rate * dw
        state["b"] = b - learning_rate * db
        return cost

    return step


def main(argv=None) -> None:
    from . import machine, problems, timing

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("m", type=int)
    parser.add_argument("n", type=int)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.05)
    args = parser.parse_args(argv)
    x, y = problems.step_problem(args.m, args.n, "cpu")
    step = document_step(x.numpy(), y.numpy(), 0.5)
    result = timing.interleaved_medians({"numpy": (step, "cpu")}, args.repeats, args.min_seconds)["numpy"]
    result["numpy_blas"] = machine.numpy_blas()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
