"""Keeping signed attachment URLs fresh (reference.mdx: they expire, about 24 h).

Every few minutes, the URLs of records and parts that expire within the margin are
renewed in batches of 50 through `POST /attachments/refresh-urls`; `refresh_now()` does
the same at once (for a reader that found one expired).
"""

from __future__ import annotations

import time
from typing import Any

from twisted.internet import defer

from sequenzia.discordio import operations
from sequenzia.discordio.periodic import Periodic
from sequenzia.junefs.messages import url_expiry_ms

BATCH = 50


def _expiring(txn: Any, before_ms: int, limit: int) -> list[tuple[str, Any, str]]:
    """(table, key, url) of URLs expiring before `before_ms`, soonest first."""
    txn.execute(
        "SELECT eid, url FROM records WHERE url IS NOT NULL AND url_expires_ts < ? ORDER BY url_expires_ts LIMIT ?",
        (before_ms, limit),
    )
    found: list[tuple[str, Any, str]] = [("records", int(r[0]), r[1]) for r in txn.fetchall()]
    txn.execute(
        "SELECT file_id, idx, url FROM file_parts WHERE url IS NOT NULL AND url_expires_ts < ?"
        " ORDER BY url_expires_ts LIMIT ?",
        (before_ms, limit),
    )
    found += [("file_parts", (r[0], int(r[1])), r[2]) for r in txn.fetchall()]
    return found


def _store(txn: Any, updates: list[tuple[str, Any, str]]) -> None:
    for table, key, url in updates:
        expires = url_expiry_ms(url)
        if table == "records":
            txn.execute(
                "UPDATE records SET url = ?, url_expires_ts = ? WHERE eid = ?", (url, expires, key)
            )
        else:
            txn.execute(
                "UPDATE file_parts SET url = ?, url_expires_ts = ? WHERE file_id = ? AND idx = ?",
                (url, expires, *key),
            )


def _urls_of(txn: Any, file_id: str | None, eid: int | None) -> list[tuple[str, Any, str]]:
    """(table, key, url) of one record's attachment, or of every part of one spanned file."""
    if eid is not None:
        txn.execute("SELECT eid, url FROM records WHERE eid = ? AND url IS NOT NULL", (eid,))
        return [("records", int(r[0]), r[1]) for r in txn.fetchall()]
    txn.execute(
        "SELECT file_id, idx, url FROM file_parts WHERE file_id = ? AND url IS NOT NULL ORDER BY idx",
        (file_id,),
    )
    return [("file_parts", (r[0], int(r[1])), r[2]) for r in txn.fetchall()]


async def refresh_rows(
    database: Any, bridge: Any, *, file_id: str | None = None, eid: int | None = None
) -> int:
    """Renew the URLs of one record or one spanned file now (a reader found one expired)."""
    rows = await database.runInteraction("urls.of", _urls_of, file_id, eid)
    done = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        fresh = await bridge.call(operations.refresh_urls, [url for _, _, url in batch])
        updates = [(table, key, fresh[url]) for table, key, url in batch if url in fresh]
        await database.runInteraction("urls.store", _store, updates)
        done += len(updates)
    return done


class UrlRefresher(Periodic):
    what = "refreshing URLs"

    def __init__(
        self,
        database: Any,
        bridge: Any,
        clock: Any,
        *,
        margin_s: float = 3600,
        interval_s: float = 300,
    ) -> None:
        super().__init__(clock, interval_s)
        self._db = database
        self._bridge = bridge
        self._margin_s = margin_s
        self.refreshed = 0

    def run_now(self) -> defer.Deferred[int]:
        return self.refresh_now()

    async def _refresh(self, margin_s: float) -> int:
        before = int((time.time() + margin_s) * 1000)
        expiring = await self._db.runInteraction("urls.expiring", _expiring, before, 10 * BATCH)
        done = 0
        for start in range(0, len(expiring), BATCH):
            batch = expiring[start : start + BATCH]
            fresh = await self._bridge.call(operations.refresh_urls, [url for _, _, url in batch])
            updates = [(table, key, fresh[url]) for table, key, url in batch if url in fresh]
            await self._db.runInteraction("urls.store", _store, updates)
            done += len(updates)
            if len(updates) < len(batch):
                self.log.warn(
                    "{n} URL(s) could not be refreshed (gone from Discord?)",
                    n=len(batch) - len(updates),
                )
        self.refreshed += done
        return done

    def refresh_now(self, margin_s: float | None = None) -> defer.Deferred[int]:
        """Renew every URL expiring within the margin now; fires with how many were renewed."""
        return defer.ensureDeferred(self._refresh(self._margin_s if margin_s is None else margin_s))
