"""Fetching a part from the CDN: a blocking HTTP client in a thread, into one buffer.

A part is tens of MiB. Through the reactor (treq) it arrived in 64 KiB pieces that were
collected and joined: two copies, many small allocations, and the reactor thread doing the
receiving while it also sends to clients. Here a pool thread reads the body straight into a
buffer of its announced length with `readinto` (the GIL is released while the socket
delivers), so a part costs one copy of its size and the reactor stays free.

Buffers are reused (`Fetcher.release`): a fresh 20 MiB buffer is 5,120 pages the kernel
must fault in and zero, about half again the time the bytes take to arrive on a fast link;
the first byte of a cold read waits for exactly that. Idle buffers are let go after a minute.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import threads
from twisted.python.threadpool import ThreadPool

TIMEOUT_S = 120
MAX_BYTES = 1024**3
"""No part is larger than this (Discord's largest per-file limit is well below)."""
PIECE = 1024 * 1024

_TLS = ssl.create_default_context()


def fetch_blocking(
    url: str, timeout: float = TIMEOUT_S, buffer_for: Callable[[int], bytearray] = bytearray
) -> tuple[int, bytearray | memoryview]:
    """(status, body) of a GET of `url`; the body of an error status is not kept.

    A body of announced length is read into `buffer_for(length)` (at least that long) and
    returned as a view of what arrived.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url[:100]!r}")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=_TLS
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", target or "/", headers={"Accept-Encoding": "identity"})
        response = connection.getresponse()
        if response.status != 200:
            return response.status, bytearray()
        return 200, _body(response, buffer_for)
    finally:
        connection.close()


def _body(
    response: http.client.HTTPResponse, buffer_for: Callable[[int], bytearray]
) -> bytearray | memoryview:
    length = response.getheader("content-length")
    if length is not None and length.isdigit() and int(length) <= MAX_BYTES:
        wanted = int(length)
        view, got = memoryview(buffer_for(wanted)), 0
        while got < wanted:
            n = response.readinto(view[got : min(got + PIECE, wanted)])
            if not n:
                break  # cut short: the caller sees the length differ
            got += n
        return view[:got]
    body = bytearray()  # no length announced: read to the end, bounded
    while len(body) <= MAX_BYTES:
        piece = response.read(PIECE)
        if not piece:
            break
        body += piece
    return body


_pools: dict[int, ThreadPool] = {}


def _pool(reactor: Any, threads_max: int) -> ThreadPool:
    """One fetch pool per reactor (several CDS sites in one process share it)."""
    pool = _pools.get(id(reactor))
    if pool is None:
        pool = _pools[id(reactor)] = ThreadPool(0, threads_max, name="cds-fetch")
        pool.start()

        def stop() -> None:
            _pools.pop(id(reactor), None)
            pool.stop()

        reactor.addSystemEventTrigger("during", "shutdown", stop)
    return pool


class Fetcher:
    """Fetches parts in threads of their own pool, so long downloads never hold up the
    reactor pool's short jobs (cache writes), into buffers it reuses (see `release`)."""

    def __init__(self, reactor: Any, threads_max: int, keep: int = 4, idle_s: float = 60.0) -> None:
        self._reactor = reactor
        self._pool = _pool(reactor, threads_max)
        self._keep, self._idle_s = keep, idle_s
        self._free: list[bytearray] = []
        self._lock = threading.Lock()
        self._trim: Any = None

    def _buffer(self, size: int) -> bytearray:
        with self._lock:
            for n, buffer in enumerate(self._free):
                if len(buffer) >= size:
                    return self._free.pop(n)
        return bytearray(size)

    def release(self, body: Any) -> None:
        """`body` (a fetch's answer) is no longer used: its buffer may serve another fetch."""
        buffer = body.obj if isinstance(body, memoryview) else body
        if isinstance(body, memoryview):
            body.release()
        if not isinstance(buffer, bytearray):
            return
        with self._lock:
            if len(self._free) < self._keep:
                self._free.append(buffer)
        if self._trim is not None and self._trim.active():
            self._trim.reset(self._idle_s)
        else:
            self._trim = self._reactor.callLater(self._idle_s, self._let_go)

    def _let_go(self) -> None:
        with self._lock:
            self._free.clear()

    async def __call__(self, url: str) -> tuple[int, Any]:
        return await threads.deferToThreadPool(
            self._reactor, self._pool, fetch_blocking, url, TIMEOUT_S, self._buffer
        )
