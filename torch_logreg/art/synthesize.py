"""The optimization of the image's pixels: L-BFGS or Adam on the hand-computed loss and gradient.

No autograd graph is built: each evaluation calls ``Objective.loss_and_grad`` under ``no_grad`` and
sets ``image.grad`` by hand; ``torch.optim.LBFGS`` (strong-Wolfe line search) or ``Adam`` only read
it.  ``iterations`` counts function evaluations, as neural-style does for L-BFGS (one per Adam step).

Coarse to fine (``scales`` > 1): the first scale solves at size/2^(scales−1), each next one starts
from the previous result upsampled ×2 and refines it at twice the size.  The coarse solve is cheap
(a quarter of the pixels per halving) and places the large structures, so the full-size scale only
has to add detail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..errors import TrainingDiverged
from . import images
from .config import ArtConfig
from .layers import FeatureNetwork
from .objective import Objective, Weights, autograd_gradient

logger = logging.getLogger(__name__)


class GradientCheckFailed(TrainingDiverged):
    """``art.check_grad``: the hand-written image gradient disagrees with autograd's."""


class _BudgetSpent(Exception):
    """L-BFGS asked for an evaluation beyond ``art.iterations``."""


class StopRequested(Exception):
    """Raised from inside an evaluation when a signal asked the run to stop (the image is kept)."""


@dataclass
class Progress:
    """Where a run stands: the scale, the evaluations done in it, the losses seen."""

    scale: int = 0
    iteration: int = 0  # evaluations done at this scale
    step: int = 0  # evaluations done over all scales: TensorBoard's step
    initial: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    adam: torch.optim.Adam | None = None  # the optimizer whose moments a checkpoint keeps (Adam only)


def scale_sizes(size: int, scales: int) -> list[int]:
    """Longest side at each scale, coarse to fine: size/2^(scales−1), …, size."""
    return [max(16, size // 2 ** (scales - 1 - index)) for index in range(scales)]


def start_image(
    config: ArtConfig, shape, content: torch.Tensor | None, generator: torch.Generator
) -> torch.Tensor:
    """Noise (mid-grey ± 0.1, Gaussian) or the content image."""
    init = config.init or ("content" if content is not None else "noise")
    if init == "content" and content is not None:
        return content.clone()
    return (0.5 + 0.1 * torch.randn(shape, generator=generator)).to(
        content.dtype if content is not None else torch.float32
    )


def check_gradient(objective: Objective, image: torch.Tensor, hand: torch.Tensor) -> float:
    """The largest |hand − autograd| of the image gradient; raises when beyond float rounding."""
    auto = autograd_gradient(objective, image)
    difference = float((hand - auto).abs().max())
    scale = float(auto.abs().max())
    limit = (1e-10 if image.dtype == torch.float64 else 1e-4) * max(scale, 1e-30) + 1e-12
    logger.info(
        "check_grad: hand-written vs autograd image gradient, largest difference %.3e (largest entry %.3e)",
        difference,
        scale,
    )
    if not difference <= limit:
        raise GradientCheckFailed(
            f"art.check_grad: the hand-written image gradient differs from autograd's "
            f"by {difference:.3e} (tolerance {limit:.3e})"
        )
    return difference


def optimize(
    objective: Objective,
    image: torch.Tensor,
    config: ArtConfig,
    progress: Progress,
    on_evaluation: Callable[[torch.Tensor, dict[str, float], Progress], None],
    adam_state: dict | None = None,
) -> torch.Tensor:
    """Run ``config.iterations − progress.iteration`` evaluations from ``image``; returns the image.

    ``on_evaluation(image, losses, progress)`` runs after each one (logging, saving, stopping).
    L-BFGS's line search may ask for more evaluations than are left; the budget is kept exactly by
    stopping it there, with the last image evaluated (whose losses were the last reported).
    """
    image = image.detach().clone().requires_grad_(True)
    remaining = config.iterations - progress.iteration
    if remaining <= 0:
        return image.detach()
    checked = not config.check_grad or progress.step > 0
    last = image.detach().clone()

    def evaluate() -> torch.Tensor:
        nonlocal checked, last
        if progress.iteration >= config.iterations:
            raise _BudgetSpent
        last = image.detach().clone()
        total, parts, grad = objective.loss_and_grad(image.detach())
        if not checked:
            check_gradient(objective, image.detach(), grad)
            checked = True
        losses = {"total": float(total), **{name: float(value) for name, value in parts.items()}}
        if not torch.isfinite(total):
            raise TrainingDiverged(
                f"the loss became {losses['total']} at iteration {progress.iteration}; "
                f"lower art.lr or the weights"
            )
        image.grad = grad
        progress.iteration += 1
        progress.step += 1
        on_evaluation(image.detach(), losses, progress)
        return total

    if config.optimizer == "lbfgs":
        optimizer = _lbfgs(image, remaining)
        try:
            while progress.iteration < config.iterations:  # each step evaluates at least once
                optimizer.step(evaluate)
        except _BudgetSpent:
            return last
    else:
        optimizer = torch.optim.Adam([image], lr=config.lr)
        if adam_state is not None:
            optimizer.load_state_dict(adam_state)
        progress.adam = optimizer
        while progress.iteration < config.iterations:
            optimizer.step(evaluate)
    return image.detach()


def _lbfgs(image: torch.Tensor, evaluations: int) -> torch.optim.LBFGS:
    """L-BFGS with a strong-Wolfe line search over the image's pixels, stopped by the evaluation budget alone
    (no tolerance ends it early)."""
    return torch.optim.LBFGS(
        [image],
        lr=1,
        max_iter=evaluations,
        max_eval=2 * evaluations,
        history_size=100,
        tolerance_grad=0,
        tolerance_change=0,
        line_search_fn="strong_wolfe",
    )


def stylize_image(
    network: FeatureNetwork,
    config: ArtConfig,
    styles: list,
    content,
    *,
    on_evaluation=None,
    progress: Progress | None = None,
    image=None,
    adam_state=None,
):
    """Synthesize at each scale, coarse to fine; ``styles``, ``content`` are PIL pictures (content: or None).

    Returns (image (1, 3, H, W) in [0, 1] before clamping, progress).  ``image``/``progress`` resume a run.
    """
    progress = progress or Progress()
    report = on_evaluation or (lambda image, losses, progress: None)
    dtype = getattr(torch, config.dtype)
    network.to(dtype)
    generator = torch.Generator().manual_seed(config.seed)
    blend = config.style_blend or [1.0] * len(styles)
    weights = Weights(
        config.content_weight if content is not None else 0.0, config.style_weight, config.tv_weight
    )
    sizes = scale_sizes(config.size, config.scales)
    started = time.perf_counter() - progress.seconds

    def on_evaluation(image, losses, progress):
        progress.seconds = time.perf_counter() - started  # so that a checkpoint carries the time spent
        report(image, losses, progress)

    for index in range(progress.scale, len(sizes)):
        progress.scale = index
        target = images.to_tensor(content, sizes[index]).to(dtype) if content is not None else None
        style_tensors = [
            images.to_tensor(style, max(16, round(sizes[index] * config.style_scale))).to(dtype)
            for style in styles
        ]
        shape = target.shape if target is not None else _texture_shape(style_tensors[0], sizes[index])
        if image is None:
            image = start_image(config, shape, target, generator).to(dtype)
        elif tuple(image.shape) != tuple(shape):
            image = images.resize(image, shape[-2], shape[-1])
        objective = Objective(network, weights, style_tensors, blend, target)
        image = optimize(objective, image, config, progress, on_evaluation, adam_state)
        adam_state = None
        if index + 1 < len(sizes):
            progress.iteration = 0
    progress.seconds = time.perf_counter() - started
    return image, progress


def _texture_shape(style: torch.Tensor, longest_side: int) -> tuple[int, int, int, int]:
    """A texture takes the style image's proportions at ``longest_side``."""
    height, width = style.shape[-2:]
    scale = longest_side / max(height, width)
    return 1, 3, max(16, round(height * scale)), max(16, round(width * scale))
