"""A folder of images as labelled rows: one sub-folder per class, PNG or JPEG files in each, read with Pillow.

    photos/                 data.path=photos/
      cat/a.png             class "cat"
      dog/b.jpg             class "dog"

This is the layout image-classification users already keep (torchvision's ``ImageFolder``).  The classes
are the sub-folders' names in sorted order.  Every image is converted to one channel (``L``) when every
image of the folder is grey, else to three (``RGB``), and resized to ``data.image_size`` [H, W]; a pixel
becomes a number in [0, 1].  Each image is then one row of C·H·W numbers, in ``(C, H, W)`` order, so the
rest of the package reads it as it reads any table, and a model of images views it by ``image_shape``.

Files whose names start with a dot (``.DS_Store``) are skipped; any other file that is not an image
Pillow can decode is refused with one line naming it, before anything is trained.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .pixel_depth import to_eight_bits

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F", "P;L")


def is_image_folder(path) -> bool:
    """A folder with class sub-folders (and no ``.npy`` shards of its own): a folder of images."""
    path = Path(path)
    return path.is_dir() and not any(path.glob("*.npy")) and any(child.is_dir() for child in path.iterdir())


def image_files(folder) -> list[tuple[Path, str]]:
    """(file, class name) for every file in the class sub-folders, sorted; dot-files left out.  A class
    sub-folder without a file, or an image beside the class sub-folders, is refused, naming it."""
    folder = Path(folder)
    loose = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if loose:  # no class names it: left out, it would be an image the user believes was trained on
        raise DataError(f"{loose[0]}: an image outside the class sub-folders; move it into its class's")
    found = []
    for class_folder in sorted(child for child in folder.iterdir() if child.is_dir()):
        if class_folder.name.startswith("."):
            continue
        files = files_below(class_folder)
        # Left out, an empty one would silently make a classifier of one class fewer than the folder shows.
        if not files:
            raise DataError(f"{class_folder}: a class sub-folder with no images; add some or remove it")
        found += [(file, class_folder.name) for file in files]
    return found


def files_below(folder: Path) -> list[Path]:
    """Every file in ``folder`` and its sub-folders, sorted, but those in or under a dot-name (``.DS_Store``,
    ``.ipynb_checkpoints/``); a broken link is refused, naming it, rather than silently left out."""
    files = []
    for entry in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in entry.relative_to(folder).parts):
            continue
        if entry.is_symlink() and not entry.exists():
            raise DataError(f"{entry}: a broken link (its target {os.readlink(entry)} does not exist)")
        if entry.is_file():
            files.append(entry)
    return files


def image_inputs(sample_shape, path) -> list[Path] | None:
    """The images ``predict --data`` reads for a model of images (``sample_shape`` (C, H, W)): every file of a
    folder (its sub-folders too, dot-files left out), or one PNG or JPEG file; None for anything else
    (rows)."""
    path = Path(path)
    if len(sample_shape) != 3 or not (path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES):
        return None
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    files = files_below(path)
    if not files:
        raise DataError(f"{path}: no images in this folder")
    return files


def decode_image(file):
    """The image in ``file``, decoded now (a truncated or corrupt file fails here, not later), with Pillow;
    anything Pillow cannot read is one ``DataError`` line naming the file and Pillow's reason.  A 16-bit
    or float grey image comes back as 8-bit ``L`` at its true scale (``pixel_depth``).  A photo whose EXIF
    orientation says it was taken turned comes back upright, as a viewer shows it (a phone's portrait
    photo is stored on its side)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image.load()
            picture = _upright(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{file}: not an image that can be decoded ({reason})") from None
    return to_eight_bits(picture, file)


def _upright(image):
    """A copy of the decoded ``image`` turned as its EXIF orientation says; as stored when its EXIF block
    cannot be parsed (the pixels are sound, and a viewer then shows them as stored too)."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image)
    except (SyntaxError, struct.error, KeyError, TypeError, ValueError, OSError):
        return image.copy()


def _open(file: Path):
    if not file.is_file():
        raise DataError(f"{file}: no such file")
    if file.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(f"{file}: not an image (expected a {', '.join(IMAGE_SUFFIXES)} file)")
    return decode_image(file)


def read_image(file: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """One image as (C·H·W,) float64 in [0, 1]: converted to ``L`` (C = 1) or ``RGB`` (C = 3), resized
    to (H, W) with bilinear interpolation."""
    from PIL import Image

    channels, height, width = shape
    with _open(file) as image:
        image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
        pixels = np.asarray(image, dtype=np.float64) / 255.0  # (H, W) or (H, W, 3)
    return (pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)).reshape(-1)


def folder_channels(files: list[Path]) -> int:
    """1 when every image is grey, else 3."""
    grey = True
    for file in files:
        with _open(file) as image:
            grey = grey and image.mode in GREY_MODES
    return 1 if grey else 3


def read_images(files: list[Path], shape: tuple[int, int, int]) -> Tensor:
    """(len(files), C·H·W) float64 rows, each ``read_image``."""
    if not files:
        return torch.zeros(0, int(np.prod(shape)), dtype=torch.float64)
    rows = np.stack([read_image(file, shape) for file in files])
    return torch.from_numpy(rows)


def load_image_folder(folder, image_size, classes: list | None = None, channels: int | None = None):
    """(x (m, C·H·W) float64, y (m,) float64 class indices, classes, image_shape (C, H, W)).

    ``classes`` and ``channels`` (a training folder's) fix the class order and the channels, as for a
    separate test folder: a class sub-folder outside them is an error."""
    listed = image_files(folder)
    if not listed:
        raise DataError(
            f"{folder}: no images in its class sub-folders (expected {folder}/<class>/<image>.png)"
        )
    names = sorted({name for _, name in listed})
    if classes is None:
        if len(names) < 2:
            raise DataError(f"{folder}: one class sub-folder ({names[0]}); a classifier needs at least 2")
        classes = names
    unknown = [name for name in names if name not in classes]
    if unknown:
        raise DataError(
            f"{folder}: class sub-folder {unknown[0]!r} is not a class of the training data "
            f"({', '.join(map(str, classes))})"
        )
    files = [file for file, _ in listed]
    channels = channels or folder_channels(files)
    shape = (channels, int(image_size[0]), int(image_size[1]))
    x = read_images(files, shape)
    y = torch.tensor([float(classes.index(name)) for _, name in listed], dtype=torch.float64)
    return x, y, list(classes), shape
