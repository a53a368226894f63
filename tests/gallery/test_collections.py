"""Favourites and albums: personal, shareable by token, and never a way around permissions."""

from __future__ import annotations

import pytest_twisted

from sequenzia.authware import keys
from sequenzia.bus import LocalBus
from sequenzia.db.pool import Database
from tests.api.test_api import serve
from tests.gallery.test_pages import add_hostile
from tests.gallery.test_query import fetch_all, fill


@pytest_twisted.ensureDeferred
async def test_favourites_and_albums(tmp_path, database: Database) -> None:
    await database.runInteraction("fill", fill)
    await database.runInteraction("hostile", add_hostile)  # user 5 may not read channel 11
    guest = keys.new_key()
    await database.runInteraction(
        "k", keys.register_key, guest, user_id=5, kind="api", name="g", scope="write"
    )
    async for api in serve(tmp_path, database, LocalBus()):
        status, body, _ = await api.call("PUT", "/records/1/favourite")
        assert status == 200 and body["favourite"] is True
        assert await fetch_all(api, "fav=1") == [1, 2]  # eid 2 was a favourite already
        await api.call("DELETE", "/records/2/favourite")
        assert await fetch_all(api, "fav=1") == [1]

        status, body, headers = await api.call("POST", "/albums", {"name": "Best of"})
        assert status == 201
        album = body["album"]["id"]
        for eid in (1, 3, 5):
            status, _, _ = await api.call("PUT", f"/albums/{album}/items/{eid}")
            assert status == 200
        assert sorted(await fetch_all(api, f"q=album:{album}")) == [1, 3, 5]
        assert await fetch_all(api, f"q=album:{album} -sunset") == [5]
        status, body, _ = await api.call("GET", "/albums")
        assert [(a["name"], a["items"]) for a in body["albums"]] == [("Best of", 3)]

        # another member: the album is not theirs until shared, and sharing shows only what they may read
        status, body, _ = await api.call("GET", f"/records?q=album:{album}", key=guest)
        assert status == 400 and "not an album of yours" in body["error"]["message"]
        status, body, _ = await api.call("GET", f"/albums/{album}", key=guest)
        assert status == 404
        status, body, _ = await api.call("POST", f"/albums/{album}/share")
        token = body["share_token"]
        status, body, _ = await api.call("GET", f"/records?q=album:{token}", key=guest)
        assert status == 200 and [r["eid"] for r in body["records"]] == [1], "3 and 5 stay hidden"
        status, body, _ = await api.call("PUT", "/records/3/favourite", key=guest)
        assert status == 404, "nor can they favourite what they cannot read"
        await api.call("DELETE", f"/albums/{album}/share")
        status, body, _ = await api.call("GET", f"/records?q=album:{token}", key=guest)
        assert status == 400

        reader = keys.new_key()
        await database.runInteraction(
            "k", keys.register_key, reader, user_id=0, kind="static", name="frame"
        )
        status, body, _ = await api.call("PUT", "/records/1/favourite", key=reader)
        assert status == 403, "a read-only static key changes nothing"
        for bad in ({"name": ""}, {"name": "x" * 101}, {}):
            status, body, _ = await api.call("POST", "/albums", bad)
            assert status == 400 and "'name'" in body["error"]["message"]
        status, _, _ = await api.call("DELETE", f"/albums/{album}")
        assert status == 200
        status, body, _ = await api.call("GET", f"/records?q=album:{album}")
        assert status == 400
