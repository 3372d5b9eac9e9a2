"""torch_logreg: the document's logistic regression as a one-neuron PyTorch module."""

from . import functional
from .gradcheck import GradientMismatchError, check_gradients
from .module import LogisticRegression

__all__ = ["functional", "LogisticRegression", "check_gradients", "GradientMismatchError"]
__version__ = "0.1.0"
