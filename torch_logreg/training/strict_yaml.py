"""YAML as configs use it: ``yaml.safe_load`` with no duplicate keys and no aliases.

A key given twice in one mapping is an error naming the key and both lines (PyYAML keeps
the last silently).  Anchors and aliases (``&a`` / ``*a``) are refused where they first
appear: a config has no need of them, and nested aliases let a few hundred bytes expand
to gigabytes ("billion laughs"), so refusing them keeps loading and its messages bounded.
"""

from __future__ import annotations

import yaml

MAX_SHOWN = 60  # characters of a key shown in a message


class StrictYAMLError(yaml.YAMLError):
    """A duplicate key or an alias; ``line`` (from 1) is where it is, ``problem`` says what."""

    def __init__(self, problem: str, line: int):
        super().__init__(problem)
        self.problem, self.line = problem, line


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise StrictYAMLError(f"alias *{_short(event.anchor)} is not allowed in a config; "
                                  f"write the value out", event.start_mark.line + 1)
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise StrictYAMLError(f"anchor &{_short(anchor)} is not allowed in a config; write the value out",
                                  event.start_mark.line + 1)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first_line = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in first_line:
                        where = f"both on line {line}" if first_line[key] == line else \
                            f"on lines {first_line[key]} and {line}"
                        raise StrictYAMLError(f"key {_short(key)!r} is given twice, {where}", line)
                    first_line[key] = line
                except TypeError:  # an unhashable key: SafeLoader's own error says so
                    continue
        return super().construct_mapping(node, deep=deep)


def _short(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def strict_load(text: str):
    """The document in ``text``, as ``yaml.safe_load`` gives it, or StrictYAMLError / yaml.YAMLError."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
