"""The estimators' warnings: the project's classes that are also scikit-learn's ``ConvergenceWarning``.

A user's ``warnings.filterwarnings("ignore", category=sklearn.exceptions.ConvergenceWarning)``
silences ours as it silences scikit-learn's, and ``torch_logreg.errors``' classes still match.
During ``fit`` the trainer's own warnings (its ``TorchLogregWarning`` classes, or the lines it
records in ``metrics["warnings"]``) are caught and said once, in the estimator's words:
``max_iter``, ``tol``, ``l2``, ``lr`` instead of the config keys.
"""

from __future__ import annotations

import re
import warnings

from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

from . import errors


class NotConvergedWarning(errors.ConvergenceWarning, SklearnConvergenceWarning):
    """The fit stopped before ``tol`` was met (``max_iter`` reached), stalled, or its cost rose: both
    the project's and scikit-learn's class, so either's filters catch it."""


class SeparatedWarning(errors.SeparationWarning, SklearnConvergenceWarning):
    """The training rows are separable: without ``l2`` the weights grow without bound (as scikit-learn's)."""


# Config key -> the estimator's parameter, longest first so "train.tol" is not read as "tol".
_PARAMETER_NAMES = [
    (r"data\.standardize=true", "a StandardScaler in a Pipeline"),
    (r"train\.iterations", "max_iter"),
    (r"optimizer\.grad_tol=1e-30\b", "tol=0"),  # sklearn_base.TOL_NEVER_MET, what tol=0 sets
    (r"optimizer\.grad_tol", "tol"),
    (r"train\.tol", "tol"),
    (r"optimizer\.lr", "lr"),
    (r"model\.l2", "l2"),
    (r"optimizer\.name", "optimizer"),
    (r"train\.batch_size", "batch_size"),
    (r"train\.device", "device"),
    (r"train\.dtype", "dtype"),
    (r"model\.(hidden|activation|init)\b", r"\1"),
    (r"\bnull\b", "None"),
]


def in_estimator_words(line: str) -> str:
    """A trainer's warning or error line with its config keys replaced by the estimator's parameter names."""
    for key, name in _PARAMETER_NAMES:
        line = re.sub(key, name, line)
    return line


def category_of(line: str, category: type | None = None) -> type[Warning]:
    """The estimator's class for a trainer warning: the trainer's class if it gave one, else by its words."""
    if category is not None and issubclass(category, errors.SeparationWarning) or "separa" in line:
        return SeparatedWarning
    if (
        category is not None
        and issubclass(category, errors.ConvergenceWarning)
        or any(words in line for words in ("did not converge", "did not settle", "stalled", "cost rose"))
    ):
        return NotConvergedWarning
    if (
        category is not None
        and issubclass(category, errors.DesignWarning)
        or any(words in line for words in ("constant", "duplicate", "singular", "dependent"))
    ):
        return errors.DesignWarning
    return errors.TorchLogregWarning


def say(lines: list[tuple[str, type | None]], stacklevel: int = 3) -> None:
    """Warn each distinct line once, in the estimator's words and class."""
    seen = set()
    for line, category in lines:
        text = in_estimator_words(line)
        if text not in seen:
            seen.add(text)
            warnings.warn(text, category_of(line, category), stacklevel=stacklevel)
