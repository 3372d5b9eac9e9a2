"""Typed configuration: a declarative pydantic schema, YAML files and dotted overrides.

Each key is one field below: its type, its default, its allowed values or range,
and its help text sit together; the README's config table (``config_table_markdown``)
and ``train.py --help``'s list of keys are generated from them.

The defaults are the document's run: full-batch gradient descent, α = 0.5,
2000 iterations, zero initialization, standardized features. A YAML file lists
only what it changes; ``section.key=value`` overrides are typed by the field
(``model.hidden=[16,8]`` is read as YAML). Unknown keys, wrong types and
out-of-range values raise ``ConfigError`` (``ConfigTypeError`` for a wrong type)
in one line naming the key, wherever they come from: a file, an override, or an
attribute set in Python (``config.optimizer.lr = -1`` raises at once).
"""

from __future__ import annotations

import difflib
import numbers
import os
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)
from pydantic.fields import FieldInfo

from ..errors import ConfigError, ConfigTypeError
from ..nn.models import MODELS, model_name_help, models_using, models_with_coefficient_table
from .optimizers import OPTIMIZERS, optimizers_using
from .yaml_loading import load_yaml_text

SEED_LIMIT = 2**32  # numpy's and torch's seeds both take any value below this
# PyYAML (YAML 1.1) reads 1e-3 and 1e3 as strings; a float field takes them as numbers.
_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
_NULL_WORDS = ("null", "none", "~", "")
_TRUE_WORDS, _FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
# Keys that must stay finite in the training dtype: 1e39 is a float64 but inf in float32.
DTYPE_BOUNDED = (
    "optimizer.lr",
    "optimizer.momentum",
    "optimizer.grad_tol",
    "optimizer.tolerance_change",
    "model.l2",
    "train.tol",
)


# ---------------------------------------------------------------- value types


def _as_float(value):
    """1 from YAML, numpy scalars and '1e-3' (a string to PyYAML) are the numbers a user meant."""
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        return float(value)
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, float)):
        return float(value)
    return value


def _as_int(value):
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, int)):
        return int(value)  # numpy integers
    return value


def _as_text(value):
    return os.fspath(value) if isinstance(value, os.PathLike) else value  # data.path = tmp_path / "x.csv"


def _one_kind_of_class_values(labels: dict) -> dict:
    kinds = {type(value) for value in labels.values()}
    if not labels or len(kinds) != 1 or not kinds <= {bool, int, str}:
        raise ValueError("one kind")
    return labels


def _positive_weights(weights: dict) -> dict:
    if not weights or not all(
        isinstance(w, (int, float)) and not isinstance(w, bool) and 0 < w < float("inf")
        for w in weights.values()
    ):
        raise ValueError("weights")
    return weights


def _size(value):
    from ..data.streaming import parse_size

    if isinstance(value, bool) or parse_size(value) < 1:
        raise ValueError("size")
    return value


Float = Annotated[float, BeforeValidator(_as_float)]
Int = Annotated[int, BeforeValidator(_as_int)]
Text = Annotated[str, BeforeValidator(_as_text)]


def key(default, help: str, *, expected: str | None = None, kind: str | None = None, **constraints) -> Any:
    """One config key: its default, its help text and its range (pydantic constraints).

    ``expected`` words the range in error messages ("in [0, 2**32)") where the
    constraints alone would not say it well; ``kind`` words the type likewise.
    """
    extra = {name: text for name, text in (("expected", expected), ("kind", kind)) if text}
    if isinstance(default, (list, dict)):
        return Field(
            default_factory=lambda: type(default)(default),
            description=help,
            json_schema_extra=extra,
            **constraints,
        )
    return Field(default, description=help, json_schema_extra=extra, **constraints)


class _Section(BaseModel):
    """A group of keys; every assignment is typed and range-checked as a YAML value or an override is."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        validate_assignment=True,
        allow_inf_nan=False,
        use_attribute_docstrings=False,
    )
    _section: typing.ClassVar[str] = ""  # the section's key in Config; "" for the top level

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("_"):  # pydantic's own bookkeeping
            return super().__setattr__(name, value)
        _assign(self, name, value, source="config")


# ---------------------------------------------------------------- the schema


class DataConfig(_Section):
    _section = "data"

    name: Literal["breast_cancer", "synthetic", "digits", "flower", "spirals"] = key(
        "breast_cancer",
        "built-in data: `breast_cancer` (569 rows, 30 features), `digits` (8×8 images, 10 classes), "
        "`synthetic` (`data.samples` × `data.features` rows from a known logistic model with `data.classes` classes, "
        "`data.noise` scaling it), `flower` or `spirals` (2 features that a line cannot separate); "
        "ignored when `data.path` is set",
    )
    path: Text | None = key(
        None,
        "a CSV (header row), `.npy` (label in the last column) or `.npz` (`x`, `y`); "
        "relative to the current folder; takes precedence over `data.name`",
    )
    test_path: Text | None = key(None, "a separate test file; then no split is made")
    target: Text | None = key(None, "the CSV label column (null: the last column)")
    labels: Annotated[dict, AfterValidator(_one_kind_of_class_values)] | None = key(
        None,
        "raw label → class value, for any number of labels, e.g. `{M: 1, B: 0}`; the classes are then the "
        "mapped values",
        expected="a mapping of labels to class values (integers, booleans or strings, all "
        "of one kind), e.g. {M: 1, B: 0}",
        kind="a mapping",
    )
    test_fraction: Float = key(0.25, "held-out share, stratified by class", gt=0, lt=1)
    standardize: bool = key(True, "(x − mean)/std, fitted on the training rows only; per channel for images")
    image_shape: list[Annotated[int, Field(ge=1)]] | None = key(
        None,
        "`[C, H, W]` (or `[H, W]`) of each row of flattened pixels, so that a model of images can read "
        "them; null: none, or the data's own (`digits`: `[8, 8]`; a folder of images: its channels and "
        "`data.image_size`)",
        min_length=2,
        max_length=3,
        expected="null or [C, H, W] / [H, W] of integers >= 1",
        kind="null or a list of integers",
    )
    image_size: list[Annotated[int, Field(ge=1, le=4096)]] = key(
        [32, 32],
        "a folder of images (`data.path=photos/`, one sub-folder per class): every image is "
        "resized to `[H, W]`",
        min_length=2,
        max_length=2,
        expected="[H, W] of integers in [1, 4096]",
        kind="a list of integers",
    )
    shift: Int = key(
        0,
        "images: add 4 copies of each training image per d = 1 … `data.shift`, moved d "
        "pixels up, down, left, right (edge pixels repeated); test rows are never shifted",
        ge=0,
    )
    samples: Int = key(1000, "rows of `synthetic` data (`flower` has 400, `spirals` 100 per class)", ge=2)
    features: Int = key(2, "features of `synthetic` data", ge=1)
    noise: Float = key(1.0, "`synthetic` data: 0 is separable, 1 is the logistic model itself", ge=0)
    classes: Int = key(2, "classes of `synthetic` and `spirals` data", ge=2)
    stream: bool = key(
        False,
        "read `.npy` training data block by block instead of loading it (full-batch `gd`, "
        "`newton`, `lbfgs`); also on when the data would exceed `data.memory_limit`",
    )
    memory_limit: Annotated[int | str, AfterValidator(_size)] | None = key(
        None,
        "memory for the data: bytes or a size such as `512MiB`, `2GiB`; larger `.npy` data is streamed "
        "(null: half the available memory)",
        expected="bytes or a size such as 512MiB or 2GiB",
        kind="bytes or a size",
    )


ModelName = Literal[tuple(MODELS)]  # type: ignore[valid-type]  # the model registry's names


class _ModelKeys(_Section):
    """The keys every model reads; each model's own keys are its declaration (``Classifier.keys``)."""

    _section = "model"

    name: ModelName = key("logistic", model_name_help())
    init: Literal["zeros", "uniform", "xavier", "he"] | None = key(
        None,
        "`zeros` (the document), `uniform` (U(±1/√n), like `nn.Linear`), `xavier`, `he`; "
        "null: each model's own ("
        + ", ".join(f"{m.init_help or f'`{m.default_init}`'} for `{name}`" for name, m in MODELS.items())
        + ")",
    )
    l2: Float = key(
        0.0,
        "(l2/2m)·‖W‖² over the full training count m, for every optimizer; scikit-learn's "
        "`C = 1/l2`; biases are not penalized",
        ge=0,
    )
    check_grad: bool = key(
        False,
        "at each log step, compare the hand-written gradients with autograd's and log the largest difference",
    )


def _declared_model_keys() -> dict:
    """Each model's declared keys, once each in registry order, as (type, field) with the help text
    naming the models that read it: ``model.hidden`` is "`mlp` and `cnn`: the hidden layers' widths"."""
    fields = {}
    for model in MODELS.values():
        for name, info in model.keys.model_fields.items() if model.keys is not None else ():
            if name not in fields:
                users = models_using(name)
                said = (
                    f"`{users[0]}` only"
                    if len(users) == 1
                    else ", ".join(f"`{user}`" for user in users[:-1]) + f" and `{users[-1]}`"
                )
                described = FieldInfo.merge_field_infos(info, description=f"{said}: {info.description}")
                fields[name] = (info.annotation, described)
    return fields


# The model section: the common keys, every model's declared keys, then class_weight; ``ignored_keys`` warns
# of a key that the chosen model does not declare.
ModelConfig = create_model(
    "ModelConfig",
    __base__=_ModelKeys,
    **_declared_model_keys(),
    class_weight=(
        Literal["balanced"] | Annotated[dict, AfterValidator(_positive_weights)] | None,
        key(
            None,
            "null (every row weighs 1), `balanced` (n / (K·count of the class)), or label → weight, "
            "e.g. `{M: 2}`",
            expected="null, balanced or a mapping of labels to weights > 0",
            kind="null, balanced or a mapping",
        ),
    ),
)
ModelConfig._section = "model"


OptimizerName = Literal[tuple(OPTIMIZERS)]  # type: ignore[valid-type]  # the registry's names


class OptimizerConfig(_Section):
    _section = "optimizer"

    name: OptimizerName = key("gd", ", ".join(spec.help for spec in OPTIMIZERS.values()))
    lr: Float = key(0.5, "α, the learning rate (not used by `newton`)", gt=0)
    momentum: Float = key(0.0, "`sgd` only", ge=0)
    hessian_rows: Literal["auto"] | Annotated[int, Field(ge=0)] = key(
        "auto",
        "`newton` only: 0 builds the Hessian from every row; k > 0 from k rows drawn once (seeded by "
        "`seed`), while the gradient and the line search use every row; `auto`: every row, or 100 rows per parameter once there are more than 10 parameters and more than twice that many rows",
        expected="auto or an integer >= 0 (0: every row)",
        kind="auto or an integer",
    )
    grad_tol: Float | None = key(
        None,
        "`newton` and `lbfgs` stop when the full-batch gradient's largest entry "
        "falls below this (null: scaled to `train.dtype`)",
        gt=0,
    )
    tolerance_change: Float = key(0.0, "`lbfgs` only: stop when the cost or the step changes by less", ge=0)
    history_size: Int = key(100, "`lbfgs` only: the number of past updates kept", ge=1)


class TrainConfig(_Section):
    _section = "train"

    iterations: Int = key(2000, "optimizer steps", ge=0)
    batch_size: Int | None = key(
        None, "null is the full batch, as in the document", ge=1, expected=">= 1 or null (full batch)"
    )
    log_every: Int = key(100, "log (and read values from the device) every N steps", ge=1)
    device: Text = key(
        "auto",
        "`cpu`, `cuda`, `cuda:N`; `auto` picks CUDA when present; an explicit `cuda` "
        "without a GPU is an error",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        expected="auto, cpu, cuda or cuda:N",
    )
    dtype: Literal["float32", "float64"] = key("float32", "`float32` or `float64`, end to end")
    x_dtype: Literal["float32", "bfloat16"] | None = key(
        None,
        "null (= `train.dtype`), `float32`, or `bfloat16`: X stored in bf16 on CUDA (fused kernel, float32 "
        "accumulation)",
    )
    tol: Float = key(
        0.0,
        "`gd`, `sgd`, `adam`: stop when the cost changes by less than this between two log "
        "steps (0: run every iteration)",
        ge=0,
    )
    print_cost: bool = key(True, 'print "Cost after iteration i" at each log step')
    checkpoint_every: Int = key(
        500, "also checkpoint every N steps (0: only at the end and on interruption)", ge=0
    )
    summary: bool = key(
        False, "print a statsmodels-style coefficient table at the end (logistic regression only)"
    )
    threads: Int | None = key(
        None,
        "torch threads per process (null: torch's default, and one thread while "
        "training on CPU data under 32 MB; under torchrun, the cores ÷ the workers on "
        "this machine)",
        ge=1,
        expected=">= 1 or null",
    )


class Config(_Section):
    seed: Int = key(
        0, "split, initialization, minibatch order", ge=0, lt=SEED_LIMIT, expected="in [0, 2**32)"
    )
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    name: Text = Field("default", description="the config file's stem; names the run folder")

    def to_dict(self) -> dict:
        return self.model_dump()


SECTIONS: dict[str, type[_Section]] = {
    name: info.annotation
    for name, info in Config.model_fields.items()
    if isinstance(info.annotation, type) and issubclass(info.annotation, _Section)
}


# ---------------------------------------------------------------- loading


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
    """Rebuild a Config from ``to_dict()`` output (e.g. from a checkpoint).

    Only the values that differ from the defaults count as set by the user (``ignored_keys``)."""
    config = Config()
    values = dict(values)
    config.name = str(values.pop("name", config.name))
    update(config, values, source="checkpoint")
    defaults = Config()
    for section_name in SECTIONS:
        section, default = getattr(config, section_name), getattr(defaults, section_name)
        section.__pydantic_fields_set__ = {
            name for name in type(section).model_fields if getattr(section, name) != getattr(default, name)
        }
    return config


def read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not a UTF-8 text file (undecodable byte at offset {error.start})"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        values = load_yaml_text(text)
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
    """Set every ``section: {key: value}`` (and top-level key) of ``values`` on ``config``.

    Every unknown key is reported, in one error, before anything is set."""
    items = []
    for name, value in values.items():
        if str(name) in SECTIONS:
            if value is None:
                continue  # a section with every key commented out
            if not isinstance(value, dict):
                raise ConfigTypeError(f"{source}: {name} must be a mapping of keys, got {value!r}")
            items += [(f"{name}.{sub_name}", sub_value) for sub_name, sub_value in value.items()]
        else:
            items.append((str(name), value))
    unknown = [dotted for dotted, _ in items if dotted not in valid_keys()]
    if unknown:
        raise _unknown_keys(unknown, source)
    for dotted, value in items:
        set_value(config, dotted, value, source)
    check_config(config, source)


def apply_overrides(config: Config, overrides) -> None:
    for item in overrides:
        dotted, sep, text = item.partition("=")
        if not sep or not dotted:
            raise ConfigError(f"override {item!r} must look like section.key=value, e.g. optimizer.lr=0.1")
        set_value(config, dotted.strip(), text, source="override", from_text=True)
    check_config(config, "override")


def set_value(config: Config, dotted: str, value, source: str, from_text: bool = False) -> None:
    """Validate and set one key, e.g. ``optimizer.lr``; text values are parsed by the field's type."""
    if dotted not in valid_keys():
        raise _unknown_keys([dotted], source)
    head, _, name = dotted.rpartition(".")
    target = getattr(config, head) if head else config
    shown = value
    if from_text and isinstance(value, str):
        value = _parse_text(value.strip(), type(target).model_fields[name].annotation)
    _assign(target, name, value, source, shown=shown if from_text else None)


def check_config(config: Config, source: str = "config") -> None:
    """Checks across keys: each of ``DTYPE_BOUNDED`` must be finite in ``train.dtype``.

    ``load_config`` and ``apply_overrides`` call it; call it again after setting
    attributes in Python (one key's range does not know another's value)."""
    import torch

    largest = torch.finfo(getattr(torch, config.train.dtype)).max
    for dotted in DTYPE_BOUNDED:
        section, name = dotted.split(".")
        value = getattr(getattr(config, section), name)
        if value is not None and abs(value) > largest:
            raise ConfigError(
                f"{source}: {dotted}={value!r} is not finite in train.dtype={config.train.dtype} "
                f"(largest {largest:.4g})"
            )


def valid_keys(config: Config | None = None) -> list[str]:
    """Every settable key, ``seed`` and ``section.key``, in schema order."""
    keys = []
    for name in Config.model_fields:
        if name in SECTIONS:
            keys += [f"{name}.{sub_name}" for sub_name in SECTIONS[name].model_fields]
        elif name != "name":
            keys.append(name)
    return keys


# Which choices use each key: key -> (section that chooses, the choices that use it).
def used_by() -> dict[str, tuple[str, tuple[str, ...]]]:
    """key -> (the section that chooses, the choices that use it), from the registries' declarations
    as they are now (a model registered later counts)."""
    return {
        **{
            f"optimizer.{name}": ("optimizer", optimizers_using(name))
            for name in ("lr", "momentum", "hessian_rows", "tolerance_change", "history_size")
        },
        **{f"model.{name}": ("model", models_using(name)) for name in _declared_model_keys()},
        "train.summary": ("model", models_with_coefficient_table()),  # [W, b] and a closed-form Hessian
    }


def ignored_keys(config: Config) -> list[str]:
    """One warning line for each key that the user set (to other than its default) but that the chosen
    optimizer or model does not use, e.g. ``optimizer.momentum`` with ``optimizer.name=gd``, or
    ``train.summary`` with ``model.name=mlp`` (a network has no coefficient table)."""
    opt, model = config.optimizer.name, config.model.name
    lines = []
    for dotted, (chooser, users) in used_by().items():
        section_name, name = dotted.split(".")
        section = getattr(config, section_name)
        chosen = {"optimizer": opt, "model": model}[chooser]
        value = getattr(section, name)
        if chosen not in users and name in section.model_fields_set and value != _default(section, name):
            lines.append(
                f"{dotted}={_show(value)} is ignored: {chooser}.name={chosen} does not use it "
                f"(used by {', '.join(users)})"
            )
    return lines


def save_config(config: Config, path: Path) -> None:
    from ..checkpoint import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))


# ---------------------------------------------------------------- documentation from the schema


def config_table_markdown() -> str:
    """The README's config table: key | default | meaning, one row per key, in schema order."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for dotted, info in _fields():
        lines.append(f"| `{dotted}` | {_show(_default_of(info), code=True)} | {info.description} |")
    return "\n".join(lines) + "\n"


def config_keys_help() -> str:
    """``train.py --help``'s list of keys: each with its default and its allowed values or range."""
    lines = []
    for dotted, info in _fields():
        lines.append(f"  {dotted}={_show(_default_of(info))}  ({_expected(info)})")
    return "\n".join(lines)


def _fields():
    for dotted in valid_keys():
        head, _, name = dotted.rpartition(".")
        yield dotted, (SECTIONS[head] if head else Config).model_fields[name]


def _default_of(info: FieldInfo):
    return info.get_default(call_default_factory=True)


def _default(section: _Section, name: str):
    return _default_of(type(section).model_fields[name])


def _show(value, code: bool = False) -> str:
    """A value as a user writes it in YAML: null, true, 1e-09, [16, 8], auto."""
    if isinstance(value, float):
        return repr(value)
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    if value is None or isinstance(value, (bool, int, float)):
        return text
    return f"`{text}`" if code else text


# ---------------------------------------------------------------- assignment and its messages


def _assign(target: _Section, name: str, value, source: str, shown=None) -> None:
    """Set one field through pydantic; a ValidationError becomes one ConfigError line naming the key."""
    dotted = f"{target._section}.{name}" if target._section else name
    if name not in type(target).model_fields:
        raise _unknown_keys([dotted], source)
    try:
        BaseModel.__setattr__(target, name, value)
    except ValidationError as error:
        raise _message(error, type(target).model_fields[name], dotted, value, source, shown) from None


_RANGE_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "finite_number",
    "too_short",
    "string_pattern_mismatch",
    "value_error",
}


def _message(error: ValidationError, info: FieldInfo, dotted: str, value, source: str, shown) -> ConfigError:
    problems = error.errors()
    allowed = typing.get_args(info.annotation)
    if value is None and type(None) not in allowed:
        return ConfigTypeError(f"{source}: {dotted} cannot be null (expected {_kind(info)})")
    ranged = [p for p in problems if p["type"] in _RANGE_ERRORS]
    if (
        ranged
        or all(p["type"] == "literal_error" for p in problems)
        and _literals(info.annotation) == _members(info.annotation)
    ):
        # The value as the field would hold it (-1 as -1.0), or the whole value for one bad list item.
        got = ranged[0]["input"] if ranged and len(ranged[0]["loc"]) == 1 else value
        expected = "a finite number" if ranged and ranged[0]["type"] == "finite_number" else _expected(info)
        return ConfigError(f"{source}: {dotted} must be {expected}, got {got!r}")
    if shown is not None:
        return ConfigTypeError(f"{source}: {dotted} must be {_kind(info)}, got {shown!r}")
    if isinstance(value, bool) or _members(info.annotation) == [bool]:
        return ConfigTypeError(f"{source}: {dotted} must be {_kind(info)}, got {value!r}")
    return ConfigTypeError(
        f"{source}: {dotted} must be {_kind(info)}, got {value!r} ({type(value).__name__})"
    )


def _members(annotation) -> list:
    """The non-null types a field takes: ``float | None`` -> [float]; Annotated and Literal kept whole."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [
            member for arg in typing.get_args(annotation) if arg is not type(None) for member in _members(arg)
        ]
    if typing.get_origin(annotation) is Annotated:
        return _members(typing.get_args(annotation)[0])
    return [annotation]


def _literals(annotation) -> list:
    return [m for m in _members(annotation) if typing.get_origin(m) is Literal]


def _choices(annotation) -> list:
    return [choice for member in _literals(annotation) for choice in typing.get_args(member)]


_KINDS = {
    int: "an integer",
    float: "a number",
    bool: "true or false",
    str: "a string",
    dict: "a mapping",
    list: "a list",
}


def _kind(info: FieldInfo) -> str:
    """The type in words: "a number", "true or false"."""
    extra = info.json_schema_extra or {}
    if "kind" in extra:
        return extra["kind"]
    members = _members(info.annotation)
    null = "null or " if type(None) in typing.get_args(info.annotation) else ""
    if all(typing.get_origin(m) is Literal for m in members):
        return f"{null}a string"
    return null + " or ".join(_KINDS.get(typing.get_origin(m) or m, str(m)) for m in members)


def _expected(info: FieldInfo) -> str:
    """The allowed values in words: "> 0", "in (0, 1)", "one of gd, sgd, adam"."""
    extra = info.json_schema_extra or {}
    if "expected" in extra:
        return extra["expected"]
    choices = _choices(info.annotation)
    null = "null or " if type(None) in typing.get_args(info.annotation) else ""
    if choices:
        return f"{null}one of {', '.join(map(str, choices))}"
    bounds = {type(m).__name__: m for m in info.metadata}
    low = ("gt", "(", "> ") if "Gt" in bounds else ("ge", "[", ">= ") if "Ge" in bounds else None
    high = ("lt", ")", "< ") if "Lt" in bounds else ("le", "]", "<= ") if "Le" in bounds else None
    value = lambda bound: getattr(bounds[bound[0].capitalize()], bound[0])  # noqa: E731
    if low and high:
        return f"{null}in {low[1]}{value(low):g}, {value(high):g}{high[1]}"
    if low or high:
        bound = low or high
        return f"{null}{bound[2]}{value(bound):g}"
    return _kind(info)


def _parse_text(text: str, annotation):
    """An override's text as the field's type: ``0.1`` for a float, ``[16, 8]`` (YAML) for a list."""
    members = _members(annotation)
    if type(None) in typing.get_args(annotation) and text.lower() in _NULL_WORDS:
        return None
    if all(m is str or typing.get_origin(m) is Literal for m in members):
        return text
    if members == [bool]:
        lowered = text.lower()
        return True if lowered in _TRUE_WORDS else False if lowered in _FALSE_WORDS else text
    for kind in (int, float):
        if kind in members:
            try:
                return kind(text)
            except ValueError:
                pass
    try:
        return load_yaml_text(text)
    except yaml.YAMLError:
        return text  # !!python/... tags and broken YAML: the field's type error names the key


# ---------------------------------------------------------------- unknown keys


def _unknown_keys(unknown: list[str], source: str) -> ConfigError:
    """Each unknown key with its nearest valid key, and the keys that the named sections do have."""
    named = ", ".join(f"{dotted!r}{_did_you_mean(dotted)}" for dotted in unknown)
    listed = []
    for dotted in unknown:
        head = dotted.partition(".")[0]
        if "." in dotted and head in SECTIONS:
            text = f"{head} keys: " + ", ".join(SECTIONS[head].model_fields)
        else:
            text = (
                f"sections: {', '.join(SECTIONS)}; "
                f"top-level keys: {', '.join(k for k in valid_keys() if '.' not in k)}"
            )
        if text not in listed:
            listed.append(text)
    noun = "key" if len(unknown) == 1 else "keys"
    return ConfigError(f"{source}: unknown {noun} {named}; {'; '.join(listed)}")


def _did_you_mean(dotted: str) -> str:
    """`` (did you mean optimizer.lr?)``: matched on the last part within a known section
    (``optimizer.learning_rate`` -> ``optimizer.lr`` by its initials), else on the whole key."""
    known = valid_keys()
    head, _, last = dotted.rpartition(".")
    close = []
    if head in SECTIONS:
        names = list(SECTIONS[head].model_fields)
        initials = "".join(word[0] for word in last.split("_") if word)
        close = [name for name in names if name == initials and "_" in last]
        close = close or difflib.get_close_matches(last, names, n=1, cutoff=0.5)
        close = [f"{head}.{name}" for name in close]
        close = close or [k for k in known if k.rpartition(".")[2] == last]  # train.lr -> optimizer.lr
    close = close or difflib.get_close_matches(dotted, known + list(SECTIONS), n=1, cutoff=0.5)
    return f" (did you mean {close[0]}?)" if close else ""
