"""Fingerprints of the data files a run reads, so that a resume refuses data that changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .image_folder import image_files, is_image_folder
from .read_table import existing_file

FINGERPRINT_BLOCK = 64 * 1024
# The full hash reads the file in chunks of this size: memory stays flat whatever the file's size.
HASH_CHUNK = 8 << 20


def data_fingerprint(data) -> dict:
    """{"path": {...}, "test_path": {...}} for the files a DataConfig uses; {} for built-in data.

    Each file gets its size and a BLAKE2b hash of every byte, so a resume refuses a file in which
    anything changed (one flipped label at the same size included).  It also keeps the SHA-256 of
    the first, middle and last 64 KiB that checkpoints before the full hash recorded, so those
    still resume.
    """
    return {key: file_fingerprint(getattr(data, key)) for key in ("path", "test_path") if getattr(data, key)}


def folder_fingerprint(path: Path) -> dict:
    """A folder of .npy shards, or of images: each file's name and ``file_fingerprint``, in one digest per
    kind (an image's name is its path below the folder, class sub-folder included)."""
    sampled, full = hashlib.sha256(), hashlib.blake2b()
    size = 0
    files = [file for file, _ in image_files(path)] if is_image_folder(path) else sorted(path.glob("*.npy"))
    for shard in files:
        print_ = file_fingerprint(shard)
        size += print_["size"]
        name = shard.relative_to(path).as_posix()
        sampled.update(f"{name}:{print_['size']}:{print_['sampled_sha256']};".encode())
        full.update(f"{name}:{print_['size']}:{print_['blake2b']};".encode())
    return {"size": size, "sampled_sha256": sampled.hexdigest(), "blake2b": full.hexdigest()}


def file_fingerprint(path: str | Path) -> dict:
    """{"size": bytes, "blake2b": hash of every byte, "sampled_sha256": hash of three 64 KiB blocks}."""
    if Path(path).is_dir():
        return folder_fingerprint(Path(path))
    path = existing_file(path)
    size = path.stat().st_size
    sampled, full = hashlib.sha256(str(size).encode()), hashlib.blake2b()
    with open(path, "rb") as handle:
        if size <= 3 * FINGERPRINT_BLOCK:
            sampled.update(handle.read())
        else:
            for start in (0, (size - FINGERPRINT_BLOCK) // 2, size - FINGERPRINT_BLOCK):
                handle.seek(start)
                sampled.update(handle.read(FINGERPRINT_BLOCK))
        handle.seek(0)
        buffer = bytearray(HASH_CHUNK)
        view = memoryview(buffer)
        while read := handle.readinto(buffer):
            full.update(view[:read])
    return {"size": size, "blake2b": full.hexdigest(), "sampled_sha256": sampled.hexdigest()}
