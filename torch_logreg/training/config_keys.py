"""The machinery of a config key: its value types, its declaration (``key``), the section that holds
keys (``_Section``), and setting one key with its error in one line naming it.

A section is a pydantic model: every assignment is typed and range-checked (strict, no extras, no
inf or NaN), and a ``ValidationError`` becomes one ``ConfigError`` line (``ConfigTypeError`` for a
wrong type) such as ``override: optimizer.lr must be > 0, got -1.0``.  The words of a range
("> 0", "in (0, 1)", "one of gd, sgd, adam") and of a type ("a number", "null or a list of
integers") are read from the declaration, so ``--help`` and the README say the same.

An unknown key is worded by the schema that holds the sections (``config.py``: it knows every key,
so it can say "did you mean optimizer.lr?"); it sets ``_Section._unknown_keys`` once it is built.
"""

from __future__ import annotations

import numbers
import os
import re
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from ..errors import ConfigError, ConfigTypeError

SEED_LIMIT = 2**32  # numpy's and torch's seeds both take any value below this
# PyYAML (YAML 1.1) reads 1e-3 and 1e3 as strings; a float field takes them as numbers.
_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


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
    # (dotted unknown keys, source) -> the ConfigError naming them.  The schema that holds the sections
    # (``config.py``, built from them, so not importable here) sets it to name the nearest known keys.
    _unknown_keys: typing.ClassVar[Callable[[list[str], str], ConfigError]]

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("_"):  # pydantic's own bookkeeping
            return super().__setattr__(name, value)
        _assign(self, name, value, source="config")


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
        raise type(target)._unknown_keys([dotted], source)
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
