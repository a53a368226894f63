"""The spanned-file tables: `spanned_files` (headers) and `file_parts` (parts)."""

from __future__ import annotations

import time
from typing import Any

from sequenzia.junefs.messages import MessageView


def _now() -> int:
    return int(time.time() * 1000)


def upsert_part(txn: Any, view: MessageView) -> None:
    """A part message (v1 or legacy caption) into file_parts."""
    part, a = view.part, view.attachment
    if part is None or a is None:
        return
    txn.execute(
        txn.engine.upsert(
            "file_parts",
            ["file_id", "idx"],
            [
                "message_id",
                "channel_id",
                "attachment_id",
                "size",
                "xxh3_128",
                "url",
                "url_expires_ts",
            ],
        ),
        (
            part.file_id,
            part.index,
            view.message_id,
            view.channel_id,
            a.id,
            a.size,
            part.xxh3_128,
            a.url,
            a.url_expires_ts,
        ),
    )


def upsert_header(txn: Any, view: MessageView, eid: int) -> None:
    """A header message into spanned_files (complete: its parts were posted first)."""
    header = view.header
    if header is None:
        return
    now = _now()
    txn.execute(
        txn.engine.upsert(
            "spanned_files",
            ["id"],
            [
                "eid",
                "server_id",
                "channel_id",
                "header_message_id",
                "name",
                "size",
                "xxh3_128",
                "part_count",
                "state",
                "legacy",
                "created_ts",
                "updated_ts",
            ],
        ),
        (
            header.file_id[:32],
            eid,
            view.guild_id,
            view.channel_id,
            view.message_id,
            header.name[:255],
            header.size,
            header.xxh3_128,
            header.count,
            "complete",
            1 if header.legacy else 0,
            view.posted_ts,
            now,
        ),
    )


def parts_of(txn: Any, file_id: str) -> list[dict[str, Any]]:
    txn.execute(
        "SELECT idx, message_id, channel_id, size, xxh3_128 FROM file_parts WHERE file_id = ? ORDER BY idx",
        (file_id,),
    )
    keys = ("idx", "message_id", "channel_id", "size", "xxh3_128")
    return [dict(zip(keys, r, strict=True)) for r in txn.fetchall()]


def spanned_file(txn: Any, file_id: str) -> dict[str, Any] | None:
    txn.execute(
        "SELECT id, eid, name, size, xxh3_128, part_count, state, legacy FROM spanned_files WHERE id = ?",
        (file_id,),
    )
    row = txn.fetchone()
    keys = ("id", "eid", "name", "size", "xxh3_128", "part_count", "state", "legacy")
    return dict(zip(keys, row, strict=True)) if row else None


def forget_file(txn: Any, file_id: str) -> None:
    """A deleted spanned file: its parts and header rows go."""
    txn.execute("DELETE FROM file_parts WHERE file_id = ?", (file_id,))
    txn.execute("DELETE FROM spanned_files WHERE id = ?", (file_id,))


READ_FIELDS = ("idx", "message_id", "channel_id", "size", "xxh3_128", "url", "url_expires_ts")


def parts_for_read(txn: Any, file_id: str) -> list[dict[str, Any]]:
    """A spanned file's parts with their CDN URLs, in order."""
    txn.execute(
        f"SELECT {', '.join(READ_FIELDS)} FROM file_parts WHERE file_id = ? ORDER BY idx",  # noqa: S608
        (file_id,),
    )
    return [dict(zip(READ_FIELDS, r, strict=True)) for r in txn.fetchall()]
