"""Favourites and albums through the API.

PUT|DELETE /records/{eid}/favourite           mark or unmark a favourite
GET|POST   /albums                            your albums; create one {name}
GET|DELETE /albums/{id}                       one album (its items: /records?q=album:ID)
PUT|DELETE /albums/{id}/items/{eid}           add or remove a record
POST|DELETE /albums/{id}/share                share by token (album:TOKEN), or stop
"""

from __future__ import annotations

from typing import Any

from sequenzia.api.router import ApiError, Call, Route
from sequenzia.collections import store as collections
from sequenzia.junefs import store


class CollectionsApi:
    def __init__(self, database: Any) -> None:
        self._db = database

    async def _readable_record(self, call: Call) -> int:
        eid = call.param_id("eid")
        record = await self._db.runInteraction("record", store.record_by_eid, eid)
        if (
            record is None
            or record["kind"] == "part"
            or not call.who.can_read(int(record["channel_id"]))
        ):
            raise ApiError(404, f"there is no record {eid}")
        return eid

    async def _own_album(self, call: Call) -> dict[str, Any]:
        album = await self._db.runInteraction("album", collections.album, call.param_id("album_id"))
        if album is None or album["owner_id"] != call.who.user_id:
            raise ApiError(404, f"you have no album {call.params['album_id']}")
        return album

    async def favourite(self, call: Call) -> tuple[int, Any]:
        eid = await self._readable_record(call)
        on = call.request.method == b"PUT"
        await self._db.runInteraction(
            "favourite", collections.set_favourite, call.who.user_id, eid, on
        )
        return 200, {"eid": eid, "favourite": on}

    async def list_albums(self, call: Call) -> tuple[int, Any]:
        albums = await self._db.runInteraction("albums", collections.albums_of, call.who.user_id)
        return 200, {"albums": albums}

    async def create_album(self, call: Call) -> tuple[int, Any]:
        name = call.body().get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ApiError(400, "'name' must be 1 to 100 characters")
        album_id = await self._db.runInteraction(
            "album.create", collections.create_album, call.who.user_id, name.strip()
        )
        call.response_headers["Location"] = f"/api/v1/albums/{album_id}"
        return 201, {"album": await self._db.runInteraction("album", collections.album, album_id)}

    async def get_album(self, call: Call) -> tuple[int, Any]:
        return 200, {"album": await self._own_album(call)}

    async def delete_album(self, call: Call) -> tuple[int, Any]:
        album = await self._own_album(call)
        await self._db.runInteraction("album.delete", collections.delete_album, album["id"])
        return 200, {"deleted": album["id"]}

    async def item(self, call: Call) -> tuple[int, Any]:
        album = await self._own_album(call)
        eid = await self._readable_record(call)
        on = call.request.method == b"PUT"
        await self._db.runInteraction("album.item", collections.set_item, album["id"], eid, on)
        return 200, {"album": album["id"], "eid": eid, "in_album": on}

    async def share(self, call: Call) -> tuple[int, Any]:
        album = await self._own_album(call)
        token = await self._db.runInteraction(
            "album.share", collections.share, album["id"], call.request.method == b"POST"
        )
        return 200, {
            "album": album["id"],
            "share_token": token,
            "query": f"album:{token}" if token else None,
        }

    async def history(self, call: Call) -> tuple[int, Any]:
        who = call.who
        limit = call.query_int("limit", 50, 1, 500)
        seen = await self._db.runInteraction("history", collections.history, who.user_id, limit)
        shown = []
        for entry in seen:  # what they can no longer read drops out
            record = await self._db.runInteraction("record", store.record_by_eid, entry["eid"])
            if record is not None and who.can_read(int(record["channel_id"])):
                shown.append(entry)
        return 200, {"history": shown}

    async def forget(self, call: Call) -> tuple[int, Any]:
        await self._db.runInteraction(
            "history.forget", collections.forget_history, call.who.user_id
        )
        return 200, {"history": []}

    def routes(self) -> list[Route]:
        return [
            Route("PUT", "/records/{eid}/favourite", self.favourite, "write", "Mark a record as a favourite"),
            Route("DELETE", "/records/{eid}/favourite", self.favourite, "write", "Unmark a favourite"),
            Route("GET", "/albums", self.list_albums, "read", "Your albums"),
            Route("POST", "/albums", self.create_album, "write", "Create an album", {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 100}}}),
            Route("GET", "/albums/{album_id}", self.get_album, "read", "One of your albums (its items: /records?q=album:ID)"),
            Route("DELETE", "/albums/{album_id}", self.delete_album, "write", "Delete one of your albums"),
            Route("PUT", "/albums/{album_id}/items/{eid}", self.item, "write", "Add a record to an album"),
            Route("DELETE", "/albums/{album_id}/items/{eid}", self.item, "write", "Remove a record from an album"),
            Route("POST", "/albums/{album_id}/share", self.share, "write", "Share an album with other members by token"),
            Route("DELETE", "/albums/{album_id}/share", self.share, "write", "Stop sharing an album"),
            Route("GET", "/history", self.history, "read", "What you looked at, newest first"),
            Route("DELETE", "/history", self.forget, "write", "Forget your browsing history"),
        ]  # fmt: skip
