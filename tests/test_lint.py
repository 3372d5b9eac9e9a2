"""The linter CI holds the code to: ``ruff check`` with the rules in pyproject.toml (pyflakes,
pycodestyle's errors and warnings, sorted imports)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from reliability_helpers import ROOT


def test_ruff_finds_nothing_in_the_package_tests_and_benchmarks():
    pytest.importorskip("ruff", reason="ruff comes with the test extra: pip install -e '.[test]'")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "torch_logreg",
            "tests",
            "benchmarks",
            "train.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
