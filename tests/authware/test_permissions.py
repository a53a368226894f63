"""Administering permissions: what channels need, what roles grant, and the manage right."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
import treq

from sequenzia.authware import keys
from sequenzia.db.pool import Database
from tests.gallery.test_pages import get, site


async def call(url: str, key: str, method: str = "PUT", body: Any = None) -> tuple[int, Any]:
    response = await treq.request(
        method,
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        persistent=False,
    )
    text = (await treq.content(response)).decode()
    return response.code, json.loads(text) if text else None


def add_role(txn: Any) -> None:
    txn.execute("INSERT INTO roles (id, server_id, name) VALUES (60, 1, 'curators')")
    txn.execute("INSERT INTO user_roles (user_id, role_id, server_id) VALUES (5, 60, 1)")


@pytest_twisted.ensureDeferred
async def test_manage_needs_its_permission_and_admins_set_it(tmp_path, database: Database) -> None:
    async with site(tmp_path, database) as (base, owner, _):
        await database.runInteraction("role", add_role)
        writer = keys.new_key()
        await database.runInteraction(
            "k", keys.register_key, writer, user_id=5, kind="api", name="w", scope="write"
        )
        api = base + "/api/v1"
        status, _ = await call(f"{api}/records/7/pin", writer, "POST")
        assert status == 202, "a channel naming no manage permission lets its writers manage"

        status, body = await call(f"{api}/channels/10/permissions", owner, body={"manage": "tidy"})
        assert status == 200 and body == {
            "channel_id": "10", "read": None, "write": None, "manage": "tidy"
        }  # fmt: skip
        status, body = await call(f"{api}/records/7/pin", writer, "POST")
        assert status == 403 and "may not change" in body["error"]["message"]
        status, _ = await call(f"{api}/channels/10/messages", writer, "POST", {"content": "hi"})
        assert status == 202, "writing is still allowed: only managing needs 'tidy'"

        status, body = await call(
            f"{api}/roles/60/permissions", owner, body={"permissions": ["tidy"]}
        )
        assert status == 200 and body["permissions"] == ["tidy"]
        status, _ = await call(f"{api}/records/7/pin", writer, "POST")
        assert status == 202, "the role grants it, at once"

        status, body = await call(f"{api}/permissions", owner, "GET")
        home = next(s for s in body["servers"] if s["id"] == "1")
        assert {"id": "60", "name": "curators", "permissions": ["tidy"]} in home["roles"]
        assert next(c for c in home["channels"] if c["id"] == "10")["manage"] == "tidy"

        status, _ = await call(f"{api}/channels/10/permissions", owner, body={"read": "staff"})
        assert status == 200
        status, _ = await get(f"{api}/records/7", writer)
        assert status == 404, "a read permission the user lacks hides the channel"


@pytest_twisted.ensureDeferred
async def test_only_admins_administer_and_bad_input_is_refused(
    tmp_path, database: Database
) -> None:
    async with site(tmp_path, database) as (base, owner, guest):
        await database.runInteraction("role", add_role)
        api = base + "/api/v1"
        status, _ = await call(f"{api}/channels/10/permissions", guest, body={"read": None})
        assert status == 403
        status, _ = await call(f"{api}/permissions", guest, "GET")
        assert status == 403
        status, html = await get(base + "/admin", guest)
        assert status == 403 and "administrators" in html
        status, html = await get(base + "/admin", owner)
        assert status == 200 and "curators" in html and 'data-channel="10"' in html
        refused = [
            ("/channels/10/permissions", {"read": "has space"}, 400, "'read' must be"),
            ("/channels/10/permissions", {"read": 5}, 400, "'read' must be"),
            ("/channels/10/permissions", {"owner": "x"}, 400, "unknown field 'owner'"),
            ("/channels/999/permissions", {"read": None}, 404, "no channel 999"),
            ("/channels/99999999999999999999/permissions", {}, 400, "must be an id"),
            ("/roles/60/permissions", {"permissions": "tidy"}, 400, "must be a list"),
            ("/roles/60/permissions", {"permissions": ["ok", "<b>"]}, 400, "permission name"),
            ("/roles/61/permissions", {"permissions": []}, 404, "no role 61"),
        ]
        for path, body, code, words in refused:
            status, answer = await call(api + path, owner, body=body)
            assert status == code and words in answer["error"]["message"], (path, answer)
        status, body = await call(f"{api}/permissions", owner, "GET")
        home = next(s for s in body["servers"] if s["id"] == "1")
        assert all(c["read"] is None for c in home["channels"] if c["id"] == "10"), (
            "nothing written"
        )
