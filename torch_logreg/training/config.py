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

The keys are declared in one file per section (``config_data``, ``config_model``,
``config_optimizer``, ``config_train``) with the machinery of ``config_keys``; a file's text
is read by ``config_yaml``.  This module is the whole schema (``Config``) and what needs all of
it: loading, unknown keys, the keys a choice ignores, and the documentation.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from pydantic import Field

from ..errors import ConfigError, ConfigTypeError
from ..nn.models import MODELS, models_using, models_with_coefficient_table
from .config_data import DataConfig
from .config_keys import (
    SEED_LIMIT,
    Float,  # noqa: F401  (importable from here: art.config uses it)
    Int,
    Text,
    _assign,
    _default,
    _default_of,
    _expected,
    _Section,
    _show,
    key,
)
from .config_model import ModelConfig, _declared_model_keys
from .config_optimizer import OptimizerConfig
from .config_train import TrainConfig
from .config_yaml import _parse_text, read_yaml
from .optimizers import OPTIMIZERS, optimizers_using

# Keys that must stay finite in the training dtype: 1e39 is a float64 but inf in float32.
DTYPE_BOUNDED = (
    "optimizer.lr",
    "optimizer.momentum",
    "optimizer.grad_tol",
    "optimizer.tolerance_change",
    "model.l2",
    "train.tol",
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
    as they are now (a model registered later counts: the answer is kept per registry content, as every
    run asks and a small estimator fit would spend a tenth of a millisecond re-deriving it)."""
    key = (
        tuple((name, id(spec)) for name, spec in OPTIMIZERS.items()),
        tuple((name, id(model)) for name, model in MODELS.items()),
    )
    if key not in _USED_BY:
        _USED_BY.clear()
        _USED_BY[key] = _derive_used_by()
    return _USED_BY[key]


_USED_BY: dict[tuple, dict[str, tuple[str, tuple[str, ...]]]] = {}


def _derive_used_by() -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        **{  # the keys some optimizer declares (OptimizerSpec.keys; not grad_tol), in the section's order
            f"optimizer.{name}": ("optimizer", optimizers_using(name))
            for name in OptimizerConfig.model_fields
            if any(name in spec.keys for spec in OPTIMIZERS.values())
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


# Every section (and art's, built on the same machinery) names an unknown key through the whole schema.
_Section._unknown_keys = staticmethod(_unknown_keys)
