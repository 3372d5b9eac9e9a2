"""What every model offers the trainer, the optimizers, checkpoints and ``predict``.

A model is an ``nn.Module`` that maps x (N, n) to logits and names its output
layer's pointwise loss (``losses``).  From those two, this base class gives the
rest of the interface once for every model:

* ``cost(x, y)``: the mean loss plus the model's L2 penalty, through the
  hand-written autograd Functions, so ``cost(x, y).backward()`` runs the
  document's equations;
* ``predict_proba(x)`` and ``predict(x)``, without an autograd graph, on tensors
  or numpy arrays;
* ``constructor_args()``, so a checkpoint can rebuild the model (``models``).

Optionally a model adds ``cost_and_grads`` (its gradients without autograd: the
trainer's fast path) and ``hessian`` (which Newton's method needs).  The trainer
asks whether a model has them; it never asks what class the model is.  What the
trainer and the optimizers ask besides, each model answers for itself:
``penalized_parameters()`` (the weights the L2 term and ``train/weight_norm`` cover),
``one_neuron_parameters()`` ((W, b) when Newton may use its one-neuron fast paths) and
``layered`` (a network whose graph and per-layer gradients are worth showing).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from pydantic import BaseModel
from torch import Tensor, nn

from .losses import loss_for


class Classifier(nn.Module):
    """Base of the models: ``forward`` returns logits, (N,) for 2 classes, (N, K) for K.

    Subclasses set ``name`` (their key in ``models.MODELS`` and in ``model.name``),
    ``default_init``, and implement ``forward``, ``penalty(l2_rows)`` (the L2 term) and
    ``constructor_args()``.
    """

    name: ClassVar[str]
    default_init: ClassVar[str]
    layered: ClassVar[bool] = False  # a network: TensorBoard shows its graph and per-layer gradients
    help: ClassVar[str] = ""  # its part of ``model.name``'s description
    init_help: ClassVar[str] = ""  # its default ``model.init`` in words, when more than ``default_init``
    # Its own ``model.*`` keys (those beyond name, init, l2, check_grad, class_weight), declared as a small
    # pydantic model beside it: type, default, range and help.  The config, its README table, --help,
    # ``ignored_keys`` and the TensorBoard hparams are built from these declarations.
    keys: ClassVar[type[BaseModel] | None] = None
    config_keys: ClassVar[tuple[str, ...]] = ()  # the names ``keys`` declares (set by __init_subclass__)
    coefficient_table: ClassVar[bool] = False  # ``train.summary`` can tabulate its [W, b] (with a Hessian)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.config_keys = tuple(cls.keys.model_fields) if cls.keys is not None else ()

    def __init__(self, in_features: int, num_classes: int, l2: float, check_grad: bool):
        super().__init__()
        if in_features < 1:
            raise ValueError(f"in_features must be >= 1, got {in_features}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.in_features, self.num_classes = int(in_features), int(num_classes)
        self.l2 = float(l2)
        self.check_grad = check_grad
        self.loss = loss_for(num_classes)
        self.out_features = self.loss.outputs(num_classes)

    # ------------------------------------------------------------ the interface

    def cost(
        self, x: Tensor, y: Tensor, *, sample_weight: Tensor | None = None, rows=None, l2_rows=None
    ) -> Tensor:
        """J = (1/m) Σ s·ℓ(z, y) + the L2 term over ``l2_rows``.  -> ().

        m is ``rows`` when given (a worker of several passes the global count), else this
        batch's count or Σs; ``l2_rows`` defaults to m (inf leaves the L2 term out).
        """
        if self.check_grad and torch.is_grad_enabled():
            from .gradcheck import check_gradients  # local: only debugging needs it

            check_gradients(self, x, y)
        value = self.loss.cost(self(x), y, sample_weight)
        here = x.shape[0] if sample_weight is None else sample_weight.sum()
        if rows is not None:
            value = value * (here / rows)  # the mean over ``here`` rows, as a share of ``rows``
        if self.l2:
            value = value + self.penalty(
                l2_rows if l2_rows is not None else (rows if rows is not None else here)
            )
        return value

    def penalty(self, rows) -> Tensor:
        raise NotImplementedError

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: (n,) for a row of n features; a model of images says (C, H, W)."""
        return (self.in_features,)

    def penalized_parameters(self) -> list[Tensor]:
        """The weights (not the biases): what the L2 term covers and ``train/weight_norm`` measures."""
        return [p for name, p in self.named_parameters() if not name.endswith("bias")]

    def one_neuron_parameters(self) -> tuple[Tensor, Tensor] | None:
        """(W (1, n), b (1,)) when the logits are x Wᵀ + b of one neuron, so Newton may step on θ = [W, b]
        with ``functional``'s one-neuron formulas; None otherwise."""
        return None

    @torch.no_grad()
    def predict_proba(self, x) -> Tensor:
        """P(class 1) (N,) for 2 classes; (N, K) rows that sum to 1 for K.  x: (N, n) tensor or array."""
        return self.loss.proba(self(self._as_input(x)))

    @torch.no_grad()
    def predict(self, x, threshold: float = 0.5) -> Tensor:
        """Class indices (N,) int64: σ(z) > threshold for 2 classes, the argmax for K."""
        return self.loss.predict(self(self._as_input(x)), threshold)

    def constructor_args(self) -> dict:
        raise NotImplementedError

    # ------------------------------------------------------------ helpers

    def _as_input(self, x) -> Tensor:
        reference = next(self.parameters())
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(x)
        return torch.as_tensor(x).to(device=reference.device, dtype=reference.dtype)


class LogitsModel(Classifier):
    """Any module that maps x (N, n) to logits, (N,) for 2 classes or (N, K), as a ``Classifier``.

    It trains through autograd with the loss its output implies and no L2 term; a
    checkpoint cannot rebuild it (it is not in ``models.MODELS``).
    """

    name = "custom"
    default_init = "custom"
    layered = True  # nothing is known of the module: show its graph and gradients by name

    def __init__(self, module: nn.Module, in_features: int, num_classes: int = 2):
        super().__init__(in_features, num_classes, l2=0.0, check_grad=False)
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x)

    def constructor_args(self) -> dict:
        return {"module": type(self.module).__name__}


def as_classifier(model: nn.Module, in_features: int, num_classes: int) -> Classifier:
    """``model`` itself when it offers the ``Classifier`` interface, else wrapped in ``LogitsModel``."""
    if all(hasattr(model, attribute) for attribute in ("loss", "cost", "predict_proba", "constructor_args")):
        return model
    return LogitsModel(model, in_features, num_classes)
