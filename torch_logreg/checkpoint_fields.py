"""What each field of a checkpoint must hold, checked once when it is loaded.

``weights_only=True`` keeps code out, but a file written by hand (or by another tool) can
still hold ``iteration: "abc"``, a weight of the wrong shape or dtype, or no optimizer
state.  ``check_fields`` names the checkpoint and the first field that is wrong, in one
line, before any of it is used; the model's own shapes are checked against its
architecture when the model is rebuilt (``saved_model``) or restored (the trainer).
"""

from __future__ import annotations

import math
import numbers

import torch

from .errors import CheckpointError

MAX_SHOWN = 60  # characters of a bad value shown in a message


def check_fields(state: dict, path) -> None:
    """Raise CheckpointError naming ``path`` and the field when a present field has the wrong type."""
    _check_weights(state, path)
    _check_run_fields(state, path)
    _check_data_fields(state, path)


def _fail(path, field: str, expected: str, value) -> None:
    raise CheckpointError(f"{path}: field {field!r} must be {expected}, got {_shown(value)}")


def _check_weights(state: dict, path) -> None:
    """``model``: a mapping of names to finite floating-point tensors."""
    weights = state["model"]
    if not isinstance(weights, dict) or not weights:
        _fail(path, "model", "a mapping of parameter names to tensors", weights)
    for key, value in weights.items():
        if not isinstance(key, str) or not torch.is_tensor(value) or not value.is_floating_point():
            _fail(path, f"model.{key}", "a floating-point tensor", value)
        if not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{path}: field 'model.{key}' holds NaN or infinite entries")


def _check_run_fields(state: dict, path) -> None:
    """What a resume restores and checks: the iteration, seconds, config, optimizer, rng, history and
    data fingerprint."""
    if "iteration" in state and not (_is_int(state["iteration"]) and state["iteration"] >= 0):
        _fail(path, "iteration", "a whole number >= 0", state["iteration"])
    if "seconds" in state and not (
        _is_real(state["seconds"]) and math.isfinite(state["seconds"]) and state["seconds"] >= 0
    ):
        _fail(path, "seconds", "a finite number >= 0", state["seconds"])
    for field in ("config", "optimizer", "rng", "history", "data_fingerprint"):  # architecture: saved_model
        if field in state and state[field] is not None and not isinstance(state[field], dict):
            _fail(path, field, "a mapping", state[field])
    optimizer = state.get("optimizer")
    if isinstance(optimizer, dict) and not (
        isinstance(optimizer.get("state"), dict) and isinstance(optimizer.get("param_groups"), list)
    ):
        _fail(path, "optimizer", "an optimizer state_dict ('state' and 'param_groups')", optimizer)
    rng = state.get("rng")
    if isinstance(rng, dict):
        for key, value in rng.items():
            if not (torch.is_tensor(value) and value.dtype == torch.uint8 and value.dim() == 1):
                _fail(path, f"rng.{key}", "a 1-D uint8 tensor (a generator state)", value)
    history = state.get("history")
    if isinstance(history, dict):
        for key, values in history.items():
            if not isinstance(values, list) or not all(_is_real(v) for v in values):
                _fail(path, f"history.{key}", "a list of numbers", values)
        if "iteration" in history and not all(_is_int(v) for v in history["iteration"]):
            _fail(path, "history.iteration", "a list of whole numbers", history["iteration"])


def _check_data_fields(state: dict, path) -> None:
    """What the data were: the classes, the feature names, the target column, the standardization."""
    if "classes" in state and not (
        isinstance(state["classes"], list) and all(isinstance(c, (int, str)) for c in state["classes"])
    ):
        _fail(path, "classes", "a list of labels (whole numbers, booleans or text)", state["classes"])
    if (
        "feature_names" in state
        and state["feature_names"] is not None
        and not (
            isinstance(state["feature_names"], list)
            and all(isinstance(n, str) for n in state["feature_names"])
        )
    ):
        _fail(path, "feature_names", "a list of text", state["feature_names"])
    if state.get("target") is not None and not isinstance(state["target"], str):
        _fail(path, "target", "a column name or None", state["target"])
    standardizer = state.get("standardizer")
    if standardizer is not None:
        if not isinstance(standardizer, dict):
            _fail(path, "standardizer", "a mapping with 'mean' and 'std'", standardizer)
        for key in ("mean", "std"):
            value = standardizer.get(key)
            if not (torch.is_tensor(value) and value.is_floating_point() and value.dim() == 1):
                _fail(path, f"standardizer.{key}", "a 1-D floating-point tensor", value)


def check_resumable(state: dict, path) -> None:
    """A checkpoint to resume from holds what the loop restores: its iteration, optimizer, rng and history."""
    for field in ("config", "iteration", "optimizer", "rng", "history"):
        if field not in state:
            raise CheckpointError(
                f"{path}: field {field!r} is missing: this checkpoint holds a model, not a run to resume"
            )
    if "torch" not in state["rng"]:
        raise CheckpointError(f"{path}: field 'rng.torch' is missing")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shown(value) -> str:
    if torch.is_tensor(value):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    text = repr(value).replace("\n", " ")
    return f"{type(value).__name__} {text[:MAX_SHOWN]}{'...' if len(text) > MAX_SHOWN else ''}"


def check_weights_fit(model: torch.nn.Module, weights: dict, path) -> None:
    """The checkpoint's weights have the model's names and shapes: else one line naming the first that
    differs."""
    expected = {key: tuple(t.shape) for key, t in model.state_dict().items()}
    found = {key: tuple(t.shape) for key, t in weights.items()}
    for key in [*expected, *(key for key in found if key not in expected)]:
        if expected.get(key) != found.get(key):
            raise CheckpointError(
                f"{path}: field 'model.{key}' is {found.get(key, 'missing')} in the checkpoint, "
                f"{expected.get(key, 'absent')} in the model this config builds"
            )


def check_optimizer_fits(optimizer: torch.optim.Optimizer, path) -> None:
    """After ``load_state_dict``: each tensor of a parameter's optimizer state (Adam's moments, SGD's
    momentum, L-BFGS's flat vectors) is a real tensor of that parameter's shape or of all the
    parameters flattened, so that a wrong one is named here, not deep inside the first step."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    total = sum(p.numel() for p in params)
    for index, param in enumerate(params):
        for key, value in optimizer.state.get(param, {}).items():
            values = value if isinstance(value, list) else [value]
            for tensor in (v for v in values if torch.is_tensor(v) and v.dim() > 0):
                if not tensor.is_floating_point() or (
                    tuple(tensor.shape) != tuple(param.shape) and tensor.numel() not in (1, total)
                ):
                    raise CheckpointError(
                        f"{path}: field 'optimizer.state.{index}.{key}' is {_shown(tensor)}, "
                        f"the parameter it belongs to has shape {tuple(param.shape)}"
                    )
