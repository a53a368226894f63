"""Fetching a part from the CDN: a blocking HTTP client in a thread, into one buffer.

A part is tens of MiB. Through the reactor (treq) it arrived in 64 KiB pieces that were
collected and joined: two copies, many small allocations, and the reactor thread doing the
receiving while it also sends to clients. Here a pool thread reads the body straight into a
buffer of its announced length with `readinto` (the GIL is released while the socket
delivers), so a part costs one copy of its size and the reactor stays free.
"""

from __future__ import annotations

import http.client
import ssl
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import threads
from twisted.python.threadpool import ThreadPool

TIMEOUT_S = 120
MAX_BYTES = 1024**3
"""No part is larger than this (Discord's largest per-file limit is well below)."""
PIECE = 1024 * 1024

_TLS = ssl.create_default_context()


def fetch_blocking(url: str, timeout: float = TIMEOUT_S) -> tuple[int, bytearray]:
    """(status, body) of a GET of `url`; the body of an error status is not kept."""
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
        return 200, _body(response)
    finally:
        connection.close()


def _body(response: http.client.HTTPResponse) -> bytearray:
    length = response.getheader("content-length")
    if length is not None and length.isdigit() and int(length) <= MAX_BYTES:
        body = bytearray(int(length))
        view, got = memoryview(body), 0
        while got < len(body):
            n = response.readinto(view[got : got + PIECE])
            if not n:
                break  # cut short: the caller sees the length differ
            got += n
        del view
        del body[got:]
        return body
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
    reactor pool's short jobs (cache writes) that the first byte waits for."""

    def __init__(self, reactor: Any, threads_max: int) -> None:
        self._reactor = reactor
        self._pool = _pool(reactor, threads_max)

    async def __call__(self, url: str) -> tuple[int, Any]:
        return await threads.deferToThreadPool(self._reactor, self._pool, fetch_blocking, url)
