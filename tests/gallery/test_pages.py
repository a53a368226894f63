"""Gallery pages and feeds in-process: inert hostile names, permissions on every route, injection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest_twisted
import treq
from twisted.internet import reactor

from sequenzia.api.site import build_api
from sequenzia.authware import keys
from sequenzia.authware.access import Authenticator
from sequenzia.authware.keys import KeyVerifier
from sequenzia.bus import LocalBus
from sequenzia.config import load_config
from sequenzia.db.pool import Database
from sequenzia.gallery.pages import GalleryPages
from sequenzia.web.site import build_site
from tests.gallery.test_query import fill

HOSTILE_NAME = '<img src=x onerror="alert(1)">.png'
HOSTILE_TEXT = "<script>alert('pwned')</script> & more"


def add_hostile(txn: Any) -> None:
    txn.execute(
        "INSERT INTO records (eid, message_id, channel_id, server_id, posted_ts, indexed_ts, kind,"
        " content, attachment_name, content_type, width, height, attachment_size, rand_key)"
        " VALUES (7, 1007, 10, 1, 1, 0, 'file', ?, ?, 'image/png', 10, 10, 5, 1)",
        (HOSTILE_TEXT, HOSTILE_NAME),
    )
    # user 5 is a member of server 1 only; channel 11 needs a permission they lack
    txn.execute("INSERT INTO users (id, username, created_ts) VALUES (5, 'guest', 0)")
    txn.execute("INSERT INTO user_roles (user_id, role_id, server_id) VALUES (5, 1, 1)")
    txn.execute("UPDATE channels SET perm_read = 'drafts' WHERE id = 11")


@asynccontextmanager
async def site(tmp_path: Path, database: Database) -> AsyncIterator[tuple[str, str, str]]:
    await database.runInteraction("fill", fill)
    await database.runInteraction("hostile", add_hostile)
    owner = (await keys.install_owner_key(database, tmp_path)).read_text().strip()
    guest = keys.new_key()
    await database.runInteraction("k", keys.register_key, guest, user_id=5, kind="static", name="g")
    config = load_config(env={}, cwd=tmp_path)
    bus = LocalBus()
    pages = GalleryPages(database, Authenticator(database, KeyVerifier(database, reactor), reactor))
    web = build_site(
        {}, reactor, build_api(database, bus, reactor, config), None, pages.resources()
    )
    port = reactor.listenTCP(0, web, interface="127.0.0.1")
    try:
        yield f"http://127.0.0.1:{port.getHost().port}", owner, guest
    finally:
        await port.stopListening()


async def get(url: str, key: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = await treq.get(url, headers=headers, allow_redirects=False, persistent=False)
    return response.code, (await treq.content(response)).decode()


@pytest_twisted.ensureDeferred
async def test_hostile_names_and_text_render_inert(tmp_path, database: Database) -> None:
    async with site(tmp_path, database) as (base, owner, _):
        for path in (
            "/gallery?q=eid:7",
            "/item/7",
            "/gallery?view=files",
            "/gallery?view=cards&q=pwned",
        ):
            status, html = await get(base + path, owner)
            assert status == 200, (path, html[:300])
            assert "<script>alert" not in html and '<img src=x onerror="alert(1)">' not in html, (
                path
            )
        status, html = await get(base + "/item/7", owner)
        assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; more" in html
        status, feed = await get(base + f"/feed/atom?q=eid:7&key={owner}", None)
        assert status == 200
        entry = ElementTree.fromstring(feed).find("{http://www.w3.org/2005/Atom}entry")
        assert entry is not None
        assert entry.findtext("{http://www.w3.org/2005/Atom}title") == HOSTILE_NAME, (
            "escaped, not executed"
        )


@pytest_twisted.ensureDeferred
async def test_a_channel_without_the_permission_is_hidden_on_every_route(
    tmp_path, database: Database
) -> None:
    async with site(tmp_path, database) as (base, _, guest):
        # eids 3 and 4 live in channel 11 (needs 'drafts'); 5 and 6 in another server
        for path in (
            "/gallery?q=draft",
            "/gallery?view=cards&q=beach",
            "/gallery?q=in:/home/*/drafts",
            "/",
        ):
            status, html = await get(base + path, guest)
            assert status == 200
            for eid in (3, 4, 5, 6):
                assert f'data-eid="{eid}"' not in html, (path, eid)
            sidebar = html.split('<nav class="folders"', 1)[-1].split("</nav>", 1)[0]
            assert "holidays" in sidebar and "drafts" not in sidebar, "not in the sidebar either"
        status, body = await get(base + "/api/v1/records?q=draft", guest)
        assert '"records":[]' in body.replace(" ", "")
        for path in ("/item/3", "/api/v1/records/3", "/f/3/draft.jpg", "/item/5"):
            status, _ = await get(base + path, guest)
            assert status == 404, path
        status, feed = await get(base + f"/feed/rss?q=draft&key={guest}", None)
        assert status == 200 and "<item>" not in feed
        status, _ = await get(base + "/feed/rss", None)
        assert status == 401
        status, html = await get(base + "/gallery?q=sunset", guest)
        assert 'data-eid="1"' in html, "what they may read, they see"
        status, _ = await get(base + "/api/v1/jobs", guest)
        assert status == 403, "a static key cannot manage"


@pytest_twisted.ensureDeferred
async def test_injection_attempts_are_inert(tmp_path, database: Database) -> None:
    async with site(tmp_path, database) as (base, owner, _):
        attempts = [
            "q=' OR 1=1 --",
            'q=name:"x\') OR 1=1 --"',
            "q=in:/home'; DROP TABLE records; --",
            "q=%25",
            "q=_",
            "q=!!",
        ]
        for query in attempts:
            status, body = await get(f"{base}/api/v1/records?{query}", owner)
            assert status in (200, 400), (query, body)
        for query in (
            "sort=eid;DROP TABLE records",
            "cursor=1.1 OR 1=1",
            "days=1 OR 1=1",
            "limit=1%3B--",
        ):
            status, body = await get(f"{base}/api/v1/records?{query}", owner)
            assert status == 400, (query, body)
        status, body = await get(f"{base}/api/v1/records?q=", owner)
        assert status == 200 and body.count('"eid"') == 7, "every record is still there"
