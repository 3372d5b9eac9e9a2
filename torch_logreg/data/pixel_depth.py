"""Images deeper than 8 bits, brought to 8 bits at their true scale.

Pillow opens a 16-bit grey PNG as mode ``I;16`` (or ``I``), whose values run over 0 … 65535, and a float
TIFF as ``F``.  ``Image.convert("L")`` or ``convert("RGB")`` of such an image clips every value above 255,
so a 16-bit picture of middle grey becomes white; scaling each image by its own largest value would
brighten a dark picture as much as a bright one.  Both give the model pixels at a scale other than the
one the file holds, without a sign.  Here a 16-bit value v is v / 65535 of full scale, exactly as an
8-bit value v is v / 255; float pixels are taken as they are when they lie in [0, 1], and refused
otherwise (there is no scale to read them at).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def to_eight_bits(image, file):
    """``image`` unchanged when Pillow's 8-bit conversions read it right, else its grey pixels as an
    8-bit ``L`` image at the file's own scale; one ``DataError`` naming ``file`` if it has none."""
    from PIL import Image

    if image.mode not in (*SIXTEEN_BIT_MODES, "F"):
        return image
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        full_scale, what = 1.0, "float pixels outside [0, 1]"
    else:
        full_scale, what = 65535.0, "pixel values outside the 16-bit range 0 … 65535"
    if values.size and not (np.isfinite(values).all() and 0 <= values.min() and values.max() <= full_scale):
        raise DataError(
            f"{file}: {what} (from {values.min():g} to {values.max():g}); cannot tell their scale"
        )
    return Image.fromarray(np.uint8(np.round(255 * values / full_scale)), mode="L")
