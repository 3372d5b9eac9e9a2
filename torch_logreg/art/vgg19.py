"""VGG-19 from a local state_dict in torchvision's key layout, as hand-written layers (nothing downloaded).

torchvision's ``vgg19().features`` is a Sequential: conv 3×3 (padding 1) and ReLU pairs, with a 2×2
max-pool after each block of 2, 2, 4, 4 and 4 convolutions, so its state_dict holds
``features.{0,2,5,7,10,12,14,16,19,21,23,25,28,30,32,34}.weight`` and ``.bias``.  ``classifier.*``
keys may be there too and are not used.  Style layers relu1_1 … relu5_1 and content layer relu4_2,
as Gatys et al.; pooling ``avg`` (theirs) or ``max`` (VGG's own).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UserInputError
from .layers import Branch, Conv, FeatureNetwork, Pool, ReLU

# Output channels per convolution; "M" a pooling layer.
LAYOUT = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu4_2",)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # torchvision's input normalisation


class WeightsError(UserInputError):
    """A weights file that is missing, unreadable, or not in the expected layout."""


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """``features.N.weight`` / ``.bias`` -> shape, in layer order."""
    shapes, index, channels = {}, 0, 3
    for item in LAYOUT:
        if item == "M":
            index += 1
            continue
        shapes[f"features.{index}.weight"] = (item, channels, 3, 3)
        shapes[f"features.{index}.bias"] = (item,)
        channels, index = item, index + 2  # the conv and its ReLU
    return shapes


def read_state_dict(path) -> dict:
    """A state_dict file, loaded with weights_only=True; one error line if it is missing or not one."""
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"art.weights={path}: is a folder; art.network=vgg19 takes a state_dict file")
    if not path.is_file():
        raise WeightsError(f"art.weights={path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - pickle, zip and torch errors alike: not a readable state_dict
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise WeightsError(f"art.weights={path}: not a readable state_dict ({first})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"art.weights={path}: not a state_dict (a mapping of names to tensors)")
    return state


def check_layout(state: dict, path) -> None:
    """Raise ``WeightsError`` naming the first key that does not fit torchvision's VGG-19 layout."""
    shapes = expected_shapes()
    for name, shape in shapes.items():
        if name not in state:
            raise WeightsError(
                f"art.weights={path}: key {name} is missing: not a torchvision VGG-19 state_dict"
            )
        if tuple(state[name].shape) != shape:
            raise WeightsError(
                f"art.weights={path}: key {name} has shape {tuple(state[name].shape)}, VGG-19's is {shape}"
            )
    for name in state:
        if name not in shapes and not name.startswith("classifier."):
            raise WeightsError(
                f"art.weights={path}: unexpected key {name}: not a torchvision VGG-19 state_dict"
            )


def vgg19_network(path, pooling: str = "avg") -> FeatureNetwork:
    """The hand-written VGG-19 feature layers up to relu5_1, from a torchvision state_dict file."""
    state = read_state_dict(path)
    check_layout(state, path)
    layers, taps, index = [], {}, 0
    block, number = 1, 1
    for item in LAYOUT:
        if item == "M":
            layers.append(Pool(pooling, 2))
            block, number, index = block + 1, 1, index + 1
            continue
        weight, bias = state[f"features.{index}.weight"], state[f"features.{index}.bias"]
        layers += [Conv(weight.float(), bias.float(), 1, 1), ReLU()]
        taps[f"relu{block}_{number}"] = index + 1
        number, index = number + 1, index + 2
    used = {name: tap for name, tap in taps.items() if name in STYLE_LAYERS + CONTENT_LAYERS}
    return FeatureNetwork(
        [Branch(layers, used)],
        list(STYLE_LAYERS),
        list(CONTENT_LAYERS),
        mean=torch.tensor(MEAN),
        std=torch.tensor(STD),
    )
