"""The models and their math: everything a forward and a hand-written backward pass needs.

- ``functional.py``: the math, written once: formulas, autograd Functions, Hessians, activations.
- ``conv.py``: convolution, max and average pooling, flatten (exported by ``functional``);
  ``conv_formulas.py``: their formulas without autograd.
- ``losses.py``: pointwise losses of an output layer: binomial (sigmoid), multinomial (softmax).
- ``classifier.py``: ``Classifier``, the interface every model offers the trainer.
- ``logistic.py``: ``LogisticRegression`` (2 classes: one neuron; K: softmax).
- ``mlp.py``: ``MLP``, hand-written layers and activations.
- ``cnn.py``: ``CNN``, convolution blocks then a dense head; ``cnn_fast_path.py``: its graph-free
  ``cost_and_grads``.
- ``models.py``: ``MODELS``, the registry a config and a checkpoint name; ``build_model``.
- ``gradcheck.py``: hand-written vs autograd gradients, for any model.

Nothing here imports from ``torch_logreg.data`` or ``torch_logreg.training``.
"""

from . import functional, losses
from .classifier import Classifier, as_classifier
from .cnn import CNN
from .gradcheck import GradientMismatchError, check_gradients
from .logistic import LogisticRegression
from .mlp import MLP
from .models import MODELS, build_model

__all__ = [
    "functional",
    "losses",
    "Classifier",
    "as_classifier",
    "LogisticRegression",
    "MLP",
    "CNN",
    "MODELS",
    "build_model",
    "check_gradients",
    "GradientMismatchError",
]
