"""Assembling the CDS: the cache, the assembler, and the /f/ resource, for the web role."""

from __future__ import annotations

from typing import Any

from twisted.internet import task

from cds.assembly import Assembler
from cds.cache import SpanCache
from cds.fetch import Fetcher
from cds.resource import FileResource
from sequenzia.authware.access import Authenticator
from sequenzia.authware.keys import KeyVerifier
from sequenzia.config import Config
from sequenzia.discordio import journal
from sequenzia.discordio.submit import submit

GiB = 1024**3
REFRESH_WAIT_S = 20


class UrlRenewal:
    """Fresh signed URLs through Discord I/O (the only process talking to Discord)."""

    def __init__(self, database: Any, bus: Any, clock: Any) -> None:
        self._db, self._bus, self._clock = database, bus, clock

    async def _run(self, payload: dict[str, Any]) -> None:
        job_id = await submit(self._db, self._bus, "refresh", payload, priority=journal.INTERACTIVE)
        for _ in range(REFRESH_WAIT_S * 10):
            job = await self._db.runInteraction("journal.get", journal.get, job_id)
            if job.state in ("done", "failed"):
                return
            await task.deferLater(self._clock, 0.1, lambda: None)

    async def file(self, file_id: str) -> None:
        await self._run({"file_id": file_id})

    async def record(self, eid: int) -> None:
        await self._run({"eid": eid})


def build_cds(
    database: Any, bus: Any, clock: Any, config: Config, authenticator: Any = None
) -> tuple[FileResource, SpanCache]:
    cache = SpanCache(config.cache_dir, config.cds.cache_budget_gib * GiB)
    renewal = UrlRenewal(database, bus, clock)
    fetch = Fetcher(clock, threads_max=4 * config.cds.fetch_parallel)  # a few files at once
    assembler = Assembler(database, cache, fetch, renewal.file, parallel=config.cds.fetch_parallel)
    resource = FileResource(
        database,
        authenticator or Authenticator(database, KeyVerifier(database, clock), clock),
        cache,
        assembler,
        renewal.record,
        accel=config.cds.accel,
    )
    return resource, cache
