"""The order in which TensorBoard's first page (Time Series) lays out a run's cards, read from event files.

No browser runs here, so the tests read the tags as TensorBoard's front end orders them:
``compareTagNames`` and ``groupCardIdWithMetdata`` in tensorboard/webapp/metrics/utils.ts sort every
card (scalars, histograms, images) by tag, comparing digit runs as numbers and treating ``/`` and
digits as breaks that sort before any other character, then group the cards by the tag's first
component, the groups in the order of their first card.
"""

from __future__ import annotations

import re
from functools import cmp_to_key

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

_NUMBER = re.compile(r"\d+(\.\d*)?([eE][+-]?\d+)?")


def _is_break(char: str) -> bool:
    return char == "/" or char.isdigit()


def compare_tag_names(a: str, b: str) -> int:
    """TensorBoard's compareTagNames: -1, 0 or 1."""
    i = j = 0
    while True:
        if i == len(a):
            return 0 if j == len(b) else -1
        if j == len(b):
            return 1
        if a[i].isdigit() and b[j].isdigit():
            number_a, number_b = _NUMBER.match(a, i), _NUMBER.match(b, j)
            value_a, value_b = float(number_a.group()), float(number_b.group())
            if value_a != value_b:
                return -1 if value_a < value_b else 1
            i, j = number_a.end(), number_b.end()
            continue
        if _is_break(a[i]):
            if not _is_break(b[j]):
                return -1
        elif _is_break(b[j]):
            return 1
        elif a[i] != b[j]:
            return -1 if a[i] < b[j] else 1
        i, j = i + 1, j + 1


def first_page(*run_dirs) -> list[tuple[str, list[str]]]:
    """The Time Series page of these run folders together: [(group, [card tags in order]), ...].

    Every card kind counts (scalars, histograms, images); a tag several runs write is one card.
    """
    tags: set[str] = set()
    for run_dir in run_dirs:
        found = EventAccumulator(
            str(run_dir), size_guidance={"scalars": 1, "images": 1, "histograms": 1}
        ).Reload()
        tags.update(*(found.Tags()[kind] for kind in ("scalars", "histograms", "images")))
    groups: dict[str, list[str]] = {}
    for tag in sorted(tags, key=cmp_to_key(compare_tag_names)):
        groups.setdefault(tag.split("/", 1)[0], []).append(tag)
    return list(groups.items())
