"""The document's ``print_cost``: when the caller configured no logging, a run prints to stdout.

Library code logs through ``logging.getLogger(__name__)``; this is the one exception the house style
allows, for the length of one ``train`` call.
"""

from __future__ import annotations

import contextlib
import logging
import sys

package_logger = logging.getLogger("torch_logreg")


@contextlib.contextmanager
def console_logging(print_cost: bool):
    """The document's ``print_cost``: when the caller configured no logging, print to stdout for this call."""
    if not print_cost or package_logger.hasHandlers():
        yield
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(level)
