"""xxh3-128, the hash of every part and every whole file (hex, 32 characters).

Hashing large data blocks the caller: run these in a thread (`deferToThread`) from
reactor code.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import xxhash

CHUNK = 1024 * 1024


def xxh3_128_hex(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def new_hasher() -> xxhash.xxh3_128:
    """An incremental hasher: `.update(bytes)`, then `.hexdigest()`."""
    return xxhash.xxh3_128()


def hash_stream(stream: BinaryIO, length: int | None = None) -> str:
    """Hash `length` bytes (or everything) from `stream`, reading in bounded chunks."""
    h = xxhash.xxh3_128()
    remaining = length
    while remaining is None or remaining > 0:
        chunk = stream.read(CHUNK if remaining is None else min(CHUNK, remaining))
        if not chunk:
            break
        h.update(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    if remaining:
        raise EOFError(f"stream ended {remaining} bytes early")
    return h.hexdigest()


def hash_file(path: Path, offset: int = 0, length: int | None = None) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return hash_stream(f, length)


def hash_chunks(chunks: Iterable[bytes]) -> str:
    h = xxhash.xxh3_128()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()
