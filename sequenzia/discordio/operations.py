"""Discord operations, run on the bridge's loop: `await op(client, ...)` → Discord's JSON.

Each is a thin coroutine over discord.py's HTTP client (which does the rate limiting per
bucket and the retries of 5xx/429) that returns plain data: the Discord objects as the API
documents them, never discord.py models. Call them through `DiscordBridge.call`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import discord
from discord.http import Route, handle_message_parameters

MAX_CONTENT = 2000
Json = dict[str, Any]


def _json(value: Any) -> Json:
    """discord.py types its payloads as TypedDicts; to us they are plain JSON objects."""
    return cast(Json, value)


REFRESH_BATCH = 50


@dataclass(frozen=True)
class OutgoingFile:
    """A file to attach, named as Discord should show it: on (shared) disk, or in memory
    (`data`, a part already read and hashed off the reactor thread)."""

    path: str
    filename: str
    data: bytes | None = None


async def send_message(
    client: discord.Client,
    channel_id: int,
    content: str = "",
    files: list[OutgoingFile] | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """Post a message with up to 10 attachments; the nonce makes a re-send a no-op."""
    opened: list[discord.File] = []
    buffers: list[io.BytesIO] = []
    try:
        for outgoing in files or []:
            source: io.BytesIO | Path = Path(outgoing.path)
            if outgoing.data is not None:
                source = io.BytesIO(outgoing.data)
                buffers.append(source)
            opened.append(discord.File(source, filename=outgoing.filename))
        with handle_message_parameters(
            content=content or None, files=opened or discord.utils.MISSING, nonce=nonce
        ) as params:
            return _json(await client.http.send_message(channel_id, params=params))
    finally:
        for attached in opened:
            attached.close()
        # discord.File leaves a caller's buffer open, and aiohttp's payload of it (a copy:
        # it takes the buffer) sits in reference cycles that only the cyclic collector
        # frees, which large buffers do not prompt: a 1 GiB upload kept ~700 MiB of parts
        # (bench/spanned.py). Closing the buffer frees its memory now.
        for buffer in buffers:
            buffer.close()


async def edit_content(
    client: discord.Client, channel_id: int, message_id: int, content: str
) -> dict[str, Any]:
    with handle_message_parameters(content=content) as params:
        return _json(await client.http.edit_message(channel_id, message_id, params=params))


async def delete_message(client: discord.Client, channel_id: int, message_id: int) -> None:
    try:
        await client.http.delete_message(channel_id, message_id)
    except discord.NotFound:
        pass  # already gone: the effect we wanted


async def delete_messages(client: discord.Client, channel_id: int, message_ids: list[int]) -> None:
    """Bulk delete (2 to 100 ids, younger than two weeks); one id falls back to a delete."""
    if len(message_ids) == 1:
        await delete_message(client, channel_id, message_ids[0])
    elif message_ids:
        await client.http.delete_messages(channel_id, list[int | str](message_ids))


async def pin(client: discord.Client, channel_id: int, message_id: int, pinned: bool) -> None:
    if pinned:
        await client.http.pin_message(channel_id, message_id)
    else:
        await client.http.unpin_message(channel_id, message_id)


async def get_message(
    client: discord.Client, channel_id: int, message_id: int
) -> dict[str, Any] | None:
    try:
        return _json(await client.http.get_message(channel_id, message_id))
    except discord.NotFound:
        return None


async def history(
    client: discord.Client,
    channel_id: int,
    *,
    limit: int = 100,
    before: int | None = None,
    after: int | None = None,
) -> list[dict[str, Any]]:
    """One page of a channel's messages (Discord returns newest first)."""
    return [
        _json(m) for m in await client.http.logs_from(channel_id, limit, before=before, after=after)
    ]


async def guild(client: discord.Client, guild_id: int) -> dict[str, Any]:
    return _json(await client.http.get_guild(guild_id, with_counts=False))


async def guild_channels(client: discord.Client, guild_id: int) -> list[dict[str, Any]]:
    return [_json(c) for c in await client.http.get_all_guild_channels(guild_id)]


async def create_channel(
    client: discord.Client, guild_id: int, name: str, *, kind: int = 0, parent_id: int | None = None
) -> dict[str, Any]:
    """Create a text channel (kind 0) or a category (kind 4)."""
    options: dict[str, Any] = {"name": name}
    if parent_id is not None:
        options["parent_id"] = parent_id
    return _json(await client.http.create_channel(guild_id, cast(Any, kind), **options))


async def refresh_urls(client: discord.Client, urls: list[str]) -> dict[str, str]:
    """Fresh signed URLs for expired or expiring attachment URLs: {original: refreshed}.

    discord.py has no call for this endpoint; its generic request goes through its rate
    limiter all the same (NOTES.md).
    """
    refreshed: dict[str, str] = {}
    for start in range(0, len(urls), REFRESH_BATCH):
        batch = urls[start : start + REFRESH_BATCH]
        answer = await client.http.request(
            Route("POST", "/attachments/refresh-urls"), json={"attachment_urls": batch}
        )
        for item in answer.get("refreshed_urls", []):
            refreshed[item["original"]] = item["refreshed"]
    return refreshed


async def download(client: discord.Client, url: str) -> bytes:
    """The bytes behind a CDN URL (small files; spanned parts stream through the CDS)."""
    return await client.http.get_from_cdn(url)
