"""Pictures in and out: files or the built-in photographs, resizing, PNGs, colour transfer.

Images are float tensors (1, 3, H, W) in [0, 1].  The built-in names ``flower.jpg`` and ``china.jpg``
are scikit-learn's sample photographs (``sklearn.datasets.load_sample_image``, CC BY 2.0), used when no
file of that name exists.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..checkpoint import atomic_write_bytes
from ..data.image_folder import decode_image
from ..errors import DataError

BUILT_IN = ("flower.jpg", "china.jpg")


def open_picture(name: str) -> Image.Image:
    """A file, or a built-in photograph by name; one ``DataError`` line for anything else."""
    if not name.strip():  # Path("") is the current folder: "no such image file (a folder)" named nothing
        raise DataError("an empty image name in --style or --content (a comma too many?)")
    path = Path(name)
    if not path.exists() and name in BUILT_IN:
        try:
            from sklearn.datasets import load_sample_image
        except ImportError:
            raise DataError(
                f"{name}: the built-in photographs come with scikit-learn, which is not "
                f"installed (pip install scikit-learn), and there is no file of that "
                f"name"
            ) from None
        return Image.fromarray(load_sample_image(name))
    if not path.is_file():
        raise DataError(f"{name}: no such image file" + (" (a folder)" if path.is_dir() else ""))
    return decode_image(path).convert("RGB")


def to_tensor(picture: Image.Image, longest_side: int | None = None) -> torch.Tensor:
    """The picture as (1, 3, H, W) in [0, 1], resized (Lanczos) to a longest side of ``longest_side``."""
    picture = picture.convert("RGB")
    if longest_side is not None:
        picture = picture.resize(fitted(picture.size, longest_side), Image.Resampling.LANCZOS)
    array = np.asarray(picture, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def fitted(size: tuple[int, int], longest_side: int) -> tuple[int, int]:
    """(width, height) scaled so that the longer one is ``longest_side``, at least 1 px each."""
    width, height = size
    scale = longest_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_image(name: str, longest_side: int) -> torch.Tensor:
    return to_tensor(open_picture(name), longest_side)


def resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of (1, 3, H, W), for the coarse-to-fine schedule (a data step, not in any gradient)."""
    return torch.nn.functional.interpolate(image, size=(height, width), mode="bilinear", align_corners=False)


def to_pil(image: torch.Tensor) -> Image.Image:
    array = image.detach().float().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
    array = (array * 255).round().astype(np.uint8)
    return Image.fromarray(array)


def to_hwc_uint8(image: torch.Tensor) -> np.ndarray:
    return np.asarray(to_pil(image))


def save_png(image: torch.Tensor, path: Path) -> None:
    """Write the picture atomically: a crash leaves the previous file whole."""
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


def side_by_side(images: list[torch.Tensor], height: int, gap: int = 4) -> torch.Tensor:
    """The pictures scaled to one height, left to right on white: (1, 3, height, total width)."""
    scaled = [
        resize(image, height, max(1, round(image.shape[-1] * height / image.shape[-2]))) for image in images
    ]
    parts = []
    for index, image in enumerate(scaled):
        if index:
            parts.append(torch.ones(1, 3, height, gap))
        parts.append(image.clamp(0, 1))
    return torch.cat(parts, dim=3)


# YIQ (NTSC): Y is the luminance; I and Q carry the colour.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def keep_colors(result: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The result's luminance with the content's colour (I and Q), as neural-style's ``original_colors``."""
    to_yiq = _RGB_TO_YIQ.to(result.dtype)
    content = resize(content, result.shape[-2], result.shape[-1])
    yiq_result = torch.einsum("ij,njhw->nihw", to_yiq, result)
    yiq_content = torch.einsum("ij,njhw->nihw", to_yiq, content)
    mixed = torch.cat([yiq_result[:, :1], yiq_content[:, 1:]], dim=1)
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(to_yiq), mixed).clamp(0, 1)
