"""Hold hand-written gradients against plain autograd, for any model built on ``functional``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .functional import plain_autograd

# |hand − autograd| <= atol + rtol·|autograd|, per dtype: float32 rounding differs
# between the two evaluation orders by a few ulps of the largest term.
TOLERANCES = {
    torch.float64: (1e-10, 1e-7),
    torch.float32: (1e-5, 1e-4),
    torch.bfloat16: (1e-2, 1e-2),
    torch.float16: (1e-3, 1e-2),
}


class GradientMismatchError(RuntimeError):
    """The hand-written gradients disagree with autograd's beyond the dtype's tolerance."""


def hand_and_autograd_grads(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
    """Per parameter name, (hand-written, autograd) gradients of ``model.cost(x, y)``.

    The model must expose ``cost(x, y)`` built from ``torch_logreg.nn.functional``;
    inside ``plain_autograd()`` the same code runs on stock PyTorch ops.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    with torch.enable_grad():
        hand = torch.autograd.grad(_cost_without_check(model, x, y), params)
        with plain_autograd():
            auto = torch.autograd.grad(_cost_without_check(model, x, y), params)
    return {name: (h, a) for (name, _), h, a in zip(named, hand, auto)}


def check_gradients(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Raise ``GradientMismatchError`` unless the hand-written gradients match autograd.

    Returns the largest absolute difference over all parameters (a host sync).
    The tolerance scales with each gradient's largest entry, as float32 rounding
    of the sums behind every entry does.
    """
    worst = 0.0
    for name, (hand, auto) in hand_and_autograd_grads(model, x, y).items():
        atol, rtol = TOLERANCES.get(auto.dtype, TOLERANCES[torch.float32])
        diff = float((hand - auto).abs().max())
        limit = atol + rtol * float(auto.abs().max())
        worst = max(worst, diff)
        if not diff <= limit:
            raise GradientMismatchError(
                f"gradient of {name!r} differs from autograd by {diff:.3e} "
                f"(tolerance {limit:.3e} for {auto.dtype})"
            )
    return worst


def _cost_without_check(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    # A model whose cost() checks its own gradients would recurse into us.
    check = getattr(model, "check_grad", False)
    if check:
        model.check_grad = False
    try:
        return model.cost(x, y)
    finally:
        if check:
            model.check_grad = True
