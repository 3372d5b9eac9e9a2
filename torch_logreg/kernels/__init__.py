"""Fused kernels: optional fast paths, each tested against ``torch_logreg.nn.functional``.

Importing this package never requires triton; ``triton_available()`` says whether the
kernels exist and ``supports(x)`` whether one handles a given input.
"""

from .fused_logistic import FusedOutputs, fused_cost_and_grads, supports, triton_available

__all__ = ["FusedOutputs", "fused_cost_and_grads", "supports", "triton_available"]
