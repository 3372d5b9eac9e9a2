"""The ``data.*`` keys a run sets but its data cannot use: each gets one warning line, not silence.

Whether ``data.image_size`` and ``data.stream`` apply depends on what ``data.path`` is (a folder of
images, ``.npy`` rows, a CSV), which only the files tell, so this is asked of the data, not of the
config's schema (``training.config.ignored_keys`` says it of the optimizer and model keys).
"""

from __future__ import annotations

from .image_folder import is_image_folder
from .shards import row_addressable


def ignored_data_keys(data) -> list[str]:
    """One line for each of ``data.image_size`` (only a folder of images is resized) and ``data.stream``
    (only ``.npy`` rows are read block by block) that ``data`` sets but its files cannot use."""
    lines = []
    folder = bool(data.path) and is_image_folder(data.path)
    default_size = type(data).model_fields["image_size"].get_default(call_default_factory=True)
    if "image_size" in data.model_fields_set and list(data.image_size) != default_size and not folder:
        what = f"data.path={data.path} holds rows" if data.path else f"data.name={data.name} is built in"
        lines.append(
            f"data.image_size={list(data.image_size)} is ignored: it resizes the images of a folder "
            f"(data.path=photos/, one sub-folder per class), and {what}"
        )
    if data.stream:
        whole = [p for p in (data.path, data.test_path) if p and not row_addressable(p)]
        if not data.path or whole:
            read = f"{whole[0]} is" if whole else f"data.name={data.name} is built in and"
            lines.append(
                f"data.stream=true is ignored: only .npy rows (a file or a folder of shards, for "
                f"data.path and data.test_path) are streamed, and {read} read whole"
            )
    return lines
