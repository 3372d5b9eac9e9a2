"""What ``train.py art --resume`` may change, as a resumed training run may change only a few keys.

A resumed art run continues the image in the checkpoint against the same objective.  Any other size, scale
schedule, network, weight, seed or dtype would optimize another objective from the middle of this one:
``metrics.json`` would then divide the first objective's initial style loss by the second's final one
(a wrong ``style_loss_fell`` with exit 0), a changed ``art.size`` met Adam's saved moments of the old
shape with a traceback, and a changed ``art.lr`` was silently replaced by the saved one when Adam's
state was loaded.  So those keys, and the style and content images, are refused in one line naming
the key; the keys below only say how long to go on and how often to report.
"""

from __future__ import annotations

from pathlib import Path

from ..checkpoint import CHECKPOINT_NAME
from ..errors import ConfigError
from .checkpoint_check import check_art_checkpoint
from .config import ArtConfig

CHANGEABLE_ON_RESUME = ("iterations", "print_every", "save_every", "check_grad")


def check_resume_changes(
    run_dir, checkpoint: dict, overrides: ArtConfig, style: list[str], content: str | None
) -> None:
    """Raise ``CheckpointError`` when the checkpoint's art fields are not what an art run writes, and
    ``ConfigError`` when ``overrides`` (the keys set on this command line), ``style`` or ``content`` differ
    from the saved run's beyond ``CHANGEABLE_ON_RESUME``, or ask for fewer evaluations than done."""
    config = check_art_checkpoint(checkpoint, Path(run_dir) / CHECKPOINT_NAME).model_dump()  # defaults filled
    saved = checkpoint["art"]
    allowed = ", ".join(f"art.{name}" for name in CHANGEABLE_ON_RESUME)
    for name in sorted(overrides.model_fields_set):
        given, before = getattr(overrides, name), config.get(name)
        if name not in CHANGEABLE_ON_RESUME and given != before:
            raise ConfigError(
                f"resume: art.{name} is {given} but {run_dir} was made with {before}; a resumed art run "
                f"may change only {allowed} (start a new run for another {name})"
            )
    done = saved["iteration"]
    if "iterations" in overrides.model_fields_set and overrides.iterations < done:
        raise ConfigError(
            f"resume: art.iterations={overrides.iterations} is below the {done} evaluations {run_dir} "
            f"has done at its current scale; give at least {done}"
        )
    _check_same_images(run_dir, "--style", style, saved.get("style") or [])
    if content is not None:
        _check_same_images(run_dir, "--content", [content], _as_list(saved.get("content")))
    _check_unchanged_files(run_dir, saved)


def image_fingerprints(style: list[str], content: str | None) -> dict[str, str]:
    """{name: BLAKE2b of the file's bytes} for the style and content images that are files (a built-in
    photograph, read from scikit-learn, has none): what a resume checks the files against."""
    from ..data.fingerprint import file_fingerprint

    names = [*style, *([content] if content is not None else [])]
    return {name: file_fingerprint(name)["blake2b"] for name in names if Path(name).is_file()}


def _check_unchanged_files(run_dir, saved: dict) -> None:
    """The run's style and content files hold the bytes they held (checkpoints from before the
    fingerprints hold none, and are not checked)."""
    for name, before in (saved.get("images") or {}).items():
        now = image_fingerprints([name], None).get(name)
        if now != before:
            why = "no longer exists" if now is None else "changed since the run read it"
            raise ConfigError(
                f"resume: {name} {why}, so {run_dir} cannot go on against the same style and content; "
                f"start a new run"
            )


def _check_same_images(run_dir, flag: str, given: list[str], before: list[str]) -> None:
    """Images given again on resume must be the run's own (an empty ``given``: not given, keep them)."""
    if given and [_same_file_key(name) for name in given] != [_same_file_key(name) for name in before]:
        raise ConfigError(
            f"resume: {flag} {','.join(given)} is not the image {run_dir} was made with "
            f"({','.join(before) or 'none'}); resume without {flag}, or start a new run"
        )


def _as_list(value) -> list[str]:
    return [] if value is None else [value]


def _same_file_key(name: str) -> str:
    """Two spellings of one file (``./a.png``, ``a.png``) compare equal; a built-in name is its name."""
    path = Path(name)
    return str(path.resolve()) if path.exists() else name
