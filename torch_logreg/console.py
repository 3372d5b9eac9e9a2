"""Where the command line's output goes: progress and results on stdout, warnings and errors on stderr.

Log records below WARNING go to stdout; WARNING and above to stderr.  A Python warning
(``warnings.warn``, the project's ``TorchLogregWarning`` classes among them) is shown as one
line, ``warning: <message>``, without the source line Python would print; under torchrun
the line starts with the worker's rank when the warning is its own (not rank 0's, which
speaks for the group).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings

from .errors import TorchLogregWarning


class _Below(logging.Filter):
    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def rank_prefix() -> str:
    """"rank r: " under torchrun with more than one worker, else ""."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and "RANK" in os.environ:
        return f"rank {os.environ['RANK']}: "
    return ""


def warning_line(message) -> str:
    """A warning as one line: ``warning: <message>`` (its lines joined by "; ")."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    prefix = rank_prefix() if os.environ.get("RANK", "0") != "0" else ""
    return f"{prefix}warning: {'; '.join(lines)}"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    stream = sys.stderr if file is None else file
    stream.write(warning_line(message) + "\n")  # one write: the workers' lines do not interleave
    stream.flush()


def command_line_output(stack: contextlib.ExitStack) -> None:
    """Route logging and warnings as the module docstring says, until ``stack`` closes."""
    root = logging.getLogger()
    stack.callback(_restore_root_logger, root.handlers[:], root.level)
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(_Below(logging.WARNING))
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    for handler in (out, err):
        handler.setFormatter(logging.Formatter("%(message)s"))
    root.handlers[:] = [out, err]
    root.setLevel(logging.INFO)
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("always", TorchLogregWarning)
    warnings.showwarning = _show_warning


def _restore_root_logger(handlers, level) -> None:
    """Give a caller of ``main`` in the same process its logging back (a test, a notebook)."""
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
