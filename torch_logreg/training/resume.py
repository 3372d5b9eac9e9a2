"""What a resumed run may change, and the checks that keep a resumed run honest.

A run resumes from its checkpoint with the same model, data and optimizer; only
these keys may differ, because they change how long or how loudly the run goes
on, not what it computes up to the point it stopped.  Everything else must equal
the checkpoint's config, and the data files must be the ones it was trained on.
"""

from __future__ import annotations

from ..errors import ConfigError

MAY_CHANGE_ON_RESUME = frozenset(
    {
        "train.iterations",
        "optimizer.lr",
        "train.log_every",
        "train.checkpoint_every",
        "train.print_cost",
        "train.tol",
        "train.device",
        "name",
        # how the same rows are read and how many threads compute: not what they compute
        "train.threads",
        "data.stream",
        "data.memory_limit",
    }
)


def flatten(values: dict, prefix: str = "") -> dict:
    """{"optimizer": {"lr": 0.5}} -> {"optimizer.lr": 0.5}; mappings that are values (data.labels) stay."""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not prefix:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def changed_data_file(saved_fingerprint: dict | None, fingerprint: dict) -> str | None:
    """The first data key (``path``, ``test_path``) whose file differs from the checkpoint's record, or None.
    Only what both recorded is compared: a checkpoint from before the full hash has only the sampled one."""
    for key, recorded in (saved_fingerprint or {}).items():
        now = fingerprint.get(key) or {}
        if not isinstance(recorded, dict) or any(now.get(part) != value for part, value in recorded.items()):
            return key
    return None


def check_resume(
    saved_config: dict,
    config: dict,
    saved_fingerprint: dict | None,
    fingerprint: dict,
    done: int,
    iterations: int,
) -> None:
    """Raise ConfigError naming the first key (or data file) that would make the resumed run lie."""
    saved, now = flatten(saved_config), flatten(config)
    for key in sorted(set(saved) | set(now)):
        if key in MAY_CHANGE_ON_RESUME or key not in saved:
            continue  # a key newer than the checkpoint: its default was in force
        if saved.get(key) != now.get(key):
            raise ConfigError(
                f"resume: {key} is {now.get(key)!r} but the checkpoint was trained with "
                f"{saved.get(key)!r}; a resumed run may change only "
                f"{', '.join(sorted(MAY_CHANGE_ON_RESUME - {'name'}))}"
            )
    key = changed_data_file(saved_fingerprint, fingerprint)
    if key is not None:
        raise ConfigError(
            f"resume: data.{key} is not the file the checkpoint was trained on (its size or content "
            f"changed); start a new run for new data"
        )
    if iterations < done:
        raise ConfigError(
            f"resume: train.iterations={iterations} is fewer than the {done} iterations this run has "
            f"already done; give train.iterations >= {done}"
        )
