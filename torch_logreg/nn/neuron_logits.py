"""One neuron's logits z = x w + b on the CPU at the speed of one read of x: predictions, accuracies and
cost-only passes.

The training step reads x once through ``one_pass``; what reads x for the logits alone (the model's
``forward`` for ``predict_proba``, a log step's accuracy, a test cost) went through torch's gemv,
which on an AMD EPYC reads x from memory at about a third of the speed of ``x.sum()`` (MKL; 100k×100
float64: 10.4 ms against 3.2 for NumPy's row dot products, 1M×128 float32: 73 against 19).  Here
such x goes through ``one_pass.ROW_PRODUCTS`` instead: the same sums of products, in NumPy.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .one_pass import ROW_PRODUCTS, row_product, supports


def fast_logits(x: Tensor, w: Tensor, bias: Tensor) -> Tensor | None:
    """z = x w + b (m,) by NumPy's row dot products, or None where torch's own product is the one to use.

    x: (m, n), w: (n,), bias: (1,).  None for x that ``one_pass.supports`` does not take (a GPU, other
    dtypes, x of one block, autograd recording: the caller's hand-written Function then keeps the
    graph), for x, w and bias of different dtypes, and for rows under ``one_pass.ROW_PRODUCT_MIN_BYTES``
    (gemv's kind of product: torch's own is as fast)."""
    if not supports(x, w, bias) or not x.dtype == w.dtype == bias.dtype:
        return None  # mixed dtypes: torch's product says so, where NumPy would quietly promote
    product = row_product(x)
    if product == "gemv":
        return None
    rows = x.detach().numpy()
    z = np.empty(x.shape[0], dtype=rows.dtype)
    ROW_PRODUCTS[product](rows, w.detach().reshape(-1).numpy(), z)
    return torch.from_numpy(z).add_(bias.detach())
