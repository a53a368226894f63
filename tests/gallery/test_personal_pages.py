"""Albums, history and settings pages: a person's own things, through their permissions."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet import reactor

from sequenzia.api.site import build_api
from sequenzia.authware import keys, sessions
from sequenzia.authware.access import Authenticator
from sequenzia.authware.keys import KeyVerifier
from sequenzia.authware.login import login_resources
from sequenzia.bus import LocalBus
from sequenzia.config import load_config
from sequenzia.db.pool import Database
from sequenzia.gallery.pages import GalleryPages
from sequenzia.web.site import build_site
from tests.gallery.test_pages import add_hostile
from tests.gallery.test_query import fill


class Person:
    """A logged-in browser of user `user_id`: its session cookie and CSRF token."""

    def __init__(self, base: str, cookie: str, csrf: str) -> None:
        self.base, self.cookie, self.csrf = base, cookie, csrf

    async def go(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, str]:
        sent = {"Cookie": f"{sessions.COOKIE}={self.cookie}", "X-CSRF-Token": self.csrf, **headers}
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        response = await treq.request(
            method, self.base + path, headers=sent, data=data, allow_redirects=False,
            persistent=False,
        )  # fmt: skip
        return response.code, (await treq.content(response)).decode()


@asynccontextmanager
async def site(tmp_path: Path, database: Database) -> AsyncIterator[tuple[str, Person, Person]]:
    """Users 5 (guest: server 1, not channel 11) and 6 (same roles), both logged in."""
    await database.runInteraction("fill", fill)
    await database.runInteraction("hostile", add_hostile)

    def people(txn: Any) -> tuple[Any, Any]:
        txn.execute("INSERT INTO users (id, username, created_ts) VALUES (6, 'other', 0)")
        txn.execute("INSERT INTO user_roles (user_id, role_id, server_id) VALUES (6, 1, 1)")
        return sessions.create(txn, 5, 1, None, None), sessions.create(txn, 6, 1, None, None)

    (guest_id, guest), (other_id, other) = await database.runInteraction("people", people)
    await keys.install_owner_key(database, tmp_path)
    config = load_config(env={}, cwd=tmp_path)
    pages = GalleryPages(database, Authenticator(database, KeyVerifier(database, reactor), reactor))
    web = build_site(
        {}, reactor, build_api(database, LocalBus(), reactor, config), None,
        {**pages.resources(), **login_resources(config, database, reactor)},
    )  # fmt: skip
    port = reactor.listenTCP(0, web, interface="127.0.0.1")
    base = f"http://127.0.0.1:{port.getHost().port}"
    try:
        yield (
            base,
            Person(base, guest_id, guest.csrf_token),
            Person(base, other_id, other.csrf_token),
        )
    finally:
        await port.stopListening()


def main(html: str) -> str:
    """The page's own content, without the top bar and the sidebar."""
    return html.split("<main>", 1)[1].split("</main>", 1)[0]


@pytest_twisted.ensureDeferred
async def test_albums_page_counts_only_what_the_viewer_may_read(
    tmp_path, database: Database
) -> None:
    async with site(tmp_path, database) as (base, guest, other):
        status, body = await guest.go("POST", "/api/v1/albums", {"name": "<b>Trips</b>"})
        assert status == 201
        album = re.search(r'"id":\s*(\d+)', body)[1]  # type: ignore[index]
        status, _ = await guest.go("PUT", f"/api/v1/albums/{album}/items/1")
        assert status == 200
        status, _ = await guest.go("PUT", f"/api/v1/albums/{album}/items/3")
        assert status == 404, "eid 3 is in channel 11, which the guest cannot read"
        # an item added while they could still read it (roles change) must not be counted
        await database.runInteraction(
            "lost", lambda txn: txn.execute(
                "INSERT INTO album_items (album_id, eid, added_ts) VALUES (?, 3, 0)", (int(album),)
            ),
        )  # fmt: skip

        status, html = await guest.go("GET", "/albums")
        assert status == 200
        row = main(html).split(f'data-album="{album}"', 1)[1].split("</tr>", 1)[0]
        assert f'href="/gallery?q=album:{album}"' in row and "&lt;b&gt;Trips&lt;/b&gt;" in row
        assert "<td>1</td>" in row, "one readable item, not two"
        assert "private" in row and f'data-api="POST /albums/{album}/share"' in row
        status, listing = await guest.go("GET", f"/gallery?q=album:{album}")
        assert 'data-eid="1"' in listing and 'data-eid="3"' not in listing

        status, html = await other.go("GET", "/albums")
        assert f'data-album="{album}"' not in html, "someone else's album is not listed"

        status, body = await guest.go("POST", f"/api/v1/albums/{album}/share")
        token = re.search(r'"share_token":\s*"(\w+)"', body)[1]  # type: ignore[index]
        status, html = await guest.go("GET", "/albums")
        assert f'value="/gallery?q=album:{token}"' in html and "Stop sharing" in html
        status, shared = await other.go("GET", f"/gallery?q=album:{token}")
        assert status == 200 and 'data-eid="1"' in shared and 'data-eid="3"' not in shared

        # the item page and the grid offer "add to album"
        status, html = await guest.go("GET", "/item/2")
        assert 'id="album-target"' in html and f'<option value="{album}">&lt;b&gt;Trips' in html
        status, html = await guest.go("GET", "/gallery")
        assert 'data-bulk="album"' in html
        status, html = await other.go("GET", "/item/2")
        assert 'href="/albums">Make an album' in html, "no albums yet: a way to make one"


@pytest_twisted.ensureDeferred
async def test_history_page_newest_first_without_what_is_no_longer_readable(
    tmp_path, database: Database
) -> None:
    async with site(tmp_path, database) as (base, guest, other):
        status, html = await guest.go("GET", "/history")
        assert status == 200 and "Nothing yet" in html
        for eid in (1, 2):
            status, _ = await guest.go("GET", f"/item/{eid}")
            assert status == 200
        await database.runInteraction(  # seen before they lost the role for channel 11
            "old", lambda txn: txn.execute(
                "INSERT INTO history (user_id, eid, seen_ts) VALUES (5, 3, 9999999999999)"
            ),
        )  # fmt: skip
        status, html = await guest.go("GET", "/history")
        content = main(html)
        assert content.index('data-eid="2"') < content.index('data-eid="1"'), "newest first"
        assert 'data-eid="3"' not in content and "draft" not in content
        assert 'data-api="DELETE /history"' in content

        status, html = await other.go("GET", "/history")
        assert 'data-eid="1"' not in main(html), "each person sees only their own"

        status, _ = await guest.go("DELETE", "/api/v1/history")
        assert status == 200
        status, html = await guest.go("GET", "/history")
        assert 'data-eid="' not in main(html) and "Nothing yet" in html


@pytest_twisted.ensureDeferred
async def test_settings_page_keys_nsfw_and_logging_out_everywhere(
    tmp_path, database: Database
) -> None:
    async with site(tmp_path, database) as (base, guest, other):
        status, body = await guest.go("POST", "/api/v1/keys", {"name": "frame <i>x</i>"})
        assert status == 201
        secret = re.search(r'"secret":\s*"([^"]+)"', body)[1]  # type: ignore[index]
        status, html = await guest.go("GET", "/settings")
        assert status == 200
        assert "frame &lt;i&gt;x&lt;/i&gt;" in html and secret[:12] in html
        assert secret not in html and "$2b$" not in html, "neither the key nor its hash"
        assert 'data-api="DELETE /keys/' in html and 'data-api="POST /keys"' in html
        assert "hidden in your listings" in html and '{"enabled": true}' in html
        assert 'name="everywhere" value="1"' in html and f'value="{guest.csrf}"' in html
        status, html = await other.go("GET", "/settings")
        assert "frame &lt;i&gt;x" not in html

        status, _ = await guest.go("PUT", "/api/v1/me/nsfw", {"enabled": True})
        status, html = await guest.go("GET", "/settings")
        assert "shown in your listings" in html and '{"enabled": false}' in html

        # a page fetched with a key: no key management there
        response = await treq.get(
            base + "/settings", headers={"Authorization": f"Bearer {secret}"}, persistent=False
        )
        html = (await treq.content(response)).decode()
        assert response.code == 200 and "managed from a login session" in html
        assert 'data-api="POST /keys"' not in html and "everywhere" not in html

        # the form's fields log out every session of the guest, and no one else's
        second = await database.runInteraction("s", sessions.create, 5, 1, None, None)
        status, _ = await guest.go(
            "POST", "/logout", f"csrf_token={guest.csrf}&everywhere=1".encode(),
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert status == 303
        assert await database.runInteraction("g", sessions.get, second[0]) is None
        assert await database.runInteraction("g", sessions.get, other.cookie) is not None


@pytest_twisted.ensureDeferred
async def test_personal_pages_need_a_login_and_refuse_odd_addresses(
    tmp_path, database: Database
) -> None:
    async with site(tmp_path, database) as (base, guest, _):
        for path in ("/albums", "/history", "/settings"):
            response = await treq.get(base + path, allow_redirects=False, persistent=False)
            assert response.code == 302 and response.headers.getRawHeaders("Location") == ["/"]
            status, html = await guest.go("GET", path + "/nothing")
            assert status == 404 and "nothing at this address" in html
            status, html = await guest.go("GET", path + "?x=%ff%00")
            assert status == 200, path
        status, html = await guest.go("GET", "/gallery")
        bar = html.split("</header>", 1)[0]
        for link in ("/gallery?fav=1", "/albums", "/history", "/settings"):
            assert f'href="{link}"' in bar, link
        assert 'class="folders-toggle"' in bar and 'aria-controls="folders"' in bar
