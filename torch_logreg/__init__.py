"""torch_logreg: the document's logistic regression as a PyTorch module, and the networks it grows into.

``LogisticRegression`` (one neuron for 2 classes, softmax for K) and ``MLP`` are the
modules; ``functional`` holds the math, written once; ``train`` / ``load_config`` /
``load_model`` / ``save_model`` are the training API; ``document`` and ``reference``
are the document's own API and its per-example loop.

The subpackages: ``nn`` (the models and their math, ``nn.functional``), ``data`` (files,
built-in sets, the split), ``training`` (config, loop, optimizers, checkpoints, logging)
and ``kernels`` (the fused Triton kernel).  ``functional`` here is ``nn.functional``.
"""

import importlib
import importlib.util

# Where each public name lives.  They load on first use (PEP 562), so ``import torch_logreg.cli`` starts
# without importing torch: a Ctrl-C during start-up is then the command line's to report in one line.
_PUBLIC = {
    "functional": ".nn.functional",
    "LogisticRegression": ".nn.logistic",
    "MLP": ".nn.mlp",
    "CNN": ".nn.cnn",
    "check_gradients": ".nn.gradcheck",
    "GradientMismatchError": ".nn.gradcheck",
    "Config": ".training.config",
    "load_config": ".training.config",
    "train": ".training.trainer",
    "TrainResult": ".training.trainer",
    "load_model": ".inference",
    "save_model": ".inference",
    "read_table": ".data.read_table",
    "TorchLogregWarning": ".errors",
    "ConvergenceWarning": ".errors",
    "SeparationWarning": ".errors",
    "DesignWarning": ".errors",
    "IgnoredKeyWarning": ".errors",
}


def __getattr__(name: str):
    if name not in _PUBLIC:
        if (
            importlib.util.find_spec(f"{__name__}.{name}") is not None
        ):  # a subpackage: torch_logreg.data, .stats
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'torch_logreg' has no attribute {name!r}")
    module = importlib.import_module(_PUBLIC[name], __name__)
    value = module if name == "functional" else getattr(module, name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__():
    return sorted({*globals(), *_PUBLIC})


__all__ = [
    "functional",
    "LogisticRegression",
    "MLP",
    "CNN",
    "check_gradients",
    "GradientMismatchError",
    "Config",
    "load_config",
    "train",
    "TrainResult",
    "load_model",
    "save_model",
    "read_table",
    "TorchLogregWarning",
    "ConvergenceWarning",
    "SeparationWarning",
    "DesignWarning",
    "IgnoredKeyWarning",
]
__version__ = "0.1.0"
