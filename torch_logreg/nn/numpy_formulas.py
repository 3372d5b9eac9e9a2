"""NumPy twins of ``formulas``' per-row formulas, for ``one_pass``'s blocks: the same equations on arrays.

``one_pass`` computes dz on blocks of a few thousand logits, where an op is mostly its fixed cost,
paid holding the GIL.  A NumPy ufunc's fixed cost is smaller than a torch op's, and it never enters
torch's OpenMP pool, whose threads a busy machine keeps waiting (``benchmarks/gemv_blocks.py``,
table 3).  Each twin is tested against its torch formula (``tests/test_numpy_formulas.py``); a
formula without a twin runs as torch ops.
"""

from __future__ import annotations

import numpy as np

from . import formulas


def logistic_cost_backward(
    z: np.ndarray, y: np.ndarray, m, sample_weight: np.ndarray | None, out: np.ndarray, bias=0
) -> np.ndarray:
    """dz = ∂J/∂z = s·(σ(z + b) − y) / m with σ(t) = 1 / (1 + e^(−t)), into ``out``.  z, y, s, out: (k,).

    ``formulas.logistic_cost_backward`` of the logits z + b: ``bias`` b (a number) is added on the
    way, as e^(−b − z), so that a block's z needs no pass of its own to add it (b = 0: the formula
    of z itself).  e^(−b − z) overflows to inf for z + b below about −88 (float32), where σ is then
    exactly 0: call it under ``np.errstate(over="ignore")``.  m: a number, or a 0-d array (Σs of the
    whole data).
    """
    np.subtract(-bias, z, out=out)  # −(z + b), exactly: negation is exact
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)  # σ(z + b)
    out -= y
    if sample_weight is not None:
        out *= sample_weight
    out /= m
    return out


# {torch formula: its NumPy twin}
TWINS = {formulas.logistic_cost_backward: logistic_cost_backward}
