"""Whether the hand-written Functions run their own backward or step aside for stock autograd.

Inside ``with plain_autograd():`` every wrapper of ``nn.functional``, ``nn.conv`` and
``nn.style_losses`` uses stock PyTorch ops that autograd differentiates by itself;
``nn.gradcheck`` holds the hand-written gradients against that.
"""

from __future__ import annotations

import contextlib
import contextvars

import torch

_PLAIN_AUTOGRAD = contextvars.ContextVar("torch_logreg_plain_autograd", default=False)


@contextlib.contextmanager
def plain_autograd():
    """Make ``linear``, ``logistic_cost`` and ``l2_penalty`` use stock autograd ops."""
    token = _PLAIN_AUTOGRAD.set(True)
    try:
        yield
    finally:
        _PLAIN_AUTOGRAD.reset(token)


def _apply(function: type[torch.autograd.Function], *inputs):
    """``function.apply(*inputs)``, or with grad mode off its ``forward`` alone: no graph is being
    recorded, so the same formula runs without the Function's bookkeeping (a third of a small
    evaluation's time)."""
    return function.apply(*inputs) if torch.is_grad_enabled() else function.forward(*inputs)
