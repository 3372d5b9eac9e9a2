"""``model.class_weight``: a weight per class, multiplying each row's sample weight."""

from __future__ import annotations

import torch

from ..errors import ConfigError


def class_weights(class_weight, classes: list, y_train: torch.Tensor, sample_weight=None) -> torch.Tensor:
    """(K,) weight per class: ``"balanced"`` is m / (K·count_k), as scikit-learn's, counting each row by its
    sample weight (so weight 2 is a repeated row); a mapping names labels."""
    k = len(classes)
    if class_weight == "balanced":
        weights = None if sample_weight is None else sample_weight.double()
        counts = torch.bincount(y_train.long(), weights=weights, minlength=k).double()
        return counts.sum() / (k * counts)
    by_name = {str(key): float(value) for key, value in class_weight.items()}
    unknown = [key for key in by_name if key not in {str(c) for c in classes}]
    if unknown:
        raise ConfigError(
            f"model.class_weight: {unknown[0]!r} is not a class of the data "
            f"(classes: {', '.join(map(str, classes))})"
        )
    return torch.tensor([by_name.get(str(c), 1.0) for c in classes], dtype=torch.float64)
