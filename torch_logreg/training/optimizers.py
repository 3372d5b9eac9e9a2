"""The optimizers a config can name: one registry entry each, with what it can do and how it is built.

A new optimizer adds one ``OptimizerSpec`` line here (and its class, if torch.optim has none):
the config's ``optimizer.name`` choices, its help text, which ``optimizer.*`` keys apply
(``config.ignored_keys``, TensorBoard's hparams) and the step the trainer takes all follow
from the entry.  What an optimizer can do is its ``optim.Capabilities``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import torch

from . import newton
from .capabilities import PLAIN_TORCH, Capabilities
from .optim import LBFGS, GradientDescent, Newton, default_grad_tol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer: ``build(model, params, settings)`` makes it; ``keys`` are the ``optimizer.*`` keys it
    reads besides ``name`` and ``grad_tol``; ``help`` is its part of ``optimizer.name``'s description."""

    capabilities: Capabilities
    build: Callable
    keys: tuple[str, ...]
    help: str


def _sgd(model, params, settings):
    return torch.optim.SGD(params, lr=settings["lr"], momentum=settings["momentum"])


def _adam(model, params, settings):
    return torch.optim.Adam(params, lr=settings["lr"])


def _lbfgs(model, params, settings):
    return LBFGS(
        params,
        lr=settings["lr"],
        grad_tol=settings["grad_tol"],
        tolerance_change=settings["tolerance_change"],
        history_size=settings["history_size"],
    )


def _newton(model, params, settings):
    """Newton, or lbfgs past ``newton.NEWTON_MAX_FEATURES`` parameters (an n×n solve) for a model without
    ``hessian_product`` (Newton's conjugate gradients need it), with a log line."""
    size = sum(p.numel() for p in params)
    if size > newton.NEWTON_MAX_FEATURES + 1 and not hasattr(model, "hessian_product"):
        logger.warning("newton: %d parameters is too many for an n×n solve; using lbfgs", size)
        return _lbfgs(model, params, settings)
    return Newton(
        model, hessian_rows=settings["hessian_rows"], seed=settings["seed"], grad_tol=settings["grad_tol"]
    )


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "gd": OptimizerSpec(
        GradientDescent.capabilities,
        lambda model, params, settings: GradientDescent(params, lr=settings["lr"]),
        ("lr",),
        "`gd` (w := w − α·dw, by hand)",
    ),
    "sgd": OptimizerSpec(
        Capabilities(fixed_step=True), _sgd, ("lr", "momentum"), "`sgd` (+`optimizer.momentum`)"
    ),
    "adam": OptimizerSpec(PLAIN_TORCH, _adam, ("lr",), "`adam`"),
    "lbfgs": OptimizerSpec(LBFGS.capabilities, _lbfgs, ("lr", "tolerance_change", "history_size"), "`lbfgs`"),
    "newton": OptimizerSpec(
        Newton.capabilities, _newton, ("hessian_rows",), "`newton` (closed-form Hessian, line search)"
    ),
}


def optimizer_names() -> tuple[str, ...]:
    return tuple(OPTIMIZERS)


def optimizers_using(key: str) -> tuple[str, ...]:
    """The optimizers that read ``optimizer.<key>``, in registry order (``grad_tol``: those that iterate to
    convergence; the others stop on ``train.tol``)."""
    if key == "grad_tol":
        return tuple(name for name, spec in OPTIMIZERS.items() if spec.capabilities.iterates_to_convergence)
    return tuple(name for name, spec in OPTIMIZERS.items() if key in spec.keys)


def make_optimizer(
    name: str,
    model,
    lr: float,
    momentum: float = 0.0,
    *,
    hessian_rows: int = 0,
    seed: int = 0,
    grad_tol: float | None = None,
    tolerance_change: float = 0.0,
    history_size: int = 100,
):
    """The optimizer that ``optimizer.name`` asks for, carrying its registry ``capabilities``.  ``newton``
    needs a model with a ``hessian`` and, past ``NEWTON_MAX_FEATURES`` parameters, one with a
    ``hessian_product`` (else it falls back to lbfgs)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}")
    params = list(model.parameters())
    settings = {
        "lr": lr,
        "momentum": momentum,
        "hessian_rows": hessian_rows,
        "seed": seed,
        "grad_tol": grad_tol if grad_tol is not None else default_grad_tol(params[0].dtype),
        "tolerance_change": tolerance_change,
        "history_size": history_size,
    }
    optimizer = OPTIMIZERS[name].build(model, params, settings)
    if "capabilities" not in vars(type(optimizer)):  # torch.optim's own classes: the registry says
        optimizer.capabilities = OPTIMIZERS[name].capabilities
    return optimizer
