"""The feature network a config names: ``random`` (default), ``vgg19`` or ``cnn`` from ``art.weights``."""

from __future__ import annotations

from ..errors import ConfigError
from .cnn_features import cnn_network
from .config import ArtConfig
from .layers import FeatureNetwork
from .random_net import random_multiscale_network
from .vgg19 import vgg19_network


def build_network(config: ArtConfig) -> FeatureNetwork:
    if config.network == "random":
        return random_multiscale_network(config.seed, width=config.width)
    if config.weights is None:
        raise ConfigError(f"art.network={config.network} needs art.weights=PATH (nothing is downloaded)")
    if config.network == "cnn":
        return cnn_network(config.weights)
    return vgg19_network(config.weights, config.pooling)
