"""Listing records for the gallery and `/api/v1/records`: one query, permission-filtered."""

from __future__ import annotations

from typing import Any

from sequenzia.gallery.query import NAME, OFFSET_SORTS, RANDOM_SPAN, RecordQuery, random_start

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
    if query.sort == "random":
        return _random_page(txn, query, where, args, descending)
    offset = 0
    after = None
    if query.cursor is not None and query.sort in OFFSET_SORTS:
        offset = query.cursor[1]
    elif query.cursor is not None:
        after = query.cursor
    rows = _select(txn, query, where, args, descending, after, query.limit + 1, offset)
    page = rows[: query.limit]
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


def _select(
    txn: Any,
    query: RecordQuery,
    where: str,
    args: list[Any],
    descending: bool,
    after: tuple[int, int] | None,
    limit: int,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Up to `limit` rows in (key, eid) order, after the (key, eid) cursor if one is given.

    One flat SELECT ordered by the sort column itself, so that an index on it (posted_ts,
    rand_key; eid rides along in every InnoDB index) can serve the page without sorting.
    """
    direction = "DESC" if descending else "ASC"
    sql = (
        f"SELECT r.eid, r.message_id, r.channel_id, r.kind, r.content, {NAME} AS name,"  # noqa: S608
        " COALESCE(sf.size, r.attachment_size) AS size, r.content_type, r.width, r.height,"
        f" r.posted_ts, r.file_id, r.attachment_name, {query.order} AS k"
        " FROM records r LEFT JOIN spanned_files sf ON sf.id = r.file_id AND r.kind = 'spanned'"
        f" WHERE {where}"
    )
    sql_args = [*query.order_args, *args]
    if after is not None:
        key, eid = after
        op = "<" if descending else ">"
        # k <= K AND (k < K OR eid < E): the same rows as k < K OR (k = K AND eid < E),
        # in a form whose first half is a plain index range
        sql += f" AND {query.order} {op}= ? AND ({query.order} {op} ? OR r.eid {op} ?)"
        sql_args += [*query.order_args, key, *query.order_args, key, eid]
    sql += f" ORDER BY {query.order} {direction}, r.eid {direction} LIMIT ? OFFSET ?"
    sql_args += [*query.order_args, limit, offset]
    txn.execute(sql, tuple(sql_args))
    return [dict(zip((*COLUMNS, "k"), r, strict=True)) for r in txn.fetchall()]


def _random_page(
    txn: Any, query: RecordQuery, where: str, args: list[Any], descending: bool
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the seed's random order: rand_key rotated to start at the seed's point.

    The rotated key runs 0 .. RANDOM_SPAN - 1: first the records with rand_key >= start
    (key = rand_key - start), then those below it (key = rand_key + RANDOM_SPAN - start).
    Each half is a plain rand_key range, read through the rand_key index; descending order
    reads the halves the other way round. The cursor carries the rotated key.
    """
    start = random_start(query.seed)
    upper = ("r.rand_key >= ?", lambda k: k - start)
    lower = ("r.rand_key < ?", lambda k: k + RANDOM_SPAN - start)
    halves = [lower, upper] if descending else [upper, lower]
    after: tuple[int, int] | None = None
    if query.cursor is not None:
        key, eid = query.cursor
        in_upper = key < RANDOM_SPAN - start
        rand_key = (key + start) % RANDOM_SPAN
        after = (rand_key, eid)
        # skip the half the cursor has already passed
        if (in_upper and halves[0] is lower) or (not in_upper and halves[0] is upper):
            halves = halves[1:]
    rows: list[dict[str, Any]] = []
    for condition, rotate in halves:
        found = _select(
            txn,
            query,
            f"{where} AND {condition}",
            [*args, start],
            descending,
            after,
            query.limit + 1 - len(rows),
        )
        for row in found:
            row["k"] = rotate(int(row["k"]))
        rows += found
        after = None
        if len(rows) > query.limit:
            break
    page = rows[: query.limit]
    following = f"{page[-1]['k']}.{page[-1]['eid']}" if len(rows) > query.limit else None
    for row in page:
        row.pop("k")
    return page, following
