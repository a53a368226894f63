"""Each library server's own channels: the data-channel pool and the archive channel.

At connect, for every server Sequenzia manages, the io role makes sure a category
(`discord.data_category`) holds `discord.data_channels` text channels named data-0,
data-1, ... and that an archive channel (`discord.archive_channel`) exists, creating
what is missing, and records them in JuneFS (`servers.archive_channel_id`,
`channels.is_data`). Existing channels are found by name, so a restart creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.logger import Logger

from sequenzia.discordio import operations
from sequenzia.junefs import store

log = Logger()

CATEGORY, TEXT = 4, 0


@dataclass(frozen=True)
class ServerChannels:
    server_id: int
    archive_channel_id: int
    data_category_id: int
    data_channel_ids: list[int]


def managed_guilds(connected: list[int], configured: list[str]) -> list[int]:
    """The servers to manage: the configured ones the bot is in, or all it is in."""
    if not configured:
        return connected
    wanted = {int(g) for g in configured}
    missing = wanted - set(connected)
    if missing:
        log.warn(
            "the bot is not in configured server(s) {ids}; invite it there",
            ids=sorted(missing),
        )
    return [g for g in connected if g in wanted]


async def provision_server(
    bridge: Any,
    database: Any,
    guild_id: int,
    *,
    data_channels: int,
    data_category: str,
    archive_channel: str,
) -> ServerChannels:
    """Find or create the server's data pool and archive channel; record them."""
    channels = await bridge.call(operations.guild_channels, guild_id)
    created: list[dict[str, Any]] = []

    def find(name: str, kind: int, parent_id: int | None = None) -> dict[str, Any] | None:
        for c in channels + created:
            if c["name"] == name and c["type"] == kind:
                if parent_id is None or int(c.get("parent_id") or 0) == parent_id:
                    return c
        return None

    async def ensure(name: str, kind: int, parent_id: int | None = None) -> int:
        found = find(name, kind, parent_id)
        if found is None:
            found = await bridge.call(
                operations.create_channel, guild_id, name, kind=kind, parent_id=parent_id
            )
            created.append(found)
        return int(found["id"])

    category_id = await ensure(data_category, CATEGORY)
    pool = [await ensure(f"data-{n}", TEXT, category_id) for n in range(data_channels)]
    archive_id = await ensure(archive_channel, TEXT)

    def record(txn: Any) -> None:
        # the gateway echoes our creations too; these rows must exist before flags are set
        for channel in created:
            store.upsert_channel(txn, channel, guild_id)
        store.set_server_channels(txn, guild_id, archive_id, category_id, pool)

    await database.runInteraction("provision.record", record)
    if created:
        log.info(
            "server {guild}: created {n} channel(s) for data and archive",
            guild=guild_id,
            n=len(created),
        )
    return ServerChannels(guild_id, archive_id, category_id, pool)
