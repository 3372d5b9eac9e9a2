"""Shared by the reliability tests: run the command line and check what a user sees on a bad input."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from torch_logreg import cli

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["train.print_cost=false", "train.device=cpu"]


@dataclass
class Outcome:
    status: int
    out: str
    err: str


def run_script(*args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python train.py ARGS`` in a child process, from the repository root."""
    return subprocess.run(
        [sys.executable, "train.py", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )


def run_main(capsys, *args) -> Outcome:
    """``torch_logreg.cli.main(ARGS)`` in this process: what ``train.py`` would print and return."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        status = cli.main([str(a) for a in args])
    finally:  # main() points logging at the captured stdout; give pytest its handlers back
        root.handlers[:] = handlers
        root.setLevel(level)
    out, err = capsys.readouterr()
    return Outcome(status, out, err)


def assert_one_error_line(err: str, *names: str) -> str:
    """stderr is exactly one ``error: ...`` line, without a traceback, naming each of ``names``."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for name in names:
        assert name in lines[0], f"{name!r} not in {lines[0]!r}"
    return lines[0].removeprefix("error: ")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
