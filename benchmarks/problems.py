"""The data every section runs on: the built-in breast-cancer set and synthetic logistic data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from torch_logreg.data import Split, Standardizer, load_breast_cancer, load_split
from torch_logreg.training.config import DataConfig


class Size(NamedTuple):
    m: int
    n: int

    @property
    def default_data(self) -> bool:
        return self == DEFAULT

    @property
    def label(self) -> str:
        return f"{_count(self.m)}×{self.n}" + (" (default data)" if self.default_data else "")


DEFAULT = Size(569, 30)  # the built-in breast-cancer set, all rows


def _count(m: int) -> str:
    if m >= 1_000_000 and m % 1_000_000 == 0:
        return f"{m // 1_000_000}M"
    if m >= 1_000 and m % 1_000 == 0:
        return f"{m // 1_000}k"
    return str(m)


def synthetic(
    m: int, n: int, device: str = "cpu", dtype=torch.float32, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """x ~ N(0, I) (m, n) and y ~ Bernoulli(σ(x·w)), w ~ N(0, 4/n): logits of std 2, not separable."""
    gen = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(m, n, generator=gen, device=device, dtype=dtype)
    w = torch.randn(n, generator=gen, device=device, dtype=dtype) * (2 / math.sqrt(n))
    y = (torch.rand(m, generator=gen, device=device, dtype=dtype) < torch.sigmoid(x @ w)).to(dtype)
    return x, y


def breast_cancer_all(dtype=torch.float32, device: str = "cpu") -> tuple[Tensor, Tensor]:
    """All 569 rows of the default data, standardized: x (569, 30), y (569,)."""
    x, y, _ = load_breast_cancer()
    x = Standardizer.fit(x).transform(x)
    return x.to(device=device, dtype=dtype).contiguous(), y.to(device=device, dtype=dtype)


def in_memory_split(
    x: Tensor, y: Tensor, x_test: Tensor, y_test: Tensor, classes: list | None = None
) -> Split:
    """The ``Split`` that ``train(config, data=...)`` trains on: x (m, n) as given, no standardization.

    ``classes`` defaults to [0, 1]; y holds class indices (float), as ``load_split`` gives them.
    """
    names = [f"x{j + 1}" for j in range(x.shape[1])]
    return Split(
        x_train=x,
        y_train=y.to(x.dtype),
        x_test=x_test,
        y_test=y_test.to(x_test.dtype),
        feature_names=names,
        classes=list(classes) if classes is not None else [0, 1],
    )


def step_problem(m: int, n: int, device: str) -> tuple[Tensor, Tensor]:
    """float32 (x, y) for the per-step timings: the default data at 569×30, synthetic otherwise."""
    if Size(m, n).default_data:
        return breast_cancer_all(device=device)
    return synthetic(m, n, device)


def default_train_split() -> tuple[Tensor, Tensor]:
    """The training rows the default run trains on (427 of 569, standardized), float64."""
    split = load_split(DataConfig(), seed=0)
    return split.x_train, split.y_train


def write_npy(path: Path, x: Tensor, y: Tensor, dtype=np.float32) -> Path:
    """The .npy layout ``data.path`` reads: features, then the label as the last column."""
    table = np.empty((x.shape[0], x.shape[1] + 1), dtype=dtype)
    table[:, :-1] = x.cpu().numpy()
    table[:, -1] = y.cpu().numpy()
    np.save(path, table)
    return path
