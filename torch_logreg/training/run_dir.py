"""The run folder: where it goes, and never silently reusing one that holds a run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from ..errors import UserInputError
from ..checkpoint import CHECKPOINT_NAME, is_temp_file

RUNS_ROOT = Path("runs")
# What marks a folder as a torch_logreg run, which --overwrite may empty.
RUN_MARKERS = (CHECKPOINT_NAME, "config.yaml", "events.out.tfevents.*")


# How each caller spells the choices: a Python caller passes arguments, a user types flags.
PYTHON_ARGUMENTS = {"resume": "resume=True", "overwrite": "overwrite=True", "run_dir": "run_dir"}
COMMAND_LINE_FLAGS = {"resume": "--resume", "overwrite": "--overwrite", "run_dir": "--run-dir"}


class RunDirError(UserInputError):
    """A run folder that would be overwritten, or that holds nothing to resume.

    Its message names the Python arguments (``resume=True``); ``command_line`` says
    the same with the flags (``--resume``), for the command line to print."""

    def __init__(self, message: str, command_line: str | None = None):
        super().__init__(message)
        self.command_line = command_line or message


def _refuse(words) -> RunDirError:
    """The error worded twice by ``words(spelling)``: for Python callers and for the command line."""
    return RunDirError(words(PYTHON_ARGUMENTS), command_line=words(COMMAND_LINE_FLAGS))


def prepare_run_dir(run_dir, config_name: str, resume: bool = False, overwrite: bool = False) -> Path:
    """``runs/<config name>-<timestamp>`` by default.  An existing run is refused unless
    ``resume`` (continue it) or ``overwrite`` (empty it first) is given; ``overwrite``
    empties only a folder that holds a run, never one with other files or subfolders.
    Raises ``RunDirError``, worded for Python callers (and in ``.command_line`` for users)."""
    if run_dir is None:
        if resume:
            raise _refuse(lambda say: f"{say['resume']} needs {say['run_dir']}, the run folder to continue")
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
        remove_stale_temp_files(run_dir)
        return run_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: exists and is not a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not holds_only_a_run(run_dir):
            raise _refuse(lambda say: f"{run_dir}: is not empty and does not hold just a torch_logreg run (no "
                                      f"{CHECKPOINT_NAME}, config.yaml or event file, or it has subfolders); choose "
                                      f"a new or empty {say['run_dir']} ({say['overwrite']} deletes only runs)")
        if not overwrite:
            raise _refuse(lambda say: f"{run_dir}: already holds a run; pass {say['resume']} to continue it or "
                                      f"{say['overwrite']} to replace it")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def holds_only_a_run(folder: Path) -> bool:
    """True for a folder of files with a run's marker among them: safe for --overwrite to empty."""
    entries = list(folder.iterdir())
    if any(entry.is_dir() and not entry.is_symlink() for entry in entries):
        return False
    return any(entry.match(pattern) for entry in entries for pattern in RUN_MARKERS)


def remove_stale_temp_files(run_dir: Path) -> list[Path]:
    """Delete the half-written temporary files a killed write left behind; returns them."""
    stale = [entry for entry in run_dir.iterdir() if is_temp_file(entry) and entry.is_file()]
    for entry in stale:
        entry.unlink(missing_ok=True)
    return stale
