"""Two-dimensional problems that a line cannot separate, drawn from a seed.

Both follow their course's generator, with numpy's ``default_rng(seed)`` in place
of the global ``np.random.seed``: the same seed gives the same points.
"""

from __future__ import annotations

import numpy as np

NAMES = ["x1", "x2"]


def make_flower(seed: int, samples: int = 400, petals: int = 4) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The deep-learning course's "planar flower": two classes in ``petals`` petals.

    For class j in {0, 1}, N = samples/2 points:
    t = linspace(3.12·j, 3.12·(j+1), N) + 0.2·ε,  r = a·sin(4t) + 0.2·ε',  x = (r·sin t, r·cos t),
    with a = petals and ε, ε' standard normal.  Returns x (samples, 2), y (samples,) in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    per_class = samples // 2
    x = np.zeros((2 * per_class, 2))
    y = np.zeros(2 * per_class, dtype=np.int64)
    for j in range(2):
        rows = slice(per_class * j, per_class * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, per_class) + rng.standard_normal(per_class) * 0.2
        r = petals * np.sin(4 * t) + rng.standard_normal(per_class) * 0.2
        x[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = j
    return x, y, list(NAMES)


def make_spirals(classes: int, seed: int, per_class: int = 100) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """CS231n's spiral data: ``classes`` interleaved arms of ``per_class`` points each.

    For class j: r = linspace(0, 1, N), t = linspace(4j, 4(j+1), N) + 0.2·ε, x = (r·sin t, r·cos t).
    Returns x (classes·per_class, 2), y (classes·per_class,) in 0..classes−1.
    """
    rng = np.random.default_rng(seed)
    x = np.zeros((classes * per_class, 2))
    y = np.zeros(classes * per_class, dtype=np.int64)
    for j in range(classes):
        rows = slice(per_class * j, per_class * (j + 1))
        r = np.linspace(0.0, 1.0, per_class)
        t = np.linspace(j * 4, (j + 1) * 4, per_class) + rng.standard_normal(per_class) * 0.2
        x[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = j
    return x, y, list(NAMES)
