"""Typed configuration: dataclasses hold the defaults, YAML files and dotted overrides change them.

The defaults are the document's run: full-batch gradient descent, α = 0.5,
2000 iterations, zero initialization, standardized features. A YAML file lists
only what it changes; ``section.key=value`` overrides are typed by the field.
Unknown keys, wrong types and out-of-range values raise ``ConfigError`` naming
the key, wherever they come from: a file, an override, or an attribute set in
Python (``config.optimizer.lr = -1`` raises at once).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import numbers
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError, ConfigTypeError

OPTIMIZERS = ("gd", "sgd", "adam", "lbfgs", "newton")
DATASETS = ("breast_cancer", "synthetic")
DTYPES = ("float32", "float64")
X_DTYPES = ("float32", "bfloat16")
INITS = ("zeros", "uniform")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
# PyYAML (YAML 1.1) reads 1e-3 and 1e3 as strings; a float field takes them as numbers.
_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
SEED_LIMIT = 2**32  # numpy's and torch's seeds both take any value below this


class _Checked:
    """Every assignment is typed and range-checked as a YAML value or an override would be."""

    _section = ""  # the section's key in Config; "" for the top level

    def __setattr__(self, name: str, value) -> None:
        key = f"{self._section}.{name}" if self._section else name
        hints = _field_types(type(self))
        if name not in hints:
            raise _unknown_key(key, "config")
        value = _coerce(value, hints[name], key, "config", from_text=False)
        _check_range(key, value, "config")
        object.__setattr__(self, name, value)


@dataclass
class DataConfig(_Checked):
    _section = "data"

    name: str = "breast_cancer"  # breast_cancer | synthetic; ignored when path is set
    path: str | None = None  # a CSV, .npy or .npz file
    test_path: str | None = None  # a separate test file: then no split is made
    target: str | None = None  # the CSV label column (default: the last)
    labels: dict | None = None  # two string labels mapped to 0 and 1, e.g. {M: 1, B: 0}
    test_fraction: float = 0.25  # scikit-learn's train_test_split default
    standardize: bool = True
    samples: int = 1000  # synthetic only
    features: int = 2  # synthetic only
    classes: int = 2
    noise: float = 1.0  # synthetic only: 0 is separable, 1 is the logistic model itself


@dataclass
class ModelConfig(_Checked):
    _section = "model"

    name: str = "logistic"
    init: str | None = None  # None: zeros for logistic (the document), uniform for mlp
    l2: float = 0.0  # (l2 / 2m)·‖w‖²; scikit-learn's C = 1/l2
    check_grad: bool = False  # compare hand-written and autograd gradients at each log step
    hidden: list = field(default_factory=lambda: [4])
    activation: str = "tanh"
    class_weight: object = None


@dataclass
class OptimizerConfig(_Checked):
    _section = "optimizer"

    name: str = "gd"  # gd (w := w − α·dw by hand) | sgd | adam | lbfgs | newton
    lr: float = 0.5
    momentum: float = 0.0  # sgd only
    hessian_rows: object = "auto"  # newton only: 0 builds H from every row; k > 0 from k rows sampled once
    grad_tol: float | None = None
    tolerance_change: float = 0.0
    history_size: int = 100


@dataclass
class TrainConfig(_Checked):
    _section = "train"

    iterations: int = 2000  # optimizer steps
    batch_size: int | None = None  # null: full batch, as in the document
    log_every: int = 100
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "float32"  # float32 | float64, end to end
    x_dtype: str | None = None  # storage of X on CUDA: null (= dtype) | bfloat16
    tol: float = 0.0  # stop when the cost changes by less than this between two log steps
    print_cost: bool = True
    checkpoint_every: int = 500  # 0: only at the end (and on interruption)
    summary: bool = False


@dataclass
class Config(_Checked):
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "default"  # the config file's stem; names the run folder

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_config(path: str | Path | None = None, overrides=()) -> Config:
    """The defaults, updated by the YAML file at ``path``, then by ``section.key=value`` overrides."""
    config = Config()
    if path is not None:
        path = Path(path)
        update(config, read_yaml(path), source=str(path))
        config.name = path.stem
    apply_overrides(config, overrides)
    return config


def config_from_dict(values: dict) -> Config:
    """Rebuild a Config from ``to_dict()`` output (e.g. from a checkpoint)."""
    config = Config()
    values = dict(values)
    config.name = str(values.pop("name", config.name))
    update(config, values, source="checkpoint")
    return config


def read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a UTF-8 text file (undecodable byte at offset {error.start})") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}:{where}: not a plain YAML config ({problem})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(values).__name__}")
    return values


def update(config: Config, values: dict, source: str) -> None:
    """Set every ``section: {key: value}`` (and top-level key) of ``values`` on ``config``."""
    for key, value in values.items():
        if _is_section(config, key):
            if value is None:
                continue  # a section with every key commented out
            if not isinstance(value, dict):
                raise ConfigTypeError(f"{source}: {key} must be a mapping of keys, got {value!r}")
            for sub_key, sub_value in value.items():
                set_value(config, f"{key}.{sub_key}", sub_value, source)
        else:
            set_value(config, str(key), value, source)


def apply_overrides(config: Config, overrides) -> None:
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value, e.g. optimizer.lr=0.1")
        set_value(config, key.strip(), text, source="override", from_text=True)


def set_value(config: Config, dotted: str, value, source: str, from_text: bool = False) -> None:
    """Validate and set one key, e.g. ``optimizer.lr``; text values are parsed by the field's type."""
    target, name = _resolve(config, dotted, source)
    hint = typing.get_type_hints(type(target))[name]
    coerced = _coerce(value, hint, dotted, source, from_text)
    _check_range(dotted, coerced, source)
    object.__setattr__(target, name, coerced)  # checked just now, with the source in any message


def valid_keys(config: Config | None = None) -> list[str]:
    config = config or Config()
    keys = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            keys += [f"{f.name}.{g.name}" for g in dataclasses.fields(value)]
        elif f.name != "name":
            keys.append(f.name)
    return keys


def _is_section(config: Config, key) -> bool:
    return dataclasses.is_dataclass(getattr(config, str(key), None))


def _resolve(config: Config, dotted: str, source: str):
    parts = dotted.split(".")
    if dotted not in valid_keys(config):
        raise _unknown_key(dotted, source)
    if len(parts) == 1:
        return config, parts[0]
    return getattr(config, parts[0]), parts[1]


def _unknown_key(dotted: str, source: str) -> ConfigError:
    """The nearest valid key or section, and the keys that the named section does have."""
    known = valid_keys()
    sections = [name for name, kind in _field_types(Config).items() if dataclasses.is_dataclass(kind)]
    close = difflib.get_close_matches(dotted, known + sections, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]}?)" if close else ""
    head = dotted.partition(".")[0]
    if "." in dotted and head in sections:
        listed = f"{head} keys: " + ", ".join(k.partition(".")[2] for k in known if k.startswith(head + "."))
    else:
        listed = f"sections: {', '.join(sections)}; top-level keys: {', '.join(k for k in known if '.' not in k)}"
    return ConfigError(f"{source}: unknown key {dotted!r}{hint}; {listed}")


@functools.cache
def _field_types(cls) -> dict:
    return typing.get_type_hints(cls)


def _coerce(value, hint, key: str, source: str, from_text: bool):
    """Return ``value`` as the field's type, parsing text overrides; else raise ConfigTypeError."""
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if _is_union(hint) else hint
    if from_text and isinstance(value, str):
        if optional and value.strip().lower() in ("null", "none", "~", ""):
            return None
        value = _parse_text(value.strip(), base, key, source)
    if value is None:
        if optional:
            return None
        raise ConfigTypeError(f"{source}: {key} cannot be null (expected {base.__name__})")
    origin = typing.get_origin(base) or base
    if origin is float and isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        value = float(value)
    if origin is float and isinstance(value, numbers.Real) and not isinstance(value, (bool, float)):
        return float(value)  # 1 from YAML, numpy scalars from Python
    if origin is int and isinstance(value, numbers.Integral) and not isinstance(value, (bool, int)):
        return int(value)  # numpy integers
    if origin is str and isinstance(value, os.PathLike):
        return os.fspath(value)  # data.path = tmp_path / "x.csv"
    if origin is bool and not isinstance(value, bool):
        raise ConfigTypeError(f"{source}: {key} must be true or false, got {value!r}")
    if origin is int and isinstance(value, bool):
        raise ConfigTypeError(f"{source}: {key} must be an integer, got {value!r}")
    if not isinstance(value, origin):
        raise ConfigTypeError(f"{source}: {key} must be {_type_name(origin)}, got {value!r} ({type(value).__name__})")
    return value


def _parse_text(text: str, base, key: str, source: str):
    try:
        if base is bool:
            lowered = text.lower()
            if lowered in ("true", "yes", "on", "1"):
                return True
            if lowered in ("false", "no", "off", "0"):
                return False
            raise ValueError
        if base is int:
            return int(text)
        if base is float:
            return float(text)
        if base is object or base is list:
            return yaml.safe_load(text)
        if base is dict:
            parsed = yaml.safe_load(text)
            if not isinstance(parsed, dict):
                raise ValueError
            return parsed
    except (ValueError, yaml.YAMLError):
        raise ConfigTypeError(f"{source}: {key} must be {_type_name(base)}, got {text!r}") from None
    return text


def _is_union(hint) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _type_name(kind) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "a mapping"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def _check_range(key: str, value, source: str) -> None:
    def fail(expected: str):
        raise ConfigError(f"{source}: {key} must be {expected}, got {value!r}")

    if isinstance(value, float) and not math.isfinite(value):
        fail("a finite number")
    checks = {
        "seed": lambda v: 0 <= v < SEED_LIMIT or fail("in [0, 2**32)"),
        "optimizer.lr": lambda v: v > 0 or fail("> 0"),
        "optimizer.momentum": lambda v: v >= 0 or fail(">= 0"),
        "optimizer.hessian_rows": lambda v: v == "auto" or v >= 0 or fail(">= 0 (0: every row)"),
        "optimizer.name": lambda v: v in OPTIMIZERS or fail(f"one of {', '.join(OPTIMIZERS)}"),
        "train.iterations": lambda v: v >= 0 or fail(">= 0"),
        "train.batch_size": lambda v: v is None or v >= 1 or fail(">= 1 or null (full batch)"),
        "train.log_every": lambda v: v >= 1 or fail(">= 1"),
        "train.checkpoint_every": lambda v: v >= 0 or fail(">= 0"),
        "train.tol": lambda v: v >= 0 or fail(">= 0"),
        "train.device": lambda v: _DEVICE.match(v) or fail("auto, cpu, cuda or cuda:N"),
        "train.dtype": lambda v: v in DTYPES or fail(f"one of {', '.join(DTYPES)}"),
        "train.x_dtype": lambda v: v is None or v in X_DTYPES or fail(f"null or one of {', '.join(X_DTYPES)}"),
        "data.name": lambda v: v in DATASETS or fail(f"one of {', '.join(DATASETS)}"),
        "data.test_fraction": lambda v: 0 < v < 1 or fail("in (0, 1)"),
        "data.samples": lambda v: v >= 2 or fail(">= 2"),
        "data.features": lambda v: v >= 1 or fail(">= 1"),
        "data.noise": lambda v: v >= 0 or fail(">= 0"),
        "data.labels": lambda v: v is None or _labels_ok(v) or fail("two labels mapped to 0 and 1, e.g. {M: 1, B: 0}"),
        "model.l2": lambda v: v >= 0 or fail(">= 0"),
        "model.init": lambda v: v is None or v in INITS or fail(f"one of {', '.join(INITS)}"),
    }
    if key in checks:
        checks[key](value)


def _labels_ok(labels: dict) -> bool:
    values = list(labels.values())
    return len(values) == 2 and all(type(v) in (bool, int, float) for v in values) and sorted(values) == [0, 1]


def save_config(config: Config, path: Path) -> None:
    from .checkpoint import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))


def ignored_keys(config) -> list[str]:
    return []
