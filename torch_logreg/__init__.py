"""torch_logreg: the document's logistic regression as a PyTorch module, and the networks it grows into.

``LogisticRegression`` (one neuron for 2 classes, softmax for K) and ``MLP`` are the
modules; ``functional`` holds the math, written once; ``train`` / ``load_config`` /
``load_model`` / ``save_model`` are the training API; ``document`` and ``reference``
are the document's own API and its per-example loop.

The subpackages: ``nn`` (the models and their math, ``nn.functional``), ``data`` (files,
built-in sets, the split), ``training`` (config, loop, optimizers, checkpoints, logging)
and ``kernels`` (the fused Triton kernel).  ``functional`` here is ``nn.functional``.
"""

from .errors import (ConvergenceWarning, DesignWarning, IgnoredKeyWarning, SeparationWarning,
                     TorchLogregWarning)
from .inference import load_model, save_model
from .nn import functional
from .nn.gradcheck import GradientMismatchError, check_gradients
from .nn.logistic import LogisticRegression
from .nn.mlp import MLP
from .training.config import Config, load_config
from .training.trainer import TrainResult, train

__all__ = [
    "functional", "LogisticRegression", "MLP", "check_gradients", "GradientMismatchError",
    "Config", "load_config", "train", "TrainResult", "load_model", "save_model",
    "TorchLogregWarning", "ConvergenceWarning", "SeparationWarning", "DesignWarning", "IgnoredKeyWarning",
]
__version__ = "0.1.0"
