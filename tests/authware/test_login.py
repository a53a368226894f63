"""Log in with Discord (devcord), sessions, CSRF, channel permissions, logout."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest_twisted
import treq
from twisted.internet import reactor

from cds.site import build_cds
from sequenzia.api.site import build_api
from sequenzia.authware.login import login_resources
from sequenzia.bus import LocalBus
from sequenzia.config import load_config
from sequenzia.db.pool import Database
from sequenzia.discordio import journal, operations
from sequenzia.junefs import store
from sequenzia.web.site import build_site
from tests.devcord.conftest import Devcord
from tests.discordio.test_jobs import run_io, settled


class Browser:
    """Just enough of a browser: a cookie jar and no automatic redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}

    async def go(
        self, method: str, url: str, headers: dict[str, str] | None = None, data: Any = None
    ) -> tuple[Any, bytes]:
        sent = dict(headers or {})
        if self.cookies and url.startswith(self.base):
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = await treq.request(
            method, url, headers=sent, data=data, allow_redirects=False, persistent=False
        )
        for raw in response.headers.getRawHeaders("Set-Cookie") or []:
            pair = raw.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if "Max-Age=0" in raw:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response, await treq.content(response)

    async def login(self, devcord_user: str) -> Any:
        response, _ = await self.go("GET", self.base + "/login")
        assert response.code == 302
        authorize = response.headers.getRawHeaders("Location")[0] + f"&devcord_user={devcord_user}"
        response, _ = await self.go("GET", authorize)
        assert response.code in (302, 303), response.code
        callback = response.headers.getRawHeaders("Location")[0]
        response, body = await self.go("GET", callback)
        return response, body


@asynccontextmanager
async def site(
    tmp_path: Path, database: Database, devcord: Devcord, **auth: Any
) -> AsyncIterator[tuple[str, Any]]:
    bus = LocalBus()
    io = await run_io(tmp_path, database, devcord, bus)
    config = load_config(env={}, cwd=tmp_path)
    config = dataclasses.replace(
        config,
        discord=dataclasses.replace(
            config.discord, token=devcord.info["bot_token"], api_base=devcord.api
        ),
        auth=dataclasses.replace(
            config.auth,
            client_id=str(devcord.info["client_id"]),
            client_secret=devcord.info["client_secret"],
            **auth,
        ),
    )
    files, _ = build_cds(database, bus, reactor, config)
    web = build_site(
        {},
        reactor,
        build_api(database, bus, reactor, config),
        files,
        login_resources(config, database, reactor),
    )
    port = reactor.listenTCP(0, web, interface="127.0.0.1")
    try:
        yield f"http://127.0.0.1:{port.getHost().port}", io
    finally:
        await port.stopListening()
        await io.stopService()


async def post_text(database: Database, channel_id: int, content: str) -> int:
    job_id = await database.runInteraction(
        "e", journal.enqueue, "post", {"channel_id": channel_id, "content": content}
    )
    done = await settled(database, job_id)
    record = await database.runInteraction(
        "r", store.record_by_message, int(done.result["message_id"])
    )
    return int(record["eid"])


@pytest_twisted.ensureDeferred
async def test_login_sessions_permissions_csrf_and_logout(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    async with site(tmp_path, database, devcord) as (base, io):
        general = devcord.text_channel_id()
        guild = int(devcord.info["guild_id"])
        secret = int((await io.bridge.call(operations.create_channel, guild, "secret"))["id"])
        open_eid = await post_text(database, general, "for everyone")
        hidden_eid = await post_text(database, secret, "for the few")

        def restrict(txn: Any) -> None:
            txn.execute("UPDATE channels SET perm_read = 'secret-readers' WHERE id = ?", (secret,))

        await database.runInteraction("restrict", restrict)

        owner = Browser(base)
        response, body = await owner.login(str(devcord.info["owner_user_id"]))
        assert response.code == 302 and response.headers.getRawHeaders("Location") == ["/"], body
        cookie = [
            c for c in response.headers.getRawHeaders("Set-Cookie") if c.startswith("sq_session=")
        ][0]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        response, body = await owner.go("GET", base + "/api/v1/me")
        me = json.loads(body)
        assert (
            me["user_id"] == str(devcord.info["owner_user_id"])
            and me["sees_everything"]
            and me["via"] == "session"
        )
        response, body = await owner.go("GET", f"{base}/api/v1/records/{hidden_eid}")
        assert response.code == 200, "the server owner sees every channel"

        other = Browser(base)
        response, _ = await other.login(str(devcord.info["other_user_id"]))
        assert response.code == 302
        response, body = await other.go("GET", base + "/api/v1/me")
        me = json.loads(body)
        assert me["scope"] == "write" and not me["sees_everything"]
        assert (
            str(general) in me["readable_channels"] and str(secret) not in me["readable_channels"]
        )
        response, _ = await other.go("GET", f"{base}/api/v1/records/{open_eid}")
        assert response.code == 200
        for path in (f"/api/v1/records/{hidden_eid}", f"/f/{hidden_eid}/x"):
            response, _ = await other.go("GET", base + path)
            assert response.code == 404, path
        response, body = await other.go("GET", base + "/api/v1/channels")
        assert str(secret) not in [c["id"] for c in json.loads(body)["channels"]]

        # a state-changing request with the cookie alone is refused: it could come from any site
        edit = json.dumps({"content": "edited"}).encode()
        response, body = await other.go(
            "PATCH", f"{base}/api/v1/records/{open_eid}?wait=20", data=edit
        )
        assert response.code == 403 and b"X-CSRF-Token" in body
        response, body = await other.go(
            "PATCH",
            f"{base}/api/v1/records/{open_eid}?wait=20",
            {"X-CSRF-Token": me["csrf_token"]},
            edit,
        )
        assert response.code == 200 and json.loads(body)["job"]["state"] == "done", body

        response, _ = await other.go("POST", base + "/logout")
        assert response.code == 403
        response, _ = await other.go("POST", base + "/logout", {"X-CSRF-Token": me["csrf_token"]})
        assert response.code == 303 and "sq_session" not in other.cookies
        stale = Browser(base)
        stale.cookies = {"sq_session": "made-up"}
        response, _ = await stale.go("GET", base + "/api/v1/me")
        assert response.code == 401


@pytest_twisted.ensureDeferred
async def test_a_login_not_started_here_is_refused_and_attempts_are_limited(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    async with site(tmp_path, database, devcord, logins_per_minute=3) as (base, _):
        browser = Browser(base)
        response, _ = await browser.go("GET", base + "/login")
        authorize = response.headers.getRawHeaders("Location")[0]
        state = parse_qs(urlsplit(authorize).query)["state"][0]
        response, _ = await browser.go("GET", authorize)
        callback = response.headers.getRawHeaders("Location")[0]
        forged = Browser(base)  # no state cookie: someone else's link
        response, body = await forged.go("GET", callback)
        assert response.code == 400 and b"not started here" in body
        assert state in callback
        for _ in range(2):
            response, _ = await browser.go("GET", base + "/login")
        assert response.code == 429
