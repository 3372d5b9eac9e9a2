"""``data.image_shape`` against data that know their own shape (the built-in digits, a folder of images).

``data.image_shape`` says how a file of flattened pixels folds into images.  Data that carry their own
shape need no such word, and a different one of the same pixel count was taken silently: the digits
with ``data.image_shape=[1, 4, 16]`` trained a CNN on 8×8 images read as 4×16 ones, their neighbours
torn apart, with exit 0; on a folder the message counted pixels of ``data.image_size`` without naming
it.  A shape that is not the data's own is refused, naming both.
"""

from __future__ import annotations

from ..errors import DataError


def check_own_image_shape(data, own_shape) -> None:
    """Raise ``DataError`` when ``data.image_shape`` is set and is not ``own_shape`` (None: the data have
    no shape of their own, and ``data.image_shape`` is what gives them one)."""
    if data.image_shape is None or own_shape is None or _chw(data.image_shape) == _chw(own_shape):
        return
    if data.path:  # a folder of images: each is resized to data.image_size and made grey or RGB
        raise DataError(
            f"data.image_shape {list(data.image_shape)} does not apply to the folder of images "
            f"{data.path}: its images are read as {list(own_shape)} (data.image_size "
            f"{list(data.image_size)}); leave data.image_shape unset and set data.image_size [H, W]"
        )
    raise DataError(
        f"data.image_shape {list(data.image_shape)} is not the shape of the built-in {data.name} images "
        f"({list(own_shape)}): leave data.image_shape unset for them"
    )


def _chw(shape) -> tuple[int, ...]:
    shape = tuple(int(side) for side in shape)
    return shape if len(shape) == 3 else (1, *shape)
