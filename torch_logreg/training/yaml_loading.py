"""YAML for configs: ``yaml.safe_load``'s loader, stricter in two ways that keep a config honest.

* A key given twice in one mapping is an error naming the key and both lines (PyYAML keeps
  the last one silently, so the first would be ignored without a word).
* Aliases (``*name``) are refused.  A config never needs them, and nested aliases let a few
  hundred bytes expand to gigabytes (the "billion laughs"); refusing the first alias keeps
  both the work and the error line bounded.
"""

from __future__ import annotations

import yaml
from yaml.constructor import ConstructorError


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and aliases."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConstructorError(
                None,
                None,
                f"the alias *{event.anchor[:40]} is not accepted in a config; write each value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                given_before = key in seen
                first = seen.setdefault(key, line)
            except TypeError:  # an unhashable key: SafeLoader's own error names it
                break
            if given_before:  # also twice on one line: {a: 1, a: 2}
                raise ConstructorError(
                    None,
                    None,
                    f"key {str(key)[:80]!r} is given twice (lines {first} and {line})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def load_yaml_text(text: str):
    """``yaml.safe_load(text)`` with duplicate keys and aliases refused (``yaml.YAMLError``)."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - ConfigLoader is a SafeLoader
