"""A multi-layer perceptron built from the same hand-written parts as logistic regression.

For L layers (L − 1 hidden, then the output layer), x (m, n) = A[0]:

    Z[l] = A[l−1] W[l]ᵀ + b[l]                     (m, n_l), W[l]: (n_l, n_{l−1}), b[l]: (n_l,)
    A[l] = g(Z[l])                                 l < L; g = sigmoid, tanh or relu
    J    = (1/m) Σ ℓ(Z[L], y) + (l2 / 2m)·Σₗ ‖W[l]‖²

with ℓ the output layer's loss (``losses``): one sigmoid neuron for 2 classes, softmax
over K neurons for K.  Backward, the document's dz = a − y carried down layer by layer:

    dZ[L]   = ∂J/∂Z[L]                             the loss's (a − y)/m, (m, n_L)
    dW[l]   = dZ[l]ᵀ A[l−1] + (l2/m)·W[l]          (n_l, n_{l−1})
    db[l]   = Σ_rows dZ[l]                         (n_l,)
    dA[l−1] = dZ[l] W[l]                           (m, n_{l−1})
    dZ[l−1] = dA[l−1] ⊙ g′(Z[l−1])                 g′ written from A[l−1]

Every line is a ``functional`` formula: ``linear_forward`` / ``linear_backward``, the
activations' ``*_backward``, ``l2_backward``, and the loss's ``cost_backward``.
``MLP.cost(x, y).backward()`` runs them through the autograd Functions;
``MLP.cost_and_grads`` calls them directly, without an autograd graph.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, Field
from torch import Tensor, nn

from . import functional as LF
from .classifier import Classifier

INITS = ("uniform", "xavier", "he")

# The fast path calls each activation's derivative from ``functional.ACTIVATION_FUNCTIONS``
# directly, and applies g in place on Z[l]: the backward needs only A[l] = g(Z[l]).
_IN_PLACE = {"sigmoid": torch.sigmoid_, "tanh": torch.tanh_, "relu": torch.relu_}


class Linear(nn.Module):
    """z = x Wᵀ + b through ``functional.linear`` (the hand-written backward).

    Shape: x (N, in_features) -> z (N, out_features); ``weight`` (out_features, in_features)
    and ``bias`` (out_features,), as ``nn.Linear``.  Its owner sets the values (``MLP.reset_parameters``).
    """

    def __init__(self, in_features: int, out_features: int, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory))

    def forward(self, x: Tensor) -> Tensor:
        return LF.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class MLPKeys(BaseModel):
    """The ``model.*`` keys an MLP reads (and any model whose dense head is one)."""

    hidden: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [4],
        description="the hidden layers' widths, e.g. `[16, 8]`",
        min_length=1,
        json_schema_extra={"expected": "a non-empty list of integers >= 1", "kind": "a list of integers"},
    )
    activation: Literal["tanh", "relu", "sigmoid"] = Field("tanh", description="`tanh`, `relu` or `sigmoid`")


class MLP(Classifier):
    r"""x -> [Linear -> g] × len(hidden) -> Linear -> logits, with a hand-written backward.

    The output layer has one neuron for 2 classes (sigmoid cost) and K for K classes
    (softmax cost), the losses that ``LogisticRegression`` uses.  The layers are the
    submodules ``layer1``, ``layer2``, …, ``layer{len(hidden) + 1}`` (the output layer),
    so ``parameters()`` is layer1.weight, layer1.bias, layer2.weight, ….

    Args:
        in_features: n, the number of features.
        hidden: the hidden layers' widths, e.g. ``(16, 8)``; non-empty, each >= 1.
        num_classes: 2 (one output neuron, sigmoid) or K >= 3 (K neurons, softmax).
        activation: ``"tanh"``, ``"relu"`` or ``"sigmoid"``, between every two layers.
        l2: strength of the L2 penalty on every weight matrix (never on a bias); see ``penalty``.
        init: ``"uniform"`` (nn.Linear's: U(±1/√fan_in) for weights and biases),
            ``"xavier"`` (Glorot uniform weights, U(±√(6/(fan_in + fan_out))), zero biases;
            suits tanh and sigmoid) or ``"he"`` (Kaiming normal weights, N(0, 2/fan_in),
            zero biases; suits relu).  ``"zeros"`` is refused: see ``reset_parameters``.
        check_grad: recompute the gradients of every ``cost`` call with plain autograd
            and raise ``GradientMismatchError`` if they differ (slow; for debugging).

    Shape:
        x: (N, n); y: (N,) class indices (0./1. for 2 classes);
        ``forward`` returns logits (N,) for 2 classes, (N, K) for K.

    Examples::

        >>> model = MLP(2, hidden=(4,))
        >>> model(torch.ones(5, 2)).shape
        torch.Size([5])
        >>> [name for name, _ in MLP(2, hidden=(16, 8), num_classes=3).named_parameters()][:3]
        ['layer1.weight', 'layer1.bias', 'layer2.weight']
    """

    name = "mlp"
    default_init = "uniform"
    layered = True
    help = "`mlp` (`model.hidden` layers)"
    keys = MLPKeys

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (4,),
        num_classes: int = 2,
        activation: str = "tanh",
        l2: float = 0.0,
        init: str = "uniform",
        check_grad: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__(in_features, num_classes, l2, check_grad)
        self.hidden = _hidden_widths(hidden)
        if activation not in LF.ACTIVATIONS:
            raise ValueError(
                f"model.activation must be one of {', '.join(LF.ACTIVATIONS)}, got {activation!r}"
            )
        if init == "zeros":
            raise ValueError(
                "model.init=zeros cannot train a network with hidden layers: every hidden unit would "
                "compute the same value and receive the same gradient, so they would stay identical "
                "forever (the symmetry problem). Use model.init=uniform, xavier or he."
            )
        if init not in INITS:
            raise ValueError(f"model.init must be one of {', '.join(INITS)} for an MLP, got {init!r}")
        self.activation, self.init = activation, init
        widths = (self.in_features, *self.hidden, self.out_features)
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            self.add_module(f"layer{index}", Linear(fan_in, fan_out, device=device, dtype=dtype))
        self.reset_parameters()

    @classmethod
    def from_config(cls, model_config, sample_shape: tuple[int, ...], num_classes: int) -> "MLP":
        """The first layer takes every feature: an image of (C, H, W) is its C·H·W pixels in a row."""
        return cls(
            math.prod(sample_shape),
            tuple(model_config.hidden),
            num_classes,
            activation=model_config.activation,
            l2=model_config.l2,
            init=model_config.init or cls.default_init,
        )

    def constructor_args(self) -> dict:
        return {
            "in_features": self.in_features,
            "hidden": list(self.hidden),
            "num_classes": self.num_classes,
            "activation": self.activation,
            "l2": self.l2,
            "init": self.init,
        }

    @property
    def layers(self) -> list[Linear]:
        """The linear layers in order, the output layer last."""
        return list(self.children())

    def reset_parameters(self) -> None:
        """Draw every layer's weight and bias by ``self.init``.

        There is no zeros option: with equal weights, every unit of a hidden layer computes
        the same activation and gets the same gradient, so gradient descent keeps them equal
        and the layer acts as one unit.  Random weights break that symmetry.
        """
        with torch.no_grad():
            for layer in self.layers:
                if self.init == "uniform":  # nn.Linear's reset_parameters
                    bound = 1.0 / math.sqrt(layer.in_features)
                    layer.weight.uniform_(-bound, bound)
                    layer.bias.uniform_(-bound, bound)
                else:
                    if self.init == "xavier":
                        nn.init.xavier_uniform_(layer.weight)
                    else:  # "he"
                        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                    layer.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        """Logits.  x: (N, n) -> (N,) for 2 classes, (N, K) for K."""
        *hidden_layers, output_layer = self.layers
        a = x
        for layer in hidden_layers:
            a = LF.activation(self.activation, layer(a))  # (N, n_l)
        z = output_layer(a)  # (N, 1) or (N, K)
        return z.squeeze(-1) if self.out_features == 1 else z

    def penalty(self, rows) -> Tensor:
        """(l2 / 2·rows)·Σₗ ‖W[l]‖², the sum over every weight matrix W[l] (n_l, n_{l−1}), no bias.  -> ().

        ``rows`` is m, the full training count (or Σ sample weights), also for a mini-batch,
        so every optimizer minimizes one objective.  This is the deep-learning course's L2
        regularization with λ = l2, and for full-batch training scikit-learn's
        ``MLPClassifier(alpha=l2)`` (which adds alpha/(2m)·Σ‖W‖² to its mean loss).
        """
        return sum(LF.l2_penalty(layer.weight, self.l2, rows) for layer in self.layers)

    def penalized_parameters(self) -> list[Tensor]:
        return [layer.weight for layer in self.layers]

    # ------------------------------------------------------------ fast path

    def cost_and_grads(
        self,
        x: Tensor,
        y: Tensor,
        *,
        sample_weight: Tensor | None = None,
        rows=None,
        l2_rows=None,
        with_cost: bool = False,
    ) -> tuple[Tensor | None, tuple[Tensor, ...]]:
        """(J or None, (dW[1], db[1], dW[2], db[2], …)) without autograd; y as ``loss.targets`` gives.

        The equations of the module docstring, vectorized over the rows: one forward pass
        that keeps every A[l], then the backward pass from the output layer down.  The L2
        term uses ``l2_rows`` (default: the rows here, or Σ sample weights); ``rows`` divides the
        loss sum (default: the same).
        """
        m, l2_m = LF.normalizers(x, sample_weight, rows, l2_rows)
        function = LF.ACTIVATION_FUNCTIONS[self.activation]
        params = [(layer.weight.detach(), layer.bias.detach()) for layer in self.layers]

        activations = [x]  # A[0], A[1], …, A[L−1]
        for index, (weight, bias) in enumerate(params[:-1]):
            # Z[l] into a buffer kept from the last step: a fresh (m, width) tensor a step costs
            # its page faults again each time, which on 100k rows outweighs the arithmetic.
            z_hidden = LF.linear_forward(
                activations[-1], weight, bias, out=self._scratch(("z", index), (len(x), weight.shape[0]), x)
            )
            activations.append(_IN_PLACE[self.activation](z_hidden))
        z = LF.linear_forward(activations[-1], *params[-1])  # Z[L]: (m, 1) or (m, K)

        value = self.loss.cost_forward(z, y, m, sample_weight) if with_cost else None
        dz = self.loss.cost_backward(z, y, m, sample_weight)  # dZ[L], shaped like z
        grads = []
        for index in range(len(params) - 1, -1, -1):
            weight, bias = params[index]
            a_previous = activations[index]
            da_buffer = self._scratch(("da", index), a_previous.shape, x) if index > 0 else None
            da_previous, dweight, dbias = LF.linear_backward(
                dz, a_previous, weight, need_x=index > 0, dx_out=da_buffer
            )
            if self.l2:
                dweight = dweight.add_(LF.l2_backward(weight, self.l2, l2_m))
                if with_cost:
                    value = value + LF.l2_forward(weight, self.l2, l2_m)
            grads[:0] = [dweight, dbias]
            if index > 0:
                # dZ[l−1] = dA[l−1] ⊙ g′(Z[l−1]), in place over dA[l−1]
                dz = function.derivative(da_previous, a_previous, out=da_previous)
        return value, tuple(grads)

    def _scratch(self, key: tuple, shape: tuple, like: Tensor) -> Tensor:
        """A buffer of ``shape`` for the fast path, kept between calls (never part of the state)."""
        cache = self.__dict__.setdefault("_fast_path_buffers", {})
        buffer = cache.get(key)
        if (
            buffer is None
            or buffer.shape != shape
            or buffer.dtype != like.dtype
            or buffer.device != like.device
        ):
            buffer = cache[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return buffer

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden={list(self.hidden)}, num_classes={self.num_classes}, "
            f"activation={self.activation!r}, l2={self.l2}, init={self.init!r}"
        )


def _hidden_widths(hidden) -> tuple[int, ...]:
    """``hidden`` as a tuple of ints, or ValueError naming ``model.hidden``."""
    problem = f"model.hidden must be a non-empty list of layer widths, each an integer >= 1, got {hidden!r}"
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence) or len(hidden) == 0:
        raise ValueError(problem)
    widths = []
    for width in hidden:
        if isinstance(width, bool):
            raise ValueError(problem)
        try:
            width = operator.index(width)
        except TypeError:
            raise ValueError(problem) from None
        if width < 1:
            raise ValueError(problem)
        widths.append(width)
    return tuple(widths)
