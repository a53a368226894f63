"""Keys from the web (/api/v1/keys): a person's own keys, shown once, never minted by a key."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
import treq

from sequenzia.authware import keys, sessions
from sequenzia.bus import LocalBus
from sequenzia.db.pool import Database
from tests.api.test_api import Api, serve


def add_people(txn: Any) -> tuple[tuple[str, str], tuple[str, str]]:
    """Users 5 and 6, each logged in: (session cookie, CSRF token) of each."""
    for user_id, name in ((5, "ann"), (6, "bob")):
        txn.execute(
            "INSERT INTO users (id, username, created_ts) VALUES (?, ?, 0)", (user_id, name)
        )
    ann, ann_session = sessions.create(txn, 5, 1, None, None)
    bob, bob_session = sessions.create(txn, 6, 1, None, None)
    return (ann, ann_session.csrf_token), (bob, bob_session.csrf_token)


async def as_person(
    api: Api, person: tuple[str, str], method: str, path: str, body: Any = None, csrf: bool = True
) -> tuple[int, Any]:
    cookie, token = person
    headers = {"Cookie": f"{sessions.COOKIE}={cookie}"}
    if csrf:
        headers["X-CSRF-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    response = await treq.request(method, api.url + path, data=data, headers=headers)
    return response.code, json.loads(await response.content())


@pytest_twisted.ensureDeferred
async def test_a_person_creates_lists_and_revokes_their_own_keys(
    tmp_path, database: Database
) -> None:
    ann, bob = await database.runInteraction("people", add_people)
    async for api in serve(tmp_path, database, LocalBus()):
        status, body = await as_person(api, ann, "POST", "/keys", {"name": "frame"})
        assert status == 201, body
        secret, made = body["secret"], body["key"]
        assert secret.startswith("sqk_") and made["scope"] == "read" and made["kind"] == "static"
        assert made["prefix"] == secret[:12] and not made["revoked"]
        assert "hash" not in json.dumps(body) and "$2b$" not in json.dumps(body)

        # the new key acts as ann, read-only by default
        status, me, _ = await api.call("GET", "/me", key=secret)
        assert status == 200 and me["user_id"] == "5" and me["scope"] == "read"
        status, _, _ = await api.call("PUT", "/me/nsfw", {"enabled": True}, key=secret)
        assert status == 403, "read-only"

        status, body = await as_person(
            api, ann, "POST", "/keys", {"name": "script", "scope": "write", "kind": "api"}
        )
        assert status == 201
        writer = body["secret"]
        status, listing = await as_person(api, ann, "GET", "/keys")
        assert [(k["name"], k["scope"], k["kind"]) for k in listing["keys"]] == [
            ("script", "write", "api"),
            ("frame", "read", "static"),
        ], "newest first"
        assert secret not in json.dumps(listing) and "$2b$" not in json.dumps(listing)

        # a key never manages keys, not even a write key of the same person
        for key in (secret, writer):
            status, body, _ = await api.call("POST", "/keys", {"name": "more"}, key=key)
            assert status == 403, key
            status, body, _ = await api.call("GET", "/keys", key=key)
            assert status == 403
            status, body, _ = await api.call("DELETE", f"/keys/{made['id']}", key=key)
            assert status == 403
        assert "login session" in body["error"]["message"], "the write key is told why"
        status, listing = await as_person(api, ann, "GET", "/keys")
        assert len(listing["keys"]) == 2, "nothing was minted"

        # another person neither sees nor revokes ann's keys
        status, theirs = await as_person(api, bob, "GET", "/keys")
        assert status == 200 and theirs["keys"] == []
        status, body = await as_person(api, bob, "DELETE", f"/keys/{made['id']}")
        assert status == 404
        status, body = await as_person(api, ann, "DELETE", f"/keys/{made['id']}", csrf=False)
        assert status == 403 and "CSRF" in body["error"]["message"]
        assert await database.runInteraction("l", keys.lookup, secret) is not None

        status, body = await as_person(api, ann, "DELETE", f"/keys/{made['id']}")
        assert status == 200 and body["key"]["revoked"] is True
        status, _, _ = await api.call("GET", "/me", key=secret)
        assert status == 401, "refused at once, though its check was remembered a moment ago"
        assert await database.runInteraction("l", keys.lookup, secret) is None, "revoked"
        assert await database.runInteraction("l", keys.lookup, writer) is not None, "only that one"
        status, body = await as_person(api, ann, "DELETE", f"/keys/{made['id']}")
        assert status == 200, "revoking again is harmless"

        # the owner key may manage the owner's keys, but not revoke itself through them
        status, body, _ = await api.call("POST", "/keys", {"name": "owner's frame"})
        assert status == 201 and body["key"]["scope"] == "read"
        status, body, _ = await api.call("GET", "/keys")
        assert [k["name"] for k in body["keys"]] == ["owner's frame"]


@pytest_twisted.ensureDeferred
async def test_bad_key_requests_get_a_sentence(tmp_path, database: Database) -> None:
    ann, _ = await database.runInteraction("people", add_people)
    async for api in serve(tmp_path, database, LocalBus()):
        for bad, word in [
            ({}, "'name'"),
            ({"name": ""}, "'name'"),
            ({"name": "   "}, "'name'"),
            ({"name": "x" * 101}, "'name'"),
            ({"name": 7}, "'name'"),
            ({"name": "k", "scope": "admin"}, "'scope'"),
            ({"name": "k", "kind": "owner"}, "'kind'"),
        ]:
            status, body = await as_person(api, ann, "POST", "/keys", bad)
            assert status == 400 and word in body["error"]["message"], (bad, body)
        for path, want in (("/keys/abc", 400), ("/keys/99999", 404)):
            status, body = await as_person(api, ann, "DELETE", path)
            assert status == want and body["error"]["message"], path
        status, listing = await as_person(api, ann, "GET", "/keys")
        assert listing["keys"] == [], "no bad request made a key"
        status, document, _ = await api.call("GET", "/openapi.json", key=None)
        schema = document["paths"]["/api/v1/keys"]["post"]["requestBody"]["content"]
        assert schema["application/json"]["schema"]["properties"]["scope"]["enum"] == [
            "read",
            "write",
        ]
