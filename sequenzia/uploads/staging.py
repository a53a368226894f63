"""The staged bytes of uploads, on storage the web and io roles share.

An upload's parts land at their offsets in one sparse file, `<staging>/<id>.data`, so they
may arrive in any order and in parallel, and Discord I/O can cut the file into parts of
any size later (a lowered limit means a re-split). Blocking file I/O: call from a thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from sequenzia.spans.hashing import new_hasher

CHUNK = 1024 * 1024


class PartRefused(ValueError):
    """A part whose bytes do not match what the client said (length or hash)."""


def staged_path(staging_dir: Path, upload_id: str) -> Path:
    return staging_dir / f"{upload_id}.data"


def create(staging_dir: Path, upload_id: str, size: int) -> Path:
    """An empty, sparse staging file of the upload's size."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    path = staged_path(staging_dir, upload_id)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def write_part(
    path: Path, offset: int, length: int, source: BinaryIO, xxh3_128: str, label: str
) -> None:
    """Check a part's bytes against its length and hash, then write them at `offset`.

    Nothing is written unless both match; memory stays at one chunk whatever the size.
    """
    hasher, seen = new_hasher(), 0
    source.seek(0)
    while chunk := source.read(CHUNK):
        seen += len(chunk)
        if seen > length:
            break
        hasher.update(chunk)
    if seen != length:
        raise PartRefused(
            f"{label} must be {length} bytes; {'more' if seen > length else seen} arrived"
        )
    if hasher.hexdigest() != xxh3_128:
        raise PartRefused(
            f"{label} does not match its hash: got {hasher.hexdigest()}, expected {xxh3_128}"
        )
    source.seek(0)
    fd = os.open(path, os.O_WRONLY)
    try:
        position = offset
        while chunk := source.read(CHUNK):
            os.pwrite(fd, chunk, position)
            position += len(chunk)
        os.fsync(fd)  # acknowledged parts must survive a crash
    finally:
        os.close(fd)


def read_range(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    if len(data) != length:
        raise OSError(f"{path} is shorter than expected ({offset + len(data)} < {offset + length})")
    return data


def remove(staging_dir: Path, upload_id: str) -> None:
    staged_path(staging_dir, upload_id).unlink(missing_ok=True)
