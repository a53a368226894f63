"""Finding orphan parts: messages in the data channels that no spanned file accounts for.

An orphan is a message in a data channel, older than the grace age, that is either not
in the index at all, or a part of a file with no header and no upload still under way
(an upload that failed after posting some parts). With `apply`, orphans are deleted.
"""

from __future__ import annotations

import time
from typing import Any

from sequenzia.discordio import operations
from sequenzia.junefs.messages import snowflake_ms

PAGE = 100


def _data_channels(txn: Any) -> list[int]:
    txn.execute("SELECT id FROM channels WHERE is_data = 1 AND deleted = 0 ORDER BY id")
    return [int(r[0]) for r in txn.fetchall()]


def _accounted(txn: Any, message_ids: list[int]) -> set[int]:
    """Of these messages, the parts of a file that has a header or an upload under way."""
    if not message_ids:
        return set()
    marks = ", ".join("?" for _ in message_ids)
    txn.execute(
        f"SELECT p.message_id FROM file_parts p WHERE p.message_id IN ({marks})"  # noqa: S608
        " AND (EXISTS (SELECT 1 FROM spanned_files f WHERE f.id = p.file_id)"
        " OR EXISTS (SELECT 1 FROM uploads u WHERE u.id = p.file_id"
        " AND u.state IN ('receiving', 'storing')))",
        tuple(message_ids),
    )
    return {int(r[0]) for r in txn.fetchall()}


def _forget(txn: Any, message_ids: list[int]) -> None:
    for message_id in message_ids:
        txn.execute("DELETE FROM file_parts WHERE message_id = ?", (message_id,))
        txn.execute("DELETE FROM records WHERE message_id = ?", (message_id,))


async def sweep_orphans(
    database: Any, bridge: Any, *, min_age_s: float, apply: bool
) -> dict[str, Any]:
    """Report (and with `apply` delete) orphan parts in every data channel."""
    newest = int((time.time() - min_age_s) * 1000)
    orphans: list[dict[str, str]] = []
    scanned = 0
    for channel_id in await database.runInteraction("sweep.channels", _data_channels):
        before: int | None = None
        while True:
            page = await bridge.call(operations.history, channel_id, limit=PAGE, before=before)
            if not page:
                break
            scanned += len(page)
            ids = [int(m["id"]) for m in page if snowflake_ms(int(m["id"])) < newest]
            kept = await database.runInteraction("sweep.accounted", _accounted, ids)
            found = [m for m in ids if m not in kept]
            if found and apply:
                try:
                    await bridge.call(operations.delete_messages, channel_id, found)
                except Exception:
                    # bulk delete refuses messages older than two weeks: one at a time then
                    for message_id in found:
                        await bridge.call(operations.delete_message, channel_id, message_id)
                await database.runInteraction("sweep.forget", _forget, found)
            orphans += [{"channel_id": str(channel_id), "message_id": str(m)} for m in found]
            before = min(int(m["id"]) for m in page)
            if len(page) < PAGE:
                break
    return {"scanned": scanned, "orphans": orphans, "deleted": len(orphans) if apply else 0}
