"""Average colours of images that came from Discord itself (posted there, then mirrored).

Images uploaded through Sequenzia get their colour when stored; the rest are sampled here, a
batch at a time in the background: download from the CDN, decode small, store 0xRRGGBB. An
image the CDN no longer has, or that does not decode, is marked `UNKNOWN` (-1) so it is not
tried again; one that failed for another reason (the network, a 5xx) is tried again on a
later run of the process. The dark/light and similar-colour filters only consider colours
>= 0.
"""

from __future__ import annotations

from typing import Any

import discord
from twisted.internet import defer, threads

from sequenzia.discordio import operations
from sequenzia.discordio.periodic import Periodic
from sequenzia.discordio.refresher import refresh_rows
from sequenzia.junefs import store
from sequenzia.spans.preview import average_colour

UNKNOWN = -1
MAX_BYTES = 32 * 1024 * 1024


def _unsampled(txn: Any, limit: int, skip: set[int]) -> list[tuple[int, str]]:
    txn.execute(
        "SELECT eid, url FROM records WHERE avg_color IS NULL AND kind = 'file'"
        " AND content_type LIKE 'image/%' AND url IS NOT NULL AND attachment_size <= ?"
        " ORDER BY eid DESC LIMIT ?",
        (MAX_BYTES, limit + len(skip)),
    )
    rows = [(int(r[0]), str(r[1])) for r in txn.fetchall() if int(r[0]) not in skip]
    return rows[:limit]


def _url(txn: Any, eid: int) -> str:
    txn.execute("SELECT url FROM records WHERE eid = ?", (eid,))
    return str(txn.fetchone()[0])


class ColourSampler(Periodic):
    """Samples `batch` images every `interval_s` seconds (none when all are known)."""

    what = "sampling colours"

    def __init__(
        self,
        database: Any,
        bridge: Any,
        clock: Any,
        *,
        batch: int = 20,
        parallel: int = 2,
        interval_s: float = 30.0,
    ) -> None:
        super().__init__(clock, interval_s)
        self._db = database
        self._bridge = bridge
        self._batch = batch
        self._parallel = parallel
        self._failed: set[int] = set()  # failed for now: not again in this process
        self.sampled = 0

    def run_now(self) -> defer.Deferred[int]:
        return self.sample_now()

    def sample_now(self) -> defer.Deferred[int]:
        """Sample one batch now; fires with how many records got a colour (or UNKNOWN)."""
        return defer.ensureDeferred(self._sample())

    async def _sample(self) -> int:
        rows = await self._db.runInteraction(
            "colours.unsampled", _unsampled, self._batch, self._failed
        )
        if not rows:
            return 0
        pending = iter(rows)
        done = 0

        async def worker() -> None:
            nonlocal done
            for eid, url in pending:
                colour = await self._colour(eid, url)
                if colour is None:
                    self._failed.add(eid)
                    continue
                await self._db.runInteraction(
                    "colours.store", store.set_average_colour, eid, colour
                )
                done += 1

        await defer.gatherResults(
            [defer.ensureDeferred(worker()) for _ in range(self._parallel)], consumeErrors=True
        )
        self.sampled += done
        return done

    async def _colour(self, eid: int, url: str) -> int | None:
        """The colour, UNKNOWN when there will never be one, None to try again later."""
        try:
            try:
                data = await self._bridge.call(operations.download, url)
            except (discord.NotFound, discord.Forbidden):  # expired? renew the URL, try once more
                if not await refresh_rows(self._db, self._bridge, eid=eid):
                    raise
                url = await self._db.runInteraction("colours.url", _url, eid)
                data = await self._bridge.call(operations.download, url)
        except (discord.NotFound, discord.Forbidden) as e:
            self.log.info("no colour for record {eid}: {error}", eid=eid, error=e)
            return UNKNOWN
        except Exception as e:
            self.log.warn("no colour for record {eid} yet: {error}", eid=eid, error=e)
            return None
        colour = await threads.deferToThread(average_colour, data)
        return UNKNOWN if colour is None else colour
