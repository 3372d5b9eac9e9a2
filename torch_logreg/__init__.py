"""torch_logreg: the document's logistic regression as a one-neuron PyTorch module.

``LogisticRegression`` is the module; ``functional`` holds the math, written once;
``train`` / ``load_config`` / ``load_model`` / ``save_model`` are the training API; ``document`` and
``reference`` are the document's own API and its per-example loop.
"""

from . import functional
from .config import Config, load_config
from .gradcheck import GradientMismatchError, check_gradients
from .inference import load_model, save_model
from .module import LogisticRegression
from .trainer import TrainResult, train

__all__ = [
    "functional", "LogisticRegression", "check_gradients", "GradientMismatchError",
    "Config", "load_config", "train", "TrainResult", "load_model", "save_model",
]
__version__ = "0.1.0"
