"""The run folder: where it goes, whose it is, and who may write to it.

Three guarantees live here:

* **A folder is ours only if we made it.**  A new run folder gets a marker file,
  ``.torch_logreg_run``, that only this project writes.  ``overwrite`` empties a folder
  only if it carries that marker and holds nothing but files a run writes; it never
  touches the current folder, a parent of it, the home folder or a filesystem root.
* **Run folders from before the marker** (older releases wrote none) are recognised
  when every entry in them is a file a run writes (``checkpoint.pt``, ``config.yaml``,
  ``metrics.json``, ``command.txt``, TensorBoard event files …) and there are no
  subfolders: they get the marker the first time they are resumed or overwritten.
  A folder with anything else in it is never emptied (``resume``, which deletes
  nothing, may continue a run beside the user's files).
* **One writer per folder.**  A run holds an OS lock (``fcntl.flock``) on
  ``.torch_logreg_lock`` inside it for its whole life; a second writer is refused with
  the holder's process id.  The kernel drops the lock when its process dies, so a
  killed run never blocks the next one.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

from ..checkpoint import CHECKPOINT_NAME, atomic_write_text, is_temp_file
from ..errors import UserInputError

RUNS_ROOT = Path("runs")
MARKER_NAME = ".torch_logreg_run"
LOCK_NAME = ".torch_logreg_lock"
# Every file a run writes into its folder; anything else in a folder makes it not (only) a run.
RUN_FILES = frozenset(
    {
        MARKER_NAME,
        LOCK_NAME,
        CHECKPOINT_NAME,
        "config.yaml",
        "metrics.json",
        "command.txt",
        "world.json",
        "summary.csv",
        "result.png",
        "content_style_result.png",
    }
)
RUN_FILE_PATTERNS = ("events.out.tfevents.*",)
# Written only by runs made since the marker (art): a folder of them without the marker is not ours.
FILES_SINCE_THE_MARKER = frozenset({"result.png", "content_style_result.png"})


# How each caller spells the choices: a Python caller passes arguments, a user types flags.
PYTHON_ARGUMENTS = {"resume": "resume=True", "overwrite": "overwrite=True", "run_dir": "run_dir"}
COMMAND_LINE_FLAGS = {"resume": "--resume", "overwrite": "--overwrite", "run_dir": "--run-dir"}


class RunDirError(UserInputError):
    """A run folder that would be overwritten, that holds nothing to resume, or that another process writes.

    Its message names the Python arguments (``resume=True``); ``command_line`` says
    the same with the flags (``--resume``), for the command line to print."""

    def __init__(self, message: str, command_line: str | None = None):
        super().__init__(message)
        self.command_line = command_line or message


def _refuse(words) -> RunDirError:
    """The error worded twice by ``words(spelling)``: for Python callers and for the command line."""
    return RunDirError(words(PYTHON_ARGUMENTS), command_line=words(COMMAND_LINE_FLAGS))


class RunLock:
    """An exclusive ``flock`` on ``<run>/.torch_logreg_lock`` holding the owner's pid; released by
    ``release()``, by garbage collection, or by the kernel when the process dies."""

    def __init__(self, folder: Path):
        import fcntl

        self.path = folder / LOCK_NAME
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = os.read(self._fd, 64).decode("ascii", "replace").strip() or "unknown"
            self.release()
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunDirError(
                    f"{folder}: another torch_logreg process (pid {holder}) is writing to this run "
                    f"folder; wait for it to finish or choose another folder"
                ) from None
            raise
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __del__(self):
        self.release()


def open_run_dir(
    run_dir, config_name: str, resume: bool = False, overwrite: bool = False
) -> tuple[Path, RunLock]:
    """The run folder, made or checked, with this process's lock on it (see the module docstring).

    ``runs/<config name>-<timestamp>`` by default.  An existing run is refused unless ``resume``
    (continue it) or ``overwrite`` (empty it first) is given.  Raises ``RunDirError``, worded for
    Python callers (and in ``.command_line`` for users)."""
    if run_dir is None:
        if resume:
            raise _refuse(lambda say: f"{say['resume']} needs {say['run_dir']}, the run folder to continue")
        run_dir = _new_default_folder(config_name)
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: exists and is not a folder")
    if resume:
        if not (run_dir / CHECKPOINT_NAME).is_file():
            raise RunDirError(f"{run_dir}: no {CHECKPOINT_NAME} to resume from")
        # Resuming deletes nothing, so files of the user's beside the run (predictions, notes) may stay.
        lock = RunLock(run_dir)
        remove_stale_temp_files(run_dir)
        _write_marker(run_dir)
        return run_dir, lock
    if run_dir.is_dir() and any(run_dir.iterdir()):
        _check_is_a_run(run_dir, "overwrite")
        if not overwrite:
            raise _refuse(
                lambda say: (
                    f"{run_dir}: already holds a run; pass {say['resume']} to continue it or "
                    f"{say['overwrite']} to replace it"
                )
            )
        _check_not_a_protected_folder(run_dir)
        lock = RunLock(run_dir)
        for entry in run_dir.iterdir():  # the lock file stays: it is what keeps a second writer out
            if entry.name != LOCK_NAME:
                entry.unlink()
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(run_dir)
    _write_marker(run_dir)
    return run_dir, lock


def prepare_run_dir(run_dir, config_name: str, resume: bool = False, overwrite: bool = False) -> Path:
    """``open_run_dir`` without keeping the lock: the folder, checked and ready."""
    folder, lock = open_run_dir(run_dir, config_name, resume=resume, overwrite=overwrite)
    lock.release()
    return folder


def run_name(config_name: str, data, model_name: str, num_classes: int) -> str:
    """A run's name: its config file's, or without one (``default``) its data's and model's,
    the distinguishing part first (TensorBoard's run tables cut names short): ``digits-softmax``,
    ``flower-mlp``."""
    if config_name != "default":
        return config_name
    source = Path(data.path).stem if getattr(data, "path", None) else data.name
    model = "softmax" if model_name == "logistic" and num_classes > 2 else model_name
    return f"{source}-{model}"


def _new_default_folder(config_name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = RUNS_ROOT / f"{config_name}-{stamp}"
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = RUNS_ROOT / f"{config_name}-{stamp}-{suffix}"
    return run_dir


def is_run_file(entry: Path) -> bool:
    """A file that a run writes into its folder (or a half-written temporary one of them)."""
    if entry.is_symlink() or not entry.is_file():
        return False
    return entry.name in RUN_FILES or is_temp_file(entry) or any(entry.match(p) for p in RUN_FILE_PATTERNS)


def not_run_files(folder: Path) -> list[Path]:
    """The entries of ``folder`` that a run did not write, sorted: empty for a folder holding only a run."""
    return sorted(entry for entry in folder.iterdir() if not is_run_file(entry))


def holds_only_a_run(folder: Path) -> bool:
    """A folder holding a run and nothing else: marked, or (made before the marker) run files only."""
    entries = list(folder.iterdir())
    if not entries or not_run_files(folder):
        return False
    return any(entry.name == MARKER_NAME for entry in entries) or is_unmarked_run(entries)


def is_unmarked_run(entries: list[Path]) -> bool:
    """Entries of a run an earlier release made, before the marker: among them its checkpoint or TensorBoard
    events (which no one writes by hand), and none of the files only later runs write.  A user's folder
    of ``config.yaml`` and ``result.png`` (names anyone may choose) is not one, and is never emptied."""
    names = {entry.name for entry in entries}
    evidence = CHECKPOINT_NAME in names or any(
        entry.match(pattern) for entry in entries for pattern in RUN_FILE_PATTERNS
    )
    return evidence and not names & FILES_SINCE_THE_MARKER


def _check_is_a_run(run_dir: Path, action: str) -> None:
    strangers = not_run_files(run_dir)
    if strangers:
        first = strangers[0]
        kind = "folder" if first.is_dir() and not first.is_symlink() else "file"
        raise _refuse(
            lambda say: (
                f"{run_dir}: holds {kind} {first.name!r}, which torch_logreg did not write, so "
                f"it is not a run folder to {action}; choose a new or empty {say['run_dir']} "
                f"({say['overwrite']} deletes only runs)"
            )
        )
    if not holds_only_a_run(run_dir):
        raise _refuse(
            lambda say: (
                f"{run_dir}: is not a torch_logreg run folder; choose a new or empty "
                f"{say['run_dir']} ({say['overwrite']} deletes only runs)"
            )
        )


def _check_not_a_protected_folder(run_dir: Path) -> None:
    """Never empty the current folder, a parent of it, the home folder or a filesystem root."""
    target = run_dir.resolve()
    here = Path.cwd().resolve()
    protected = {Path(target.anchor), Path.home().resolve(), here, *here.parents}
    if target in protected:
        raise _refuse(
            lambda say: (
                f"{run_dir}: is the current folder, a parent of it, the home folder or a "
                f"filesystem root; {say['overwrite']} never empties such a folder"
            )
        )


def _write_marker(run_dir: Path) -> None:
    marker = run_dir / MARKER_NAME
    if not marker.is_file():
        atomic_write_text(
            marker,
            json.dumps(
                {
                    "project": "torch_logreg",
                    "marker_format": 1,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                }
            )
            + "\n",
        )


def remove_stale_temp_files(run_dir: Path) -> list[Path]:
    """Delete the half-written temporary files a killed write left behind; returns them."""
    stale = [entry for entry in run_dir.iterdir() if is_temp_file(entry) and entry.is_file()]
    for entry in stale:
        entry.unlink(missing_ok=True)
    return stale


def is_run_folder_file(path) -> bool:
    """True when ``path`` is one of a run folder's own files (its checkpoint, config, metrics, events …):
    an output that must never be written over, whatever flag is given."""
    path = Path(path)
    in_a_run = (path.parent / MARKER_NAME).is_file() or (path.parent / CHECKPOINT_NAME).is_file()
    return in_a_run and (
        path.name in RUN_FILES or is_temp_file(path) or any(path.match(p) for p in RUN_FILE_PATTERNS)
    )
