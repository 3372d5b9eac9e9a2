"""Rows drawn from a known logistic (2 classes) or softmax (K classes) model, from a seed.

x ~ N(0, I) (m, n).  ``noise`` divides the logits: 0 gives separable data, 1 the model itself.
"""

from __future__ import annotations

import torch
from torch import Tensor


def make_synthetic(
    samples: int, features: int, noise: float, seed: int, classes: int = 2
) -> tuple[Tensor, Tensor, list[str]]:
    """x (samples, features) float64, y (samples,) float64 in 0..classes−1, names x1..xn.

    2 classes: w (n,) ~ N(0, I), b ~ N(0, 0.25), y ~ Bernoulli(σ((x·w + b)/noise)).
    K ≥ 3 classes: W (K, n) ~ N(0, I), b (K,) ~ N(0, 0.25 I), y ~ Categorical(softmax((x Wᵀ + b)/noise)).
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, features, generator=gen, dtype=torch.float64)
    scale = max(noise, 1e-6)
    if classes == 2:
        true_w = torch.randn(features, generator=gen, dtype=torch.float64)
        true_b = torch.randn((), generator=gen, dtype=torch.float64) * 0.5
        z = (x @ true_w + true_b) / scale  # (m,)
        y = torch.rand(samples, generator=gen, dtype=torch.float64) < torch.sigmoid(z)
    else:
        true_w = torch.randn(classes, features, generator=gen, dtype=torch.float64)
        true_b = torch.randn(classes, generator=gen, dtype=torch.float64) * 0.5
        p = torch.softmax((x @ true_w.T + true_b) / scale, dim=1)  # (m, K)
        u = torch.rand(samples, 1, generator=gen, dtype=torch.float64)
        # Inverse CDF: the class is the number of cumulative probabilities below u.
        y = (p.cumsum(1) < u).sum(1).clamp(max=classes - 1)
    return x, y.to(torch.float64), [f"x{i + 1}" for i in range(features)]
