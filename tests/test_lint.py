"""What CI holds the code to: ``ruff check`` with the rules in pyproject.toml (pyflakes, pycodestyle's
errors and warnings, lines of at most 110 characters, sorted imports) and ``ruff format``'s layout."""

from __future__ import annotations

import subprocess
import sys

import pytest
from reliability_helpers import ROOT

CHECKED = ["torch_logreg", "tests", "benchmarks", "train.py"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    pytest.importorskip("ruff", reason="ruff comes with the test extra: pip install -e '.[test]'")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_ruff_finds_nothing_in_the_package_tests_and_benchmarks():
    done = _ruff("check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_code_is_laid_out_as_ruff_format_lays_it_out():
    done = _ruff("format", "--check")
    assert done.returncode == 0, "run `ruff format` on:\n" + done.stdout + done.stderr
