"""The run folder: where it goes, and never silently reusing one that holds a run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .checkpoint import CHECKPOINT_NAME
from .errors import UserInputError

RUNS_ROOT = Path("runs")


class RunDirError(UserInputError):
    """A run folder that would be overwritten, or that holds nothing to resume."""


def prepare_run_dir(run_dir, config_name: str, resume: bool = False, overwrite: bool = False) -> Path:
    """``runs/<config name>-<timestamp>`` by default.  An existing run is refused unless
    ``resume`` (continue it) or ``overwrite`` (empty it first) is given."""
    if run_dir is None:
        if resume:
            raise RunDirError("resume needs the run folder to continue")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = RUNS_ROOT / f"{config_name}-{stamp}"
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = RUNS_ROOT / f"{config_name}-{stamp}-{suffix}"
    run_dir = Path(run_dir)
    if resume:
        if not (run_dir / CHECKPOINT_NAME).is_file():
            raise RunDirError(f"{run_dir}: no {CHECKPOINT_NAME} to resume from")
        return run_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: exists and is not a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not overwrite:
            raise RunDirError(f"{run_dir}: already holds a run; pass --resume to continue it or --overwrite to replace it")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir
