"""Checkpoints and files that are written atomically and loaded without executing code.

Writes go to a temporary file in the same folder, are flushed to disk, and
replace the target with ``os.replace``: a crash or ``kill -9`` mid-write leaves
the previous file whole, and at most a hidden ``.<name>.<hex>.tmp`` beside it
(``--resume`` deletes those). New files get the user's normal permissions
(0644 under umask 022). Loads pass ``weights_only=True`` explicitly, which
PyTorch honours even when ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set, so a
crafted pickle cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import secrets
import warnings
from pathlib import Path

import torch

from .checkpoint_fields import check_fields
from .errors import CheckpointError

CHECKPOINT_NAME = "checkpoint.pt"
TEMP_FILE = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")


def temp_name(path: Path) -> Path:
    """The hidden sibling that a write of ``path`` goes through: ``.<name>.<12 hex digits>.tmp``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def is_temp_file(path: Path) -> bool:
    """A file named as ``temp_name`` names them: what a killed write leaves behind."""
    return TEMP_FILE.fullmatch(path.name) is not None


def _create_temp(path: Path) -> tuple[Path, int]:
    # Mode 0o666 through os.open: the kernel applies the umask (and any default ACL) exactly
    # as for a plain open(), so the file gets the user's normal permissions (0644 under
    # umask 022), not mkstemp's 0600, and the umask is never changed to read it.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = temp_name(path)
        try:
            return temp, os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: could not create a temporary file beside {path.name}")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        temp, handle = _create_temp(path)
    except OSError as error:  # a read-only folder: name the user's file, not the hidden temporary one
        raise OSError(error.errno, error.strerror, str(path)) from error
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError):  # a full disk, a quota: the same, for the file being written
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def save_checkpoint(path: str | Path, state: dict) -> None:
    """torch.save ``state`` (tensors, numbers, strings, lists, dicts) atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint file, or ``checkpoint.pt`` inside a run folder, with weights_only=True."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # torch.save's zip, or a legacy pickle
        raise CheckpointError(
            f"{path}: not a checkpoint (a checkpoint is a file written by torch.save, "
            f"such as a run folder's {CHECKPOINT_NAME})"
        )
    try:
        with warnings.catch_warnings():
            # A foreign pickle draws a protocol warning before it is refused; the refusal says enough.
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            state = torch.load(
                path, map_location="cpu", weights_only=True
            )  # explicit: env vars cannot unset it
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path}: refused to load: it holds Python objects beyond tensors and plain values, "
            f"which could run code ({_unsupported(error)})"
        ) from None
    except Exception as error:  # noqa: BLE001 - a damaged file can fail anywhere inside the unpickler
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first[:200]})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path}: not a torch_logreg checkpoint (no 'model' entry)")
    _check_fields(state, path)
    check_fields(state, path)  # what each field holds: tensors' dtypes, rng states, history lists
    return state


# The type of each field a checkpoint may hold: a file that loads but holds another type is refused by name.
FIELD_TYPES = {
    "format": int,
    "iteration": int,
    "seconds": (int, float),
    "model": dict,
    "config": dict,
    "optimizer": dict,
    "data_fingerprint": dict,
    "history": dict,
    "rng": dict,
    "standardizer": (dict, type(None)),
    "classes": list,
    "feature_names": list,
}


def _check_fields(state: dict, path: Path) -> None:
    for field, kind in FIELD_TYPES.items():
        if field in state and (not isinstance(state[field], kind) or isinstance(state[field], bool)):
            raise CheckpointError(
                f"{path}: field {field!r} holds {type(state[field]).__name__} "
                f"{str(state[field])[:40]!r}, not {_kind_name(kind)}; the checkpoint is damaged"
            )
    if field := next(
        (
            name
            for name, value in state["model"].items()
            if not isinstance(name, str) or not isinstance(value, torch.Tensor)
        ),
        None,
    ):
        raise CheckpointError(
            f"{path}: model entry {str(field)[:40]!r} is not a tensor; the checkpoint is damaged"
        )


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)


def _unsupported(error: Exception) -> str:
    """The line of torch's message naming what was refused, e.g. 'Unsupported global: GLOBAL posix.system'."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if "Unsupported" in line or "unsupported" in line]
    text = (named or lines or ["unsupported content"])[0]
    return text.removeprefix("WeightsUnpickler error: ")
