"""Large buffers go back to the system when freed, so a long transfer does not grow the heap.

A spanned file moves through the server as parts (20 MiB by default) held in bytes objects,
several at once in different threads. glibc's malloc serves a large block with mmap and
unmaps it on free, but the first such free raises its mmap threshold (up to 32 MiB) and
its trim threshold to twice that, so every later part comes from the heap of whichever
thread's arena allocated it and stays resident after it is freed. The server's peak RSS
then grew with the file: 415 MiB for 256 MiB, 760 MiB for 1 GiB (bench/spanned.py). A
fixed threshold turns the dynamic one off: parts are mapped and unmapped, memory stays at
the parts in flight.
"""

from __future__ import annotations

import ctypes
import ctypes.util

from twisted.logger import Logger

log = Logger()

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
LARGE = 1024 * 1024
"""Blocks from this size up are mapped on their own and returned to the system when freed."""


def return_large_buffers(threshold: int = LARGE) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes; False where there is no glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): their allocators do not behave so
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, threshold) != 1:
        log.warn("glibc refused mmap threshold {threshold}", threshold=threshold)
        return False
    return True
