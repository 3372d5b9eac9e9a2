"""A texture or style-transfer run: its folder, its logs, its checkpoint, and the Python API.

The run folder (``training.run_dir``: marker, lock, never overwritten silently) holds
``result.png``, ``config.yaml``, ``command.txt``, ``metrics.json`` (final and initial losses,
iterations, seconds), ``content_style_result.png`` and TensorBoard events: ``art/total``,
``art/style``, ``art/content``, ``art/tv`` per evaluation and ``art/image`` every ``save_every``.
SIGINT or SIGTERM finish the evaluation in progress, save the image and a checkpoint, and raise
``ArtInterrupted``; ``resume=True`` goes on from there (L-BFGS restarts its history, Adam keeps
its moments).
"""

from __future__ import annotations

import contextlib
import logging
import signal
from pathlib import Path

import torch
import yaml

from ..checkpoint import (
    CHECKPOINT_NAME,
    atomic_write_text,
    load_checkpoint,
    save_checkpoint,
)
from ..errors import CheckpointError, ConfigError
from ..training.loop import StopRequests
from ..training.metrics import strict_json
from ..training.run_dir import open_run_dir
from ..training.tb_logging import RunWriter
from . import images
from .config import ArtConfig, art_config
from .ignored_keys import warn_ignored_art_keys
from .memory import check_memory
from .networks import build_network
from .resume_checks import check_resume_changes, image_fingerprints
from .synthesize import Progress, StopRequested, stylize_image

logger = logging.getLogger(__name__)


class ArtInterrupted(Exception):
    """SIGINT or SIGTERM stopped the run; ``result.png`` and a checkpoint hold the image as it was."""

    def __init__(self, signum: int, iteration: int, run_dir: Path, prog: str | None = None):
        stopped = (
            f"interrupted by {signal.Signals(signum).name} at iteration {iteration}; result.png and a "
            f"checkpoint saved in {run_dir}"
        )
        super().__init__(f"{stopped}, continue with run(..., run_dir={str(run_dir)!r}, resume=True)")
        self.command_line = f"{stopped}, continue with: {prog or 'train.py'} art --run-dir {run_dir} --resume"
        self.signum, self.iteration, self.run_dir = signum, iteration, run_dir


def stylize(content=None, style="flower.jpg", **options) -> torch.Tensor:
    """Texture synthesis (``content=None``) or style transfer, in memory: the image (1, 3, H, W) in [0, 1].

    ``content`` and ``style`` are file names (or ``flower.jpg`` / ``china.jpg``, built in); ``style`` may
    be a list for a blend.  ``options`` are the ``art.*`` keys, e.g. ``size=128, iterations=100``.
    """
    config = art_config(options=options)
    styles = [style] if isinstance(style, str) else list(style)
    style_pictures, content_picture = _pictures(styles, content, config)
    network = build_network(config)
    image, _ = stylize_image(network, config, style_pictures, content_picture)
    return _finish(image, content_picture, config)


def run(
    style: list[str],
    content: str | None,
    config: ArtConfig,
    run_dir=None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    command: list[str] | None = None,
) -> Path:
    """The command line's run: everything ``stylize`` does, into a run folder.  Returns the folder."""
    checkpoint = load_checkpoint(run_dir) if resume else None
    if checkpoint is not None:
        config, style, content = _resumed_inputs(checkpoint, run_dir, config, style, content)
    style_pictures, content_picture = _pictures(style, content, config)
    network = build_network(config)
    name = "art-style" if content is not None else "art-texture"
    folder, lock = open_run_dir(run_dir, name, resume=resume, overwrite=overwrite)
    with contextlib.ExitStack() as stack:
        stack.callback(lock.release)
        _write_inputs(folder, config, style, content, command)
        progress, image, adam_state = _restored(checkpoint, folder)
        writer = RunWriter(folder, purge_step=progress.step + 1 if resume else None)
        stack.callback(writer.close)
        stop = stack.enter_context(StopRequests("finishing this evaluation, then saving the image"))

        def save(image, progress, pending=False):
            _save_checkpoint(folder, image, progress, config, style, content, pending)

        def on_evaluation(image, losses, progress):
            _log(writer, image, losses, progress, config)
            if not progress.initial:
                progress.initial = dict(losses)
            progress.final = dict(losses)
            if config.save_every and progress.iteration % config.save_every == 0:
                save(image, progress, pending=True)
            if stop.signum is not None:
                save(image, progress, pending=True)
                raise StopRequested

        try:
            image, progress = stylize_image(
                network,
                config,
                style_pictures,
                content_picture,
                on_evaluation=on_evaluation,
                progress=progress,
                image=image,
                adam_state=adam_state,
            )
        except StopRequested:
            raise _interrupted(folder, content_picture, config, stop.signum, progress.step, command) from None
        save(image, progress)
        _write_results(folder, writer, image, progress, style_pictures, content_picture, config)
    return folder


def _resumed_inputs(checkpoint: dict, run_dir, config: ArtConfig, style: list[str], content: str | None):
    """(config, style, content) of a resumed run: the saved ones, with what the command line set again."""
    saved = checkpoint.get("art")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{run_dir}: the checkpoint holds no art run to resume")
    check_resume_changes(run_dir, checkpoint, config, style, content)
    config = _resumed_config(saved["config"], config)
    return config, style or saved["style"], content if content is not None else saved["content"]


def _write_inputs(folder: Path, config: ArtConfig, style: list[str], content: str | None, command) -> None:
    """config.yaml (the art keys, the style and content images) and command.txt."""
    atomic_write_text(
        folder / "config.yaml",
        yaml.safe_dump({"art": config.model_dump(), "style": style, "content": content}, sort_keys=False),
    )
    if command:
        atomic_write_text(folder / "command.txt", " ".join(command) + "\n")


def _restored(checkpoint: dict | None, folder: Path) -> tuple[Progress, torch.Tensor | None, dict | None]:
    """(progress, image, Adam's state) to go on from: a fresh start without a checkpoint."""
    if checkpoint is None:
        return Progress(), None, None
    state = checkpoint["art"]
    progress = Progress(
        scale=state["scale"],
        iteration=state["iteration"],
        step=state["step"],
        initial=state["initial"],
        seconds=state["seconds"],
    )
    logger.info("resuming %s at scale %d, iteration %d", folder, progress.scale + 1, progress.iteration)
    return progress, checkpoint["model"]["image"], state.get("adam")


def _interrupted(folder: Path, content_picture, config: ArtConfig, signum: int, step: int, command):
    """result.png from the checkpoint just saved, and the error that says how to go on."""
    state = load_checkpoint(folder)
    images.save_png(_finish(state["model"]["image"], content_picture, config), folder / "result.png")
    return ArtInterrupted(signum, step, folder, command[0] if command else None)


def _write_results(folder: Path, writer, image, progress, style_pictures, content_picture, config) -> None:
    """result.png, content_style_result.png, metrics.json and the last TensorBoard image; the closing line."""
    result = _finish(image, content_picture, config)
    images.save_png(result, folder / "result.png")
    shown = [images.to_tensor(content_picture, config.size)] if content_picture is not None else []
    shown += [images.to_tensor(picture, config.size) for picture in style_pictures] + [result]
    images.save_png(images.side_by_side(shown, result.shape[-2]), folder / "content_style_result.png")
    fell = progress.initial.get("style", 0) / max(progress.final.get("style", 0), 1e-300)
    metrics = {
        "initial": progress.initial,
        "final": progress.final,
        "iterations": progress.step,
        "seconds": round(progress.seconds, 3),
        "style_loss_fell": fell,
    }
    atomic_write_text(folder / "metrics.json", strict_json(metrics))
    writer.writer.add_image("art/image", images.to_hwc_uint8(result), progress.step, dataformats="HWC")
    logger.info(
        "style loss %.4g -> %.4g (%.0f× lower), %d iterations in %.1f s",
        progress.initial.get("style", float("nan")),
        progress.final.get("style", float("nan")),
        fell,
        progress.step,
        progress.seconds,
    )


def _pictures(style: list[str], content: str | None, config: ArtConfig):
    if config.style_blend is not None and len(config.style_blend) != len(style):
        raise ConfigError(
            f"art.style_blend has {len(config.style_blend)} weights for {len(style)} style images"
        )
    warn_ignored_art_keys(config, has_content=content is not None)
    style_pictures = [images.open_picture(name) for name in style]
    content_picture = images.open_picture(content) if content is not None else None
    check_memory(config, style_pictures, content_picture)
    return style_pictures, content_picture


def _finish(image: torch.Tensor, content_picture, config: ArtConfig) -> torch.Tensor:
    image = image.detach().float().clamp(0, 1)
    if config.original_colors and content_picture is not None:
        image = images.keep_colors(image, images.to_tensor(content_picture, config.size))
    return image


def _resumed_config(saved: dict, overrides: ArtConfig) -> ArtConfig:
    """The saved config, with the keys the user set again on the command line."""
    config = ArtConfig(**saved)
    for name in overrides.model_fields_set:
        setattr(config, name, getattr(overrides, name))
    return config


def _save_checkpoint(
    folder: Path, image, progress: Progress, config: ArtConfig, style, content, pending: bool
) -> None:
    """``pending``: saved from inside an evaluation, whose update is not applied yet.  The checkpoint then
    counts one evaluation fewer, so that a resumed run evaluates this image again and applies its update:
    a resumed Adam run takes exactly the steps of an uninterrupted one."""
    state = {
        "scale": progress.scale,
        "iteration": progress.iteration - pending,
        "step": progress.step - pending,
        "initial": progress.initial,
        "seconds": progress.seconds,
        "config": config.model_dump(),
        "style": style,
        "content": content,
        "images": image_fingerprints(style, content),
        "adam": progress.adam.state_dict() if progress.adam is not None else None,
    }
    save_checkpoint(folder / CHECKPOINT_NAME, {"model": {"image": image.detach().cpu()}, "art": state})


def _log(writer: RunWriter, image, losses: dict, progress: Progress, config: ArtConfig) -> None:
    writer.scalars(progress.step, {f"art/{name}": value for name, value in losses.items()})
    if progress.iteration % config.print_every == 0 or progress.iteration == config.iterations:
        logger.info(
            "Iteration %d / %d (scale %d/%d): total %.6g, style %.6g, content %.6g, tv %.6g",
            progress.iteration,
            config.iterations,
            progress.scale + 1,
            config.scales,
            losses["total"],
            losses["style"],
            losses["content"],
            losses["tv"],
        )
    last = progress.scale == config.scales - 1 and progress.iteration == config.iterations
    if (
        config.save_every and progress.iteration % config.save_every == 0 and not last
    ):  # the end logs the result
        writer.writer.add_image("art/image", images.to_hwc_uint8(image), progress.step, dataformats="HWC")
