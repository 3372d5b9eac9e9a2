"""torch_logreg: the document's logistic regression as a PyTorch module, and the networks it grows into.

``LogisticRegression`` (one neuron for 2 classes, softmax for K) and ``MLP`` are the
modules; ``functional`` holds the math, written once; ``train`` / ``load_config`` /
``load_model`` / ``save_model`` are the training API; ``document`` and ``reference``
are the document's own API and its per-example loop.
"""

from . import functional
from .config import Config, load_config
from .gradcheck import GradientMismatchError, check_gradients
from .inference import load_model, save_model
from .mlp import MLP
from .module import LogisticRegression
from .trainer import TrainResult, train

__all__ = [
    "functional", "LogisticRegression", "MLP", "check_gradients", "GradientMismatchError",
    "Config", "load_config", "train", "TrainResult", "load_model", "save_model",
]
__version__ = "0.1.0"
