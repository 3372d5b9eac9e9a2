"""torch_logreg: the document's logistic regression as a PyTorch module, and the networks it grows into.

``LogisticRegression`` (one neuron for 2 classes, softmax for K) and ``MLP`` are the
modules; ``functional`` holds the math, written once; ``train`` / ``load_config`` /
``load_model`` / ``save_model`` are the training API; ``document`` and ``reference``
are the document's own API and its per-example loop.

The subpackages: ``nn`` (the models and their math, ``nn.functional``), ``data`` (files,
built-in sets, the split), ``training`` (config, loop, optimizers, checkpoints, logging)
and ``kernels`` (the fused Triton kernel).  ``functional`` here is ``nn.functional``.

The names below are imported on first use (PEP 562), so that ``import torch_logreg.cli``
does not import torch: the command line then answers Ctrl-C during its start-up itself.
"""

import importlib

from .errors import (ConvergenceWarning, DesignWarning, IgnoredKeyWarning, SeparationWarning,
                     TorchLogregWarning)

_LAZY = {
    "load_model": ".inference", "save_model": ".inference", "functional": ".nn",
    "check_gradients": ".nn.gradcheck", "GradientMismatchError": ".nn.gradcheck",
    "LogisticRegression": ".nn.logistic", "MLP": ".nn.mlp", "Config": ".training.config",
    "load_config": ".training.config", "TrainResult": ".training.trainer", "train": ".training.trainer",
}

__all__ = [
    "functional", "LogisticRegression", "MLP", "check_gradients", "GradientMismatchError",
    "Config", "load_config", "train", "TrainResult", "load_model", "save_model",
    "TorchLogregWarning", "ConvergenceWarning", "SeparationWarning", "DesignWarning", "IgnoredKeyWarning",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif not name.startswith("__"):
        try:  # a subpackage or module: torch_logreg.data, torch_logreg.stats, ...
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise  # the module exists; something it imports is missing
            raise AttributeError(f"module 'torch_logreg' has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module 'torch_logreg' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
