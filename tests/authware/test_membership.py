"""Membership and roles as the mirror keeps them, and what they grant."""

from __future__ import annotations

from typing import Any

import pytest_twisted

from sequenzia.authware.access import channel_access
from sequenzia.db.pool import Database
from sequenzia.discordio.mirror import HANDLERS
from sequenzia.junefs import store


def seed(txn: Any) -> None:
    txn.execute("INSERT INTO servers (id, name, created_ts, updated_ts) VALUES (1, 's', 0, 0)")
    for cid, perm in ((10, None), (11, "secret")):
        txn.execute(
            "INSERT INTO channels (id, server_id, kind, name, perm_read, created_ts, updated_ts)"
            " VALUES (?, 1, 'text', 'c', ?, 0, 0)",
            (cid, perm),
        )
    txn.execute("INSERT INTO roles (id, server_id, name) VALUES (50, 1, 'insiders')")
    txn.execute("INSERT INTO role_permissions (role_id, permission) VALUES (50, 'secret')")


@pytest_twisted.ensureDeferred
async def test_member_events_change_what_a_user_may_read(database: Database) -> None:
    run = database.runInteraction
    await run("seed", seed)
    user = {"id": "7", "username": "ann"}
    await run(
        "update", HANDLERS["GUILD_MEMBER_UPDATE"], {"guild_id": "1", "user": user, "roles": []}
    )
    readable, *_ = await run("access", channel_access, 7)
    assert readable == {10}, "a member without roles reads the open channel"
    assert await run("roles", store.member_role_ids, 1, 7) == []
    await run(
        "update", HANDLERS["GUILD_MEMBER_UPDATE"], {"guild_id": "1", "user": user, "roles": ["50"]}
    )
    readable, *_ = await run("access", channel_access, 7)
    assert readable == {10, 11}
    await run("role gone", HANDLERS["GUILD_ROLE_DELETE"], {"guild_id": "1", "role_id": "50"})
    readable, *_ = await run("access", channel_access, 7)
    assert readable == {10}
    await run("left", HANDLERS["GUILD_MEMBER_REMOVE"], {"guild_id": "1", "user": user})
    readable, *_ = await run("access", channel_access, 7)
    assert readable == frozenset(), "after leaving the server, nothing"
