"""``art.*`` keys that the run's other choices do not use: one warning each, as the trainer's ignored keys.

``art.network=random art.weights=vgg19.pth`` ran the random network with exit 0 and never said that the
weights were not read; ``art.init=content`` without ``--content`` started from noise.  A key the user set
(to other than its default) that this run ignores is said once, as an ``IgnoredKeyWarning``.
"""

from __future__ import annotations

import warnings

from ..errors import IgnoredKeyWarning
from .config import ArtConfig

# key -> (the choice that decides, a test of the config that is true when the key is used, who uses it)
_USED_WHEN = {
    "weights": ("art.network", lambda config, content: config.network != "random", "vgg19, cnn"),
    "pooling": ("art.network", lambda config, content: config.network == "vgg19", "vgg19"),
    "width": ("art.network", lambda config, content: config.network == "random", "random"),
    "lr": ("art.optimizer", lambda config, content: config.optimizer == "adam", "adam"),
    "content_weight": ("--content", lambda config, content: content, "style transfer"),
    "original_colors": ("--content", lambda config, content: content, "style transfer"),
    "init": ("--content", lambda config, content: content or config.init != "content", "style transfer"),
}


def ignored_art_keys(config: ArtConfig, has_content: bool) -> list[str]:
    """One line for each key set to other than its default that this run does not use."""
    lines = []
    for name, (chooser, used, users) in _USED_WHEN.items():
        value = getattr(config, name)
        default = ArtConfig.model_fields[name].get_default(call_default_factory=True)
        if name in config.model_fields_set and value != default and not used(config, has_content):
            chosen = (
                "a texture (no --content)"
                if chooser == "--content"
                else f"{chooser}={getattr(config, chooser.removeprefix('art.'))}"
            )
            lines.append(f"art.{name}={value} is ignored: {chosen} does not use it (used by {users})")
    return lines


def warn_ignored_art_keys(config: ArtConfig, has_content: bool) -> None:
    for line in ignored_art_keys(config, has_content):
        warnings.warn(line, IgnoredKeyWarning, stacklevel=3)
