"""Reassembling a spanned file into the cache: parts fetched in parallel, each verified.

One `Assembly` per file at a time in a process; every cold reader of that file follows
it (`wait_beyond`) and streams the verified bytes from its partial file while the rest
arrives. Parts are fetched up to `parallel` ahead (the first alone) and written in order; each is checked
against its caption's xxh3-128 before a byte of it is written, and the whole against the
header's before the file is published (atomic rename). A failure names the part; it
never yields wrong bytes. Expired CDN URLs are refreshed through Discord I/O, once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.python.failure import Failure

from cds.cache import CacheWriter, SpanCache
from sequenzia.spans import store as spans
from sequenzia.spans.hashing import new_hasher, xxh3_128_hex

log = Logger()

EXPIRY_MARGIN_MS = 60_000
WRITE_PIECE = 1024 * 1024

"""A part is written to the cache (and offered to readers) this much at a time."""
FIRST_PIECE = 256 * 1024
"""The first bytes of a file, written in the reactor thread for a quick first byte."""


class AssemblyError(Exception):
    """A spanned file that cannot be served as it should be; the message names the part."""


class Assembly:
    """A spanned file being assembled; readers follow `ready` (bytes verified and written)."""

    def __init__(self, file_id: str, size: int) -> None:
        self.file_id = file_id
        self.size = size
        self.ready = 0
        self.partial: Path | None = None
        self.result: Path | None = None
        self.error: AssemblyError | None = None
        self._waiters: list[defer.Deferred[None]] = []

    @property
    def finished(self) -> bool:
        return self.result is not None or self.error is not None

    def wait_beyond(self, position: int) -> defer.Deferred[None]:
        """Fires once more than `position` bytes are ready, or the assembly ended."""
        if self.ready > position or self.finished:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiters.append(waiter)
        return waiter

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)


Fetch = Callable[[str], Awaitable[tuple[int, bytes]]]
Refresh = Callable[[str], Awaitable[None]]


def _write(writer: CacheWriter, hasher: Any, data: bytes | memoryview) -> None:
    writer.write(data)
    hasher.update(data)


class Assembler:
    """Starts assemblies, one per file at a time, and remembers the ones under way."""

    def __init__(
        self, database: Any, cache: SpanCache, fetch: Fetch, refresh: Refresh, parallel: int = 4
    ) -> None:
        self._db = database
        self._cache = cache
        self._fetch = fetch
        self._refresh = refresh
        self._parallel = parallel
        self._running: dict[str, Assembly] = {}

    def assemble(self, header: dict[str, Any]) -> Assembly:
        """The assembly of this spanned file: the one under way, or a new one."""
        file_id = str(header["id"])
        running = self._running.get(file_id)
        if running is not None:
            return running
        assembly = Assembly(file_id, int(header["size"]))
        self._running[file_id] = assembly
        d = defer.ensureDeferred(self._assemble(assembly, header))

        def ended(outcome: Any) -> None:
            self._running.pop(file_id, None)
            if isinstance(outcome, Failure):
                error = outcome.value
                if not isinstance(error, AssemblyError):
                    log.failure("assembling {file} failed", outcome, file=file_id)
                    error = AssemblyError(f"file {file_id} could not be assembled: {error}")
                assembly.error = error
            assembly._notify()

        d.addBoth(ended)
        return assembly

    async def _parts(self, file_id: str, count: int) -> list[dict[str, Any]]:
        parts = await self._db.runInteraction("parts", spans.parts_for_read, file_id)
        have = {int(p["idx"]) for p in parts}
        missing = [n for n in range(count) if n not in have]
        if missing:
            raise AssemblyError(
                f"part {missing[0] + 1} of {count} of file {file_id} is missing from the index"
            )
        return parts

    async def _assemble(self, assembly: Assembly, header: dict[str, Any]) -> None:
        file_id, count = assembly.file_id, int(header["part_count"])
        # A reader that missed the cache may get here just after the assembly it missed
        # published the file and ended: that file is the result, nothing is fetched again.
        cached = await threads.deferToThread(self._cache.lookup, file_id)
        if cached is not None:
            assembly.ready, assembly.result = assembly.size, cached
            return
        parts = await self._parts(file_id, count)
        soon = int(time.time() * 1000) + EXPIRY_MARGIN_MS
        if any(not p["url"] or int(p["url_expires_ts"] or 0) < soon for p in parts):
            await self._refresh(file_id)
            parts = await self._parts(file_id, count)
        refreshed = [False]

        async def fetch(index: int) -> bytes:
            part = parts[index]
            status, data = await self._fetch(str(part["url"]))
            if status in (403, 404, 410) and not refreshed[0]:
                refreshed[0] = True  # signed URL expired under us: renew all once
                await self._refresh(file_id)
                parts[:] = await self._parts(file_id, count)
                part = parts[index]
                status, data = await self._fetch(str(part["url"]))
            label = f"part {index + 1} of {count} of file {file_id}"
            if status != 200:
                raise AssemblyError(f"{label}: the CDN answered {status}")
            if len(data) != int(part["size"]):
                raise AssemblyError(f"{label}: {len(data)} bytes arrived, {part['size']} expected")
            if part["xxh3_128"]:
                digest = await threads.deferToThread(xxh3_128_hex, data)
                if digest != part["xxh3_128"]:
                    raise AssemblyError(
                        f"{label} does not match its hash (got {digest}, expected {part['xxh3_128']})"
                    )
            return data

        writer = await threads.deferToThread(self._cache.writer, file_id)
        assembly.partial = writer.partial
        hasher = new_hasher()
        pending: dict[int, defer.Deferred[bytes]] = {}
        release = getattr(self._fetch, "release", None)  # the buffer may be reused

        def fetch_ahead(start: int, end: int) -> None:
            for ahead in range(start, min(count, end)):
                if ahead not in pending:
                    pending[ahead] = defer.ensureDeferred(fetch(ahead))

        try:
            # The first part alone: the first byte waits for it, and parts fetched beside
            # it share the bandwidth and would delay it (bench/spanned.py: 8x one part's
            # fetch time). Then `parallel` at a time, one of them being written.
            fetch_ahead(0, 1)
            for index in range(count):
                if index:
                    fetch_ahead(index, index + self._parallel)
                data = await pending.pop(index)
                view = memoryview(data)
                head = 0
                if index == 0 and len(data):
                    # The first bytes go out before anything else starts: written here (a
                    # small write to the page cache), the waiting readers send them at
                    # once; fetches started first would compete for the CPU and delay them
                    # (bench/spanned.py: the first byte came 35 ms after part 0 was verified).
                    head = min(FIRST_PIECE, len(data))
                    _write(writer, hasher, view[:head])
                    assembly.ready += head
                    assembly._notify()
                fetch_ahead(index + 1, index + self._parallel)
                # verified: readers may have it piece by piece, as soon as each is written
                for start in range(head, len(data), WRITE_PIECE):
                    piece = view[start : start + WRITE_PIECE]
                    await threads.deferToThread(_write, writer, hasher, piece)
                    assembly.ready += len(piece)
                    assembly._notify()
                    piece.release()
                view.release()
                if release is not None:
                    release(data)
            if header["xxh3_128"] and hasher.hexdigest() != header["xxh3_128"]:
                raise AssemblyError(
                    f"file {file_id}: its parts add up to xxh3-128 {hasher.hexdigest()}, "
                    f"not {header['xxh3_128']}"
                )
            assembly.result = await threads.deferToThread(writer.publish)
        except BaseException:
            for d in pending.values():
                d.addErrback(lambda _: None)  # fetches still under way: their outcome is moot
            await threads.deferToThread(writer.abort)
            raise
