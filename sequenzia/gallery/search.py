"""Running a gallery query for someone: what the records API, the pages and the feeds share."""

from __future__ import annotations

import time
from typing import Any

from twisted.internet import threads

from sequenzia.authware.access import Identity, nsfw_enabled
from sequenzia.collections import store as collections
from sequenzia.gallery import store as gallery_store
from sequenzia.gallery.query import build, match_folder


async def cached_files(cache: Any) -> frozenset[str]:
    """The ids of the spanned files assembled in the CDS cache (none without one)."""
    if cache is None:
        return frozenset()
    return frozenset(await threads.deferToThread(cache.keys))


async def find_records(
    database: Any, who: Identity, params: dict[str, str], cache: Any = None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of records matching `params` that `who` may read, and the next cursor.

    `cache` (the CDS's SpanCache) answers `packed`. Raises QueryError (naming the
    parameter) for anything it cannot understand.
    """
    channels = await database.runInteraction(
        "folders", gallery_store.folders, bool(params.get("q"))
    )
    albums = await database.runInteraction("albums", collections.visible_albums, who.user_id)
    nsfw = await database.runInteraction("nsfw", nsfw_enabled, who.user_id)
    query = build(
        params,
        lambda path: match_folder(path, channels),
        int(time.time() * 1000),
        who.user_id,
        albums.get,
        nsfw,
        await cached_files(cache) if params.get("packed") else frozenset(),
    )
    readable = None if who.everything else who.readable
    return await database.runInteraction("records", gallery_store.list_records, query, readable)
