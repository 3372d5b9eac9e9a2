"""What an optimizer declares it can do: ``steps`` and the trainer ask this, never the optimizer's class."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """What an optimizer needs and does; ``steps`` and the trainer ask these, never its class.

    needs_closure: ``step(closure)`` re-evaluates the cost itself (a line search), as torch's L-BFGS.
    needs_data: it reads the rows themselves (a Hessian): ``set_data(x, y, sample_weight, l2_rows)``
        then ``step()``, or both at once with ``step_on(x, y, sample_weight, l2_rows)``.
    iterates_to_convergence: it sets ``converged`` and ``stalled`` after each step; the run stops there.
    has_lr: it reads ``param_groups[g]["lr"]``.
    plain_update: its step is p := p − lr·∇p and nothing else, so a step may apply it inline.
    fixed_step: the step is lr times the gradient (with or without momentum): a rising cost means lr is
        too large.
    needs_model: the model methods it cannot work without (``hessian``).
    """

    needs_closure: bool = False
    needs_data: bool = False
    iterates_to_convergence: bool = False
    has_lr: bool = True
    plain_update: bool = False
    fixed_step: bool = False
    needs_model: tuple[str, ...] = ()


# A torch.optim optimizer that steps on the gradients in ``p.grad`` (adam; sgd built without the registry).
PLAIN_TORCH = Capabilities()


def capabilities(optimizer) -> Capabilities:
    """What ``optimizer`` declares (its class's or, for torch.optim's own, the registry's), else
    ``PLAIN_TORCH``."""
    return getattr(optimizer, "capabilities", PLAIN_TORCH)
