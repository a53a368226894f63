"""The Discord I/O role against devcord, on both databases: lease, connect, mirror, failover."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest_twisted
import treq
from twisted.internet import reactor, task

from sequenzia.config import load_config
from sequenzia.db.pool import Database
from sequenzia.discordio.service import DiscordIOService
from sequenzia.junefs import store
from tests.devcord.conftest import Devcord


class DatabaseHolder:
    """What DiscordIOService needs of the database service: an open pool."""

    def __init__(self, database: Database) -> None:
        self.database = database


class DevcordAddress:
    def __init__(self, info: dict[str, Any]) -> None:
        self._info = info

    def when_listening(self):  # type: ignore[no-untyped-def]
        from twisted.internet import defer

        return defer.succeed(self._info)


def io_service(tmp_path, database: Database, devcord: Devcord, holder: str) -> DiscordIOService:
    config = load_config(env={}, cwd=tmp_path)
    config = dataclasses.replace(
        config, discord=dataclasses.replace(config.discord, failover_seconds=3)
    )
    return DiscordIOService(
        config, DatabaseHolder(database), reactor, DevcordAddress(devcord.info), holder=holder
    )


async def until(predicate, timeout: float = 15.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = reactor.seconds() + timeout
    while reactor.seconds() < deadline:
        if await predicate():
            return
        await task.deferLater(reactor, 0.05, lambda: None)
    raise AssertionError(f"{what} not reached within {timeout}s")


@pytest_twisted.ensureDeferred
async def test_mirrors_guild_and_changes_made_in_discord(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = io_service(tmp_path, database, devcord, "io-A")
    io.startService()
    try:
        await until(lambda: _true(io.state == "connected"), what="connected")
        await io.ready()
        channel_id = devcord.text_channel_id()
        run = database.runInteraction
        await until(
            lambda: run("c", store.channel_row, channel_id), what="channels from GUILD_CREATE"
        )
        assert (await run("c", store.channel_row, channel_id))["kind"] == "text"

        api, person = devcord.api, devcord.other_headers()
        r = await treq.post(
            f"{api}/channels/{channel_id}/messages", json={"content": "hello 🧩"}, headers=person
        )
        mid = int(json.loads(await r.content())["id"])
        await until(lambda: run("r", store.record_by_message, mid), what="record of a new message")
        record = await run("r", store.record_by_message, mid)
        assert record["content"] == "hello 🧩" and record["kind"] == "message"

        r = await treq.patch(
            f"{api}/channels/{channel_id}/messages/{mid}",
            json={"content": "edited"},
            headers=person,
        )
        await r.content()
        await until(
            lambda: _eq(run("r", store.record_by_message, mid), "content", "edited"),
            what="edit mirrored",
        )

        r = await treq.delete(
            f"{api}/channels/{channel_id}/messages/{mid}",
            headers={"Authorization": f"User {devcord.info['owner_token']}"},
        )
        assert r.code == 204
        await until(
            lambda: _none(run("r", store.record_by_message, mid)),
            what="delete by another user mirrored",
        )

        ids = []
        for n in range(3):
            r = await treq.post(
                f"{api}/channels/{channel_id}/messages",
                json={"content": f"bulk {n}"},
                headers=person,
            )
            ids.append(json.loads(await r.content())["id"])
        await until(
            lambda: _count(run("n", store.count_records, channel_id), 3), what="three records"
        )
        r = await treq.post(
            f"{api}/channels/{channel_id}/messages/bulk-delete",
            json={"messages": ids},
            headers=devcord.bot_headers(),
        )
        assert r.code == 204
        await until(
            lambda: _count(run("n", store.count_records, channel_id), 0),
            what="bulk delete mirrored",
        )

        guild = devcord.info["guild_id"]
        r = await treq.post(
            f"{api}/guilds/{guild}/channels",
            json={"name": "new folder"},
            headers=devcord.bot_headers(),
        )
        new_channel = int(json.loads(await r.content())["id"])
        await until(
            lambda: run("c", store.channel_row, new_channel), what="channel create mirrored"
        )
        r = await treq.put(
            f"{api}/guilds/{guild}/members/{devcord.info['other_user_id']}/roles/{devcord.info['admin_role_id']}",
            headers=devcord.bot_headers(),
        )
        assert r.code == 204
        member = int(devcord.info["other_user_id"])
        await until(
            lambda: _eq_value(
                run("m", store.member_role_ids, int(guild), member),
                [int(devcord.info["admin_role_id"])],
            ),
            what="member roles mirrored",
        )
    finally:
        await io.stopService()
    assert io.state == "stopped"


@pytest_twisted.ensureDeferred
async def test_one_writer_and_failover(tmp_path, database: Database, devcord: Devcord) -> None:
    a = io_service(tmp_path, database, devcord, "io-A")
    b = io_service(tmp_path, database, devcord, "io-B")
    a.startService()
    await until(lambda: _true(a.state == "connected"), what="A connected")
    b.startService()
    await task.deferLater(reactor, 1.0, lambda: None)
    assert b.state == "standby" and b.bridge is None, "never two writers"
    try:
        await b.ready()
        raise AssertionError("a standby is not ready")
    except Exception as e:
        assert "standing by" in str(e)
    await a.stopService()  # a clean stop releases the lease at once
    await until(lambda: _true(b.state == "connected"), timeout=10, what="B took over")
    await b.stopService()


async def _true(value: bool) -> bool:
    return value


async def _eq(d, key: str, value: Any) -> bool:  # type: ignore[no-untyped-def]
    row = await d
    return row is not None and row[key] == value


async def _eq_value(d, value: Any) -> bool:  # type: ignore[no-untyped-def]
    return (await d) == value


async def _none(d) -> bool:  # type: ignore[no-untyped-def]
    return (await d) is None


async def _count(d, n: int) -> bool:  # type: ignore[no-untyped-def]
    return (await d) == n
