"""Acting on records and channels through the API: each action becomes a Discord I/O job.

Input is checked here first, so a caller's mistake is a 400/404 at once rather than a
job parked later; the executor checks again (jobs also come from other components).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sequenzia.api.jobs import JobsApi
from sequenzia.api.router import ApiError, Call, Route
from sequenzia.discordio.payload import BadJob, job_text
from sequenzia.discordio.relocate import POSTABLE, ROTATIONS, valid_file_name
from sequenzia.gallery.query import QueryError
from sequenzia.gallery.search import find_records
from sequenzia.junefs import store
from sequenzia.spans import store as spans


def _checked(check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return check(*args, **kwargs)
    except BadJob as e:
        raise ApiError(400, str(e)) from None


def public_record(record: dict[str, Any]) -> dict[str, Any]:
    """Discord ids as strings: they do not fit a JavaScript number."""
    shown = dict(record)
    for key in ("message_id", "channel_id", "server_id"):
        if shown.get(key) is not None:
            shown[key] = str(shown[key])
    shown["pinned"] = bool(shown.get("pinned"))
    return shown


def public_listing(row: dict[str, Any]) -> dict[str, Any]:
    shown = public_record(row)
    name = shown.get("name")
    shown["url"] = f"/f/{shown['eid']}/{quote(str(name), safe='')}" if name else None
    if shown["kind"] == "spanned" and shown.get("attachment_name"):
        shown["preview_url"] = f"{shown['url']}?preview=1"
    elif str(shown.get("content_type") or "").startswith("image/"):
        shown["preview_url"] = shown["url"]
    else:
        shown["preview_url"] = None
    return shown


class RecordsApi:
    def __init__(self, database: Any, jobs: JobsApi, cache: Any = None) -> None:
        self._db = database
        self._jobs = jobs
        self._cache = cache

    async def _record(self, call: Call) -> dict[str, Any]:
        eid = call.param_id("eid")
        record = await self._db.runInteraction("record", store.record_by_eid, eid)
        if record is None or not call.who.can_read(int(record["channel_id"])):
            raise ApiError(404, f"there is no record {eid}")
        if record["kind"] == "part":
            raise ApiError(400, f"record {eid} is a part of a spanned file; act on the file")
        return dict(record)

    async def _manageable(self, call: Call) -> dict[str, Any]:
        """The record, if the caller may change it (may manage its channel)."""
        record = await self._record(call)
        if not call.who.can_manage(int(record["channel_id"])):
            raise ApiError(403, f"you may not change records in channel {record['channel_id']}")
        return record

    async def _channel(self, call: Call, raw: Any, name: str = "channel_id") -> int:
        if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
            raise ApiError(400, f"'{name}' must be a channel id (a whole number), not {raw!r}")
        channel = await self._db.runInteraction("channel", store.channel_row, int(raw))
        if (
            channel is None
            or channel["deleted"]
            or channel["kind"] not in POSTABLE
            or not call.who.can_read(int(raw))
        ):
            raise ApiError(404, f"there is no text channel {raw}")
        if not call.who.can_write(int(raw)):
            raise ApiError(403, f"you may not post to channel {raw}")
        return int(raw)

    async def get(self, call: Call) -> tuple[int, Any]:
        record = public_record(await self._record(call))
        file = None
        if record["kind"] == "spanned" and record["file_id"]:
            header = await self._db.runInteraction("file", spans.spanned_file, record["file_id"])
            if header is not None:
                file = {k: header[k] for k in ("name", "size", "xxh3_128", "part_count")}
        elif record["attachment_name"] is not None:
            file = {
                "name": record["attachment_name"],
                "size": record["attachment_size"],
                "xxh3_128": record["xxh3_128"],
                "part_count": 1,
            }
        if file is not None:
            file["url"] = f"/f/{record['eid']}/{quote(str(file['name']), safe='')}"
        return 200, {"record": {**record, "file": file}}

    async def list_records(self, call: Call) -> tuple[int, Any]:
        params = {
            k.decode(): v[-1].decode("utf-8", "replace") for k, v in call.request.args.items()
        }
        try:
            rows, following = await find_records(self._db, call.who, params, self._cache)
        except QueryError as e:
            raise ApiError(400, f"parameter '{e.parameter}' {e.message}") from None
        return 200, {"records": [public_listing(r) for r in rows], "next": following}

    async def channels(self, call: Call) -> tuple[int, Any]:
        rows = await self._db.runInteraction("channels", store.list_channels, call.query("name"))
        rows = [row for row in rows if call.who.can_read(int(row["id"]))]
        for row in rows:
            for key in ("id", "server_id", "parent_id"):
                row[key] = str(row[key]) if row[key] is not None else None
            row["nsfw"], row["is_data"] = bool(row["nsfw"]), bool(row["is_data"])
        return 200, {"channels": rows}

    async def edit(self, call: Call) -> tuple[int, Any]:
        record, body = await self._manageable(call), call.body()
        content = _checked(job_text, body, "content", required=True)
        return await self._jobs.submit(call, "edit", {"eid": record["eid"], "content": content})

    async def delete(self, call: Call) -> tuple[int, Any]:
        record = await self._manageable(call)
        return await self._jobs.submit(call, "delete", {"eid": record["eid"]})

    async def move(self, call: Call) -> tuple[int, Any]:
        record, body = await self._manageable(call), call.body()
        target = await self._channel(call, body.get("channel_id"))
        return await self._jobs.submit(call, "move", {"eid": record["eid"], "channel_id": target})

    async def rename(self, call: Call) -> tuple[int, Any]:
        record, body = await self._manageable(call), call.body()
        name = _checked(valid_file_name, body.get("name"))
        if record["kind"] not in ("file", "spanned"):
            raise ApiError(400, f"record {record['eid']} has no file to rename")
        return await self._jobs.submit(call, "rename", {"eid": record["eid"], "name": name})

    async def archive(self, call: Call) -> tuple[int, Any]:
        record = await self._manageable(call)
        return await self._jobs.submit(call, "archive", {"eid": record["eid"]})

    async def pin(self, call: Call) -> tuple[int, Any]:
        record = await self._manageable(call)
        return await self._jobs.submit(call, "pin", {"eid": record["eid"], "pinned": True})

    async def unpin(self, call: Call) -> tuple[int, Any]:
        record = await self._manageable(call)
        return await self._jobs.submit(call, "pin", {"eid": record["eid"], "pinned": False})

    async def rotate(self, call: Call) -> tuple[int, Any]:
        record, body = await self._manageable(call), call.body()
        degrees = body.get("degrees", 90)
        if isinstance(degrees, bool) or degrees not in ROTATIONS:
            raise ApiError(400, f"'degrees' must be 90, 180 or 270 (clockwise), not {degrees!r}")
        if record["kind"] != "file" or not str(record["content_type"] or "").startswith("image/"):
            raise ApiError(400, f"record {record['eid']} is not an image")
        return await self._jobs.submit(call, "rotate", {"eid": record["eid"], "degrees": degrees})

    async def post(self, call: Call) -> tuple[int, Any]:
        channel_id = await self._channel(call, call.params["channel_id"])
        content = _checked(job_text, call.body(), "content", required=True)
        if not content.strip():
            raise ApiError(400, "'content' must not be empty")
        return await self._jobs.submit(call, "post", {"channel_id": channel_id, "content": content})

    def routes(self) -> list[Route]:
        text = {
            "type": "object",
            "required": ["content"],
            "properties": {"content": {"type": "string", "maxLength": 2000}},
        }
        return [
            Route("GET", "/records", self.list_records, "read", "Records matching a query (q, days, from, to, media, ratio, minres, fav, tone, colour, near, packed, shown, display, sort, seed, reverse, limit, cursor)"),
            Route("GET", "/records/{eid}", self.get, "read", "One record"),
            Route("PATCH", "/records/{eid}", self.edit, "write", "Edit a record's text", text),
            Route("DELETE", "/records/{eid}", self.delete, "write", "Delete a record (a spanned file: its header and every part)"),
            Route("POST", "/records/{eid}/move", self.move, "write", "Move a record to another channel, keeping its eid", {"type": "object", "required": ["channel_id"], "properties": {"channel_id": {"type": "string"}}}),
            Route("POST", "/records/{eid}/rename", self.rename, "write", "Rename a record's file, keeping its eid", {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 255}}}),
            Route("POST", "/records/{eid}/archive", self.archive, "write", "Move a record to its server's archive channel"),
            Route("POST", "/records/{eid}/pin", self.pin, "write", "Pin a record's message"),
            Route("POST", "/records/{eid}/unpin", self.unpin, "write", "Unpin a record's message"),
            Route("POST", "/records/{eid}/rotate", self.rotate, "write", "Rotate an image clockwise, keeping its eid", {"type": "object", "properties": {"degrees": {"enum": [90, 180, 270]}}}),
            Route("GET", "/channels", self.channels, "read", "Channels (filter by ?name=)"),
            Route("POST", "/channels/{channel_id}/messages", self.post, "write", "Post a text message to a channel", text),
        ]  # fmt: skip
