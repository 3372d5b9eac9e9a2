"""Standardization: x ↦ (x − mean) / std, fitted on the training rows only."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Standardizer:
    """x ↦ (x − mean) / std, fitted on the training rows only.  mean, std: (n,)."""

    mean: Tensor
    std: Tensor

    @classmethod
    def fit(cls, x: Tensor, image_shape: tuple[int, ...] | None = None) -> "Standardizer":
        """Per column; for rows that are images (``image_shape`` (C, H, W) or (H, W)), per channel:
        one mean and std over every pixel of a channel, repeated over its pixels, so a shift of the
        image moves no pixel into another scale and a border pixel that is almost always 0 is not
        blown up by its tiny std."""
        if image_shape is not None:
            channels = x.reshape(x.shape[0], image_shape[0] if len(image_shape) == 3 else 1, -1)
            mean = channels.mean((0, 2), keepdim=True).expand_as(channels[:1])
            std = channels.std((0, 2), unbiased=False, keepdim=True).expand_as(channels[:1])
            return cls._finite(mean.reshape(-1).clone(), std.reshape(-1).clone())
        return cls._finite(x.mean(0), x.std(0, unbiased=False))

    @classmethod
    def _finite(cls, mean: Tensor, std: Tensor) -> "Standardizer":
        # A constant column carries no information; dividing by 1 keeps it finite.
        return cls(mean, torch.where(std > 0, std, torch.ones_like(std)))

    def transform(self, x: Tensor) -> Tensor:
        return (x - self.mean.to(x)) / self.std.to(x)

    def state_dict(self) -> dict[str, Tensor]:
        return {"mean": self.mean.cpu(), "std": self.std.cpu()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor]) -> "Standardizer":
        return cls(state["mean"], state["std"])
