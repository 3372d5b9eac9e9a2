"""Logistic regression as an ``nn.Module``: one neuron for 2 classes (the document), K for K."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import functional as LF
from . import sparse as SF
from .classifier import Classifier
from .neuron_logits import fast_logits

INITS = ("zeros", "uniform")


class LogisticRegression(Classifier):
    r"""z = x Wᵀ + b, with the document's hand-written backward.

    Two classes (the document): one neuron, a = σ(z), J = mean(softplus(z) − y·z).
    K >= 3 classes: K neurons and softmax, J = mean(logsumexp(z) − z_y).  Both add
    (l2 / 2m)·‖W‖² on the weights only, so ``cost(x, y).backward()`` fills ``.grad``
    with dW = dzᵀx + (l2/m)W and db = Σdz, dz = (a − y)/m (a − onehot(y) for K), and
    any ``torch.optim`` optimizer can step on it.  With ``l2 = 1/C`` the optimum is
    scikit-learn's ``LogisticRegression(C=C)`` (multinomial for K classes).

    Args:
        in_features: n, the number of features.
        num_classes: 2 (one neuron, sigmoid) or K >= 3 (K neurons, softmax).
        l2: strength of the L2 penalty on the weight (the bias is never penalized).
        init: ``"zeros"`` as in the document, or ``"uniform"`` (U(−1/√n, 1/√n), as nn.Linear).
        check_grad: recompute the gradients of every ``cost`` call with plain autograd
            and raise ``GradientMismatchError`` if they differ (slow; for debugging).

    Shape:
        x: (N, n); y: (N,) class indices (0./1. for 2 classes);
        ``forward`` returns logits (N,) for 2 classes, (N, K) for K.

    Examples::

        >>> model = LogisticRegression(3)
        >>> model(torch.ones(4, 3)).shape
        torch.Size([4])
        >>> LogisticRegression(3, num_classes=5)(torch.ones(4, 3)).shape
        torch.Size([4, 5])
    """

    name = "logistic"
    default_init = "zeros"
    help = "`logistic` (one neuron for 2 classes, softmax over K)"
    coefficient_table = True

    def __init__(
        self,
        in_features: int,
        num_classes: int = 2,
        l2: float = 0.0,
        init: str = "zeros",
        check_grad: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__(in_features, num_classes, l2, check_grad)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.init = init
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(self.out_features, in_features, **factory))  # (1, n) or (K, n)
        self.bias = nn.Parameter(torch.empty(self.out_features, **factory))  # (1,) or (K,)
        self.reset_parameters()

    @classmethod
    def from_config(cls, model_config, sample_shape: tuple[int, ...], num_classes: int) -> LogisticRegression:
        """One weight per feature: an image of (C, H, W) is its C·H·W pixels in a row."""
        return cls(
            math.prod(sample_shape),
            num_classes,
            l2=model_config.l2,
            init=model_config.init or cls.default_init,
        )

    def constructor_args(self) -> dict:
        return {
            "in_features": self.in_features,
            "num_classes": self.num_classes,
            "l2": self.l2,
            "init": self.init,
        }

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.init == "zeros":
                self.weight.zero_()
                self.bias.zero_()
            else:
                bound = 1.0 / math.sqrt(self.in_features)
                self.weight.uniform_(-bound, bound)
                self.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """Logits z = x Wᵀ + b.  x: (N, n) (or ``sparse.SparseRows``) -> (N,) for 2 classes, (N, K) for K."""
        if isinstance(x, SF.SparseRows):  # no autograd through a sparse x: its gradients are cost_and_grads'
            z = SF.linear_forward(x, self.weight.detach(), self.bias.detach())
        elif self.out_features == 1 and (fast := fast_logits(x, self.weight, self.bias)) is not None:
            return fast  # large CPU x without autograd: NumPy's row products read it at x.sum()'s speed
        else:
            z = LF.linear(x, self.weight, self.bias)
        return z.squeeze(-1) if self.out_features == 1 else z

    def penalty(self, rows) -> Tensor:
        """(l2 / 2·rows)·‖W‖²."""
        return LF.l2_penalty(self.weight, self.l2, rows)

    def penalized_parameters(self) -> list[Tensor]:
        return [self.weight]

    def one_neuron_parameters(self) -> tuple[Tensor, Tensor] | None:
        """(W, b) for two classes (one neuron); None for softmax's K."""
        return (self.weight, self.bias) if self.out_features == 1 else None

    # ------------------------------------------------------------ fast paths

    def cost_and_grads(
        self,
        x: Tensor,
        y: Tensor,
        *,
        sample_weight: Tensor | None = None,
        rows=None,
        l2_rows=None,
        with_cost: bool = False,
    ) -> tuple[Tensor | None, tuple[Tensor, Tensor]]:
        """(J or None, (dW, db)) without autograd: the vectorized document loop.  y as ``loss.targets`` gives.

        ``rows`` divides the loss sum (default: the rows here, or Σs); ``l2_rows`` the L2 term
        (default: the same m; a mini-batch passes the full training count).
        """
        weight, bias = self.weight.detach(), self.bias.detach()
        if isinstance(x, SF.SparseRows):  # the same formulas, on CSR products of x and xᵀ
            formula = SF.cost_and_grads
        elif self.out_features > 1:
            formula = LF.softmax_cost_and_grads
        else:
            formula = self._binary_grads(x)
            if formula is not LF.cost_and_grads and sample_weight is None and rows is None:
                # the fused CUDA kernel divides l2 by the batch's m: l2·m/l2_rows gives l2/l2_rows
                l2 = self.l2 if l2_rows is None else self.l2 * len(x) / l2_rows
                value, dweight, dbias = formula(x, y, weight, bias, l2, with_cost=with_cost)
                return value, (dweight, dbias)
            formula = LF.cost_and_grads
        value, dweight, dbias = formula(
            x,
            y,
            weight,
            bias,
            self.l2,
            with_cost=with_cost,
            sample_weight=sample_weight,
            rows=rows,
            l2_rows=l2_rows,
        )
        return value, (dweight, dbias)

    def hessian(self, x: Tensor, *, sample_weight: Tensor | None = None, rows=None, l2_rows=None) -> Tensor:
        """∇²J over the parameters flattened in order ([W row-major, b]).  -> (P, P)."""
        weight, bias = self.weight.detach(), self.bias.detach()
        if isinstance(x, SF.SparseRows):
            formula = SF.hessian
        else:
            formula = LF.hessian if self.out_features == 1 else LF.softmax_hessian
        return formula(x, weight, bias, self.l2, sample_weight=sample_weight, rows=rows, l2_rows=l2_rows)

    def hessian_product(self, x: Tensor, *, sample_weight: Tensor | None = None, rows=None, l2_rows=None):
        """v ↦ ∇²J · v at the current parameters, without forming ∇²J (``sparse.hessian_product``; x dense
        or sparse), over the parameters flattened as ``hessian``'s: (P,) -> (P,).  Newton's conjugate
        gradients use it past the size where a (P, P) Hessian is formed."""
        weight, bias = self.weight.detach(), self.bias.detach()
        k, n = weight.shape
        product = SF.hessian_product(
            x, weight, bias, self.l2, sample_weight=sample_weight, rows=rows, l2_rows=l2_rows
        )

        def flat_product(vector: Tensor) -> Tensor:
            hv_weight, hv_bias = product(vector[: k * n].view(k, n), vector[k * n :])
            return torch.cat([hv_weight.reshape(-1), hv_bias])

        return flat_product

    def null_directions(self) -> Tensor | None:
        """Orthonormal directions (P, r) along which the cost is flat, or None (Newton steps orthogonally).

        Softmax regression gives every class the same probabilities when one constant is
        added to every class's bias (any l2: the bias is not penalized) and, with l2 = 0,
        when one vector is added to every class's weights.  Only these are pinned: with
        l2 > 0 the penalty fixes the common weight shift, and pinning it would move the optimum.
        """
        if self.out_features == 1:
            return None
        k, n = self.weight.shape
        size = k * n + k
        shifts = [torch.arange(k * n, size)]  # every class's bias
        if not self.l2:
            shifts += [torch.arange(j, k * n, n) for j in range(n)]  # feature j's weight in every class
        directions = torch.zeros(size, len(shifts), dtype=self.weight.dtype, device=self.weight.device)
        for column, rows in enumerate(shifts):
            directions[rows.to(directions.device), column] = 1 / math.sqrt(k)
        return directions

    @staticmethod
    def _binary_grads(x: Tensor):
        """``functional.cost_and_grads``, or on CUDA with Triton (supported x) the fused one-pass kernel."""
        if x.is_cuda:
            from .. import kernels

            if kernels.triton_available() and kernels.supports(x):
                return kernels.fused_cost_and_grads
        return LF.cost_and_grads

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, num_classes={self.num_classes}, l2={self.l2}, "
            f"init={self.init!r}"
        )
