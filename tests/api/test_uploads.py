"""The resumable upload API end to end: parts in, Discord I/O stores them, bytes come back."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet import reactor

from sequenzia.api.site import build_api
from sequenzia.api.uploads import expire_uploads
from sequenzia.authware import keys
from sequenzia.bus import LocalBus
from sequenzia.config import load_config
from sequenzia.db.pool import Database
from sequenzia.discordio import operations
from sequenzia.junefs import store
from sequenzia.spans import store as spans
from sequenzia.spans.hashing import xxh3_128_hex
from sequenzia.web.site import build_site
from tests.api.test_api import add_text_channel
from tests.devcord.conftest import Devcord
from tests.discordio.test_jobs import run_io

MiB = 1024 * 1024


class Client:
    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key

    async def call(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None, **headers: str
    ) -> tuple[int, Any]:
        sent = {
            "Authorization": f"Bearer {self.key}",
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        response = await treq.request(method, self.url + path, data=data, headers=sent)
        return response.code, json.loads(await response.content())

    async def put_part(self, upload: dict[str, Any], index: int, data: bytes) -> tuple[int, Any]:
        return await self.call(
            "PUT",
            f"/uploads/{upload['id']}/parts/{index}",
            raw=data,
            X_Xxh3_128=xxh3_128_hex(data),
        )

    async def upload(
        self, name: str, data: bytes, channel: int, order: str = "forward"
    ) -> dict[str, Any]:
        status, body = await self.call(
            "POST",
            "/uploads",
            {
                "name": name,
                "size": len(data),
                "xxh3_128": xxh3_128_hex(data),
                "channel_id": str(channel),
            },
        )
        assert status == 201, body
        upload = body["upload"]
        size = upload["part_size"]
        indexes = list(range(upload["part_count"]))
        for n in reversed(indexes) if order == "reverse" else indexes:
            status, answer = await self.put_part(upload, n, data[n * size : (n + 1) * size])
            assert status == 200, answer
        status, body = await self.call("POST", f"/uploads/{upload['id']}/complete?wait=60")
        assert status == 200 and body["job"]["state"] == "done", body
        return body


@asynccontextmanager
async def serve(
    tmp_path: Path, database: Database, bus: LocalBus, part_mib: int = 1
) -> AsyncIterator[Client]:
    config = load_config(env={}, cwd=tmp_path)
    config = dataclasses.replace(
        config, spans=dataclasses.replace(config.spans, part_size_mib=part_mib)
    )
    path = await keys.install_owner_key(database, tmp_path)
    site = build_site({}, reactor, build_api(database, bus, reactor, config))
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        yield Client(f"http://127.0.0.1:{port.getHost().port}/api/v1", path.read_text().strip())
    finally:
        await port.stopListening()


@asynccontextmanager
async def running(
    tmp_path: Path, database: Database, devcord: Devcord
) -> AsyncIterator[tuple[Any, Client]]:
    """The io role against devcord, and an API client of a web site beside it."""
    bus = LocalBus()
    io = await run_io(tmp_path, database, devcord, bus)
    try:
        async with serve(tmp_path, database, bus) as client:
            yield io, client
    finally:
        await io.stopService()


async def stored_bytes(io: Any, database: Database, eid: int) -> bytes:
    """The file of record `eid` as Discord holds it: its attachment, or its parts in order."""
    record = await database.runInteraction("r", store.record_by_eid, eid)
    if record["kind"] == "file":
        message = await io.bridge.call(
            operations.get_message, record["channel_id"], record["message_id"]
        )
        return await io.bridge.call(operations.download, message["attachments"][0]["url"])
    assert record["kind"] == "spanned", record
    out = b""
    for part in await database.runInteraction("p", spans.parts_of, record["file_id"]):
        message = await io.bridge.call(
            operations.get_message, part["channel_id"], part["message_id"]
        )
        data = await io.bridge.call(operations.download, message["attachments"][0]["url"])
        assert xxh3_128_hex(data) == part["xxh3_128"]
        out += data
    return out


@pytest_twisted.ensureDeferred
async def test_round_trips_at_the_edges_of_the_part_size(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    async with running(tmp_path, database, devcord) as (io, client):
        channel = devcord.text_channel_id()
        status, listed = await client.call("GET", "/channels?name=data-0")
        assert [c["is_data"] for c in listed["channels"]] == [True]
        for size in (0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 5):
            data = os.urandom(size)
            body = await client.upload(f"file-{size}.bin", data, channel, order="reverse")
            eid = body["upload"]["eid"]
            assert body["upload"]["state"] == "stored" and eid, body
            record = await database.runInteraction("r", store.record_by_eid, eid)
            assert record["kind"] == ("spanned" if size > MiB else "file"), (size, record)
            assert await stored_bytes(io, database, eid) == data, size
            status, shown = await client.call("GET", f"/records/{eid}")
            assert shown["record"]["file"] == {
                "name": f"file-{size}.bin",
                "size": size,
                "xxh3_128": xxh3_128_hex(data),
                "part_count": -(-size // MiB) if size > MiB else 1,
                "url": f"/f/{eid}/file-{size}.bin",
            }
            if size > MiB:
                header = await database.runInteraction("f", spans.spanned_file, record["file_id"])
                assert header["name"] == f"file-{size}.bin" and header["size"] == size
                assert header["xxh3_128"] == xxh3_128_hex(data) and header["state"] == "complete"
        staged = list((tmp_path / "data" / "staging" / "uploads").iterdir())
        assert staged == [], "staged bytes are removed once stored"


@pytest_twisted.ensureDeferred
async def test_a_lowered_limit_re_cuts_the_file_into_smaller_parts(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    async with running(tmp_path, database, devcord) as (io, client):
        guild = devcord.info["guild_id"]
        devcord.service.apply_fault(
            {"fault": "upload_limit", "guild_id": guild, "bytes": 700 * 1024}
        )
        data = os.urandom(3 * MiB)
        body = await client.upload("big.bin", data, devcord.text_channel_id())
        eid = body["upload"]["eid"]
        assert await stored_bytes(io, database, eid) == data
        record = await database.runInteraction("r", store.record_by_eid, eid)
        parts = await database.runInteraction("p", spans.parts_of, record["file_id"])
        assert len(parts) == 6 and {p["size"] for p in parts} == {512 * 1024}
        server = await database.runInteraction("s", store.server_row, int(guild))
        assert server["upload_limit"] == 512 * 1024
        # the next upload is planned with the learnt limit from the start
        status, body = await client.call(
            "POST",
            "/uploads",
            {
                "name": "n.bin",
                "size": MiB,
                "xxh3_128": "0" * 32,
                "channel_id": str(devcord.text_channel_id()),
            },
        )
        assert body["upload"]["part_size"] == 512 * 1024


@pytest_twisted.ensureDeferred
async def test_bad_input_is_refused_and_nothing_is_written(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    async with running(tmp_path, database, devcord) as (io, client):
        channel = str(devcord.text_channel_id())
        data = os.urandom(2 * MiB + 10)
        good = {
            "name": "a.bin",
            "size": len(data),
            "xxh3_128": xxh3_128_hex(data),
            "channel_id": channel,
        }
        for change, expected in [
            ({"name": "../../etc/passwd"}, "one file name"),
            ({"name": ""}, "non-empty file name"),
            ({"size": -1}, "'size'"),
            ({"size": "12"}, "'size'"),
            ({"xxh3_128": "xyz"}, "'xxh3_128'"),
            ({"channel_id": "12"}, "no text channel 12"),
            ({"content": "x" * 1001}, "'content'"),
        ]:
            status, body = await client.call("POST", "/uploads", {**good, **change})
            assert status in (400, 404) and expected in body["error"]["message"], (change, body)
        status, body = await client.call("POST", "/uploads", good)
        upload = body["upload"]
        first = data[:MiB]
        cases = [
            (3, first, 400, "out of range: this upload has parts 0 to 2"),
            (0, first + b"x", 400, "must be 1048576 bytes; more arrived"),
            (0, first[:-1], 400, "must be 1048576 bytes; 1048575 arrived"),
        ]
        for index, part, status_expected, expected in cases:
            status, body = await client.put_part(upload, index, part)
            assert status == status_expected and expected in body["error"]["message"], body
        status, body = await client.call(
            "PUT", f"/uploads/{upload['id']}/parts/0", raw=first, X_Xxh3_128="0" * 32
        )
        assert status == 400 and "does not match its hash" in body["error"]["message"]
        status, body = await client.call("PUT", f"/uploads/{upload['id']}/parts/0", raw=first)
        assert status == 400 and "X-Xxh3-128" in body["error"]["message"]
        staged = tmp_path / "data" / "staging" / "uploads" / f"{upload['id']}.data"
        assert staged.read_bytes() == bytes(len(data)), "a refused part writes nothing"
        status, body = await client.call("GET", f"/uploads/{upload['id']}")
        assert body["upload"]["received"] == []
        status, body = await client.call("POST", f"/uploads/{upload['id']}/complete")
        assert status == 409 and "3 part(s) have not arrived: 0, 1, 2" in body["error"]["message"]
        for status_path in (
            "/uploads/0123456789abcdef0123456789abcdef",
            "/uploads/..%2F..%2Fetc",
        ):
            status, body = await client.call("GET", status_path)
            assert status == 404, body
        # resume: what arrived is kept, the rest follows later
        await client.put_part(upload, 2, data[2 * MiB :])
        status, body = await client.call("GET", f"/uploads/{upload['id']}")
        assert body["upload"]["received"] == [2]
        await client.put_part(upload, 0, data[:MiB])
        await client.put_part(upload, 1, data[MiB : 2 * MiB])
        # a client that lied about the whole file's hash
        status, body = await client.call("POST", "/uploads", {**good, "xxh3_128": "1" * 32})
        liar = body["upload"]
        for n in range(3):
            await client.put_part(liar, n, data[n * MiB : (n + 1) * MiB])
        status, body = await client.call("POST", f"/uploads/{liar['id']}/complete")
        assert status == 409 and "add up to xxh3-128" in body["error"]["message"]
        status, body = await client.call("DELETE", f"/uploads/{liar['id']}")
        assert status == 200 and body["upload"]["state"] == "aborted"
        assert not (tmp_path / "data" / "staging" / "uploads" / f"{liar['id']}.data").exists()
        status, body = await client.call("POST", f"/uploads/{upload['id']}/complete?wait=60")
        assert status == 200 and body["upload"]["state"] == "stored", body
        assert await stored_bytes(io, database, body["upload"]["eid"]) == data
        # completing again answers with the same outcome
        status, again = await client.call("POST", f"/uploads/{upload['id']}/complete")
        assert (
            again["job"]["id"] == body["job"]["id"]
            and again["upload"]["eid"] == body["upload"]["eid"]
        )


@pytest_twisted.ensureDeferred
async def test_abandoned_uploads_expire(tmp_path, database: Database) -> None:
    async with serve(tmp_path, database, LocalBus()) as client:
        await database.runInteraction("c", add_text_channel)
        status, body = await client.call(
            "POST", "/uploads", {"name": "a", "size": 10, "xxh3_128": "0" * 32, "channel_id": "2"}
        )
        upload_id = body["upload"]["id"]
        staging_dir = tmp_path / "data" / "staging" / "uploads"
        assert (staging_dir / f"{upload_id}.data").exists()
        assert await expire_uploads(database, staging_dir) == 0

        def age(txn: Any, upload_id: str) -> None:
            txn.execute("UPDATE uploads SET expires_ts = 0 WHERE id = ?", (upload_id,))

        await database.runInteraction("age", age, upload_id)
        assert await expire_uploads(database, staging_dir) == 1
        assert not (staging_dir / f"{upload_id}.data").exists()
        status, body = await client.call("GET", f"/uploads/{upload_id}")
        assert body["upload"]["state"] == "expired"
        status, body = await client.call(
            "PUT", f"/uploads/{upload_id}/parts/0", raw=b"x" * 10, X_Xxh3_128="0" * 32
        )
        assert status == 409 and "expired" in body["error"]["message"]


@pytest_twisted.ensureDeferred
async def test_a_spanned_image_gets_a_preview_on_its_header(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    import io as bytes_io

    from PIL import Image

    async with running(tmp_path, database, devcord) as (io, client):
        picture = bytes_io.BytesIO()
        Image.frombytes("RGB", (900, 700), os.urandom(900 * 700 * 3)).save(picture, format="PNG")
        data = picture.getvalue()
        assert len(data) > MiB, "a spanned file"
        body = await client.upload("noise.png", data, devcord.text_channel_id())
        record = await database.runInteraction("r", store.record_by_eid, body["upload"]["eid"])
        assert record["kind"] == "spanned" and record["attachment_name"] == "preview.jpg"
        message = await io.bridge.call(
            operations.get_message, record["channel_id"], record["message_id"]
        )
        preview = await io.bridge.call(operations.download, message["attachments"][0]["url"])
        with Image.open(bytes_io.BytesIO(preview)) as shown:
            assert shown.format == "JPEG" and shown.size == (640, 498)
        assert await stored_bytes(io, database, record["eid"]) == data
        other = await client.upload("notes.bin", os.urandom(MiB + 5), devcord.text_channel_id())
        plain = await database.runInteraction("r", store.record_by_eid, other["upload"]["eid"])
        assert plain["attachment_name"] is None, "no preview for what is not an image or video"
