"""Listing records for the gallery and `/api/v1/records`: one query, permission-filtered."""

from __future__ import annotations

from typing import Any

from sequenzia.gallery.query import NAME, OFFSET_SORTS, RecordQuery

COLUMNS = (
    "eid", "message_id", "channel_id", "kind", "content", "name", "size", "content_type",
    "width", "height", "posted_ts", "file_id", "attachment_name",
)  # fmt: skip


def folders(txn: Any, needed: Any = True) -> list[dict[str, Any]]:
    """Every live channel with its server's name: what folder paths are matched against."""
    if not needed:
        return []
    txn.execute(
        "SELECT c.id, c.server_id, s.name, c.parent_id, c.kind, c.name, c.nsfw FROM channels c"
        " JOIN servers s ON s.id = c.server_id WHERE c.deleted = 0 ORDER BY c.server_id, c.position, c.id"
    )
    keys = ("id", "server_id", "server_name", "parent_id", "kind", "name", "nsfw")
    return [dict(zip(keys, r, strict=True)) for r in txn.fetchall()]


def list_records(
    txn: Any, query: RecordQuery, readable: frozenset[int] | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of records the caller may read, and the cursor of the next page (or None)."""
    where, args = query.where.sql, list(query.where.args)
    if readable is not None:
        if not readable:
            return [], None
        where += f" AND r.channel_id IN ({', '.join('?' for _ in readable)})"
        args += sorted(readable)
    descending = not query.reverse if query.sort not in OFFSET_SORTS else query.reverse
    direction = "DESC" if descending else "ASC"
    inner = (
        f"SELECT r.eid, r.message_id, r.channel_id, r.kind, r.content, {NAME} AS name,"  # noqa: S608
        " COALESCE(sf.size, r.attachment_size) AS size, r.content_type, r.width, r.height,"
        f" r.posted_ts, r.file_id, r.attachment_name, {query.order} AS k"
        " FROM records r LEFT JOIN spanned_files sf ON sf.id = r.file_id AND r.kind = 'spanned'"
        f" WHERE {where}"
    )
    sql_args = [*query.order_args, *args]
    outer = f"SELECT * FROM ({inner}) t"  # noqa: S608
    offset = 0
    if query.cursor is not None and query.sort in OFFSET_SORTS:
        offset = query.cursor[1]
    elif query.cursor is not None:
        key, eid = query.cursor
        op = "<" if descending else ">"
        outer += f" WHERE (t.k {op} ? OR (t.k = ? AND t.eid {op} ?))"
        sql_args += [key, key, eid]
    outer += f" ORDER BY t.k {direction}, t.eid {direction} LIMIT ? OFFSET ?"
    sql_args += [query.limit + 1, offset]
    txn.execute(outer, tuple(sql_args))
    rows = txn.fetchall()
    page = [dict(zip((*COLUMNS, "k"), r, strict=True)) for r in rows[: query.limit]]
    following = None
    if len(rows) > query.limit:
        last = page[-1]
        following = (
            f"o{offset + query.limit}"
            if query.sort in OFFSET_SORTS
            else f"{int(last['k'])}.{last['eid']}"
        )
    for row in page:
        row.pop("k")
    return page, following
