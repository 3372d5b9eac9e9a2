"""A config's text: a YAML file read strictly, and an override's ``value`` typed by its field.

YAML goes through ``yaml_loading.load_yaml_text`` (``safe_load`` with duplicate keys refused); a file
that is not one is one ``ConfigError`` line naming the file and the line.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Literal

import yaml

from ..errors import ConfigError
from .config_keys import _members
from .yaml_loading import load_yaml_text

_NULL_WORDS = ("null", "none", "~", "")
_TRUE_WORDS, _FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


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
