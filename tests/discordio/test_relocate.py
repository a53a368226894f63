"""Moves, renames, archiving, rotation and deletes of records, against devcord, on both databases."""

from __future__ import annotations

import io as bytes_io
import uuid
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from PIL import Image

from sequenzia.db.pool import Database
from sequenzia.discordio import journal, operations
from sequenzia.discordio.service import DiscordIOService
from sequenzia.junefs import store
from sequenzia.spans import store as spans
from sequenzia.spans.captions import header_caption, part_caption
from sequenzia.spans.hashing import xxh3_128_hex
from tests.devcord.conftest import Devcord
from tests.discordio.test_jobs import channel_messages, run_io, settled


async def job(database: Database, kind: str, payload: dict[str, Any]) -> journal.Job:
    job_id = await database.runInteraction("e", journal.enqueue, kind, payload)
    return await settled(database, job_id)


async def post(
    database: Database, tmp_path: Path, channel_id: int, name: str, data: bytes, content: str = ""
) -> int:
    """Post a file through a job; its record's eid."""
    staged = tmp_path / f"staged-{uuid.uuid4().hex}"
    staged.write_bytes(data)
    done = await job(
        database,
        "post",
        {
            "channel_id": channel_id,
            "content": content,
            "files": [{"path": str(staged), "filename": name}],
        },
    )
    assert done.state == "done", done.last_error
    record = await database.runInteraction(
        "r", store.record_by_message, int(done.result["message_id"])
    )
    return int(record["eid"])


async def record(database: Database, eid: int) -> dict[str, Any]:
    found = await database.runInteraction("r", store.record_by_eid, eid)
    assert found is not None, f"record {eid} is gone"
    return found


async def download(devcord: Devcord, message: dict[str, Any]) -> bytes:
    return bytes(await (await treq.get(message["attachments"][0]["url"])).content())


async def new_channel(io: DiscordIOService, guild_id: int, name: str) -> int:
    return int((await io.bridge.call(operations.create_channel, guild_id, name))["id"])


@pytest_twisted.ensureDeferred
async def test_each_server_gets_a_data_pool_and_an_archive_channel_once(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    guild = int(devcord.info["guild_id"])
    io = await run_io(tmp_path, database, devcord)
    try:
        servers = io.servers[guild]
        assert len(servers.data_channel_ids) == 4
        pool = await database.runInteraction("p", store.data_channels, guild)
        assert sorted(pool) == sorted(servers.data_channel_ids)
        row = await database.runInteraction("s", store.server_row, guild)
        assert row["archive_channel_id"] == servers.archive_channel_id
        world = devcord.service.world
        names = {c["name"]: c for c in world.channels(guild)}
        assert {"sequenzia-data", "archive", "data-0", "data-3"} <= set(names)
        assert names["data-2"]["parent_id"] == names["sequenzia-data"]["id"]
        count = len(world.channels(guild))
    finally:
        await io.stopService()
    io = await run_io(tmp_path, database, devcord)  # a restart finds them by name
    try:
        assert io.servers[guild] == servers
        assert len(devcord.service.world.channels(guild)) == count
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_move_rename_archive_keep_the_eid_and_the_bytes(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        guild = int(devcord.info["guild_id"])
        source = devcord.text_channel_id()
        target = await new_channel(io, guild, "holidays")
        data = uuid.uuid4().bytes * 4000
        eid = await post(database, tmp_path, source, "beach.bin", data, content="the beach")
        first = await record(database, eid)

        moved = await job(database, "move", {"eid": eid, "channel_id": target})
        assert moved.state == "done", moved.last_error
        after = await record(database, eid)
        assert after["channel_id"] == target and after["message_id"] != first["message_id"]
        assert after["content"] == "the beach" and after["attachment_name"] == "beach.bin"
        assert not [
            m for m in await channel_messages(devcord, source) if m["content"] == "the beach"
        ]
        [there] = await channel_messages(devcord, target)
        assert await download(devcord, there) == data
        assert await database.runInteraction("c", store.count_records, target) == 1

        renamed = await job(database, "rename", {"eid": eid, "name": "beach day.bin"})
        assert renamed.state == "done", renamed.last_error
        [there] = await channel_messages(devcord, target)
        assert there["attachments"][0]["filename"] == "beach day.bin"
        assert (await record(database, eid))["attachment_name"] == "beach day.bin"
        assert await download(devcord, there) == data

        archived = await job(database, "archive", {"eid": eid})
        assert archived.state == "done", archived.last_error
        assert (await record(database, eid))["channel_id"] == io.servers[guild].archive_channel_id
        assert await channel_messages(devcord, target) == []
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_a_move_run_again_after_a_crash_posts_once(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        guild = int(devcord.info["guild_id"])
        target = await new_channel(io, guild, "elsewhere")
        eid = await post(database, tmp_path, devcord.text_channel_id(), "a.bin", b"a" * 100)
        done = await job(database, "move", {"eid": eid, "channel_id": target})
        assert done.state == "done", done.last_error
        assert done.payload["from_message_id"]  # the job remembered where it started

        def rerun(txn: Any) -> None:  # as if the process died before completing it
            txn.execute("UPDATE io_jobs SET state = 'queued' WHERE id = ?", (done.id,))

        await database.runInteraction("rerun", rerun)
        again = await settled(database, done.id)
        assert again.state == "done", again.last_error
        assert len(await channel_messages(devcord, target)) == 1
        assert (await record(database, eid))["channel_id"] == target
    finally:
        await io.stopService()


def png(width: int, height: int) -> bytes:
    out = bytes_io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest_twisted.ensureDeferred
async def test_rotate_turns_the_image_and_keeps_the_eid(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        channel = devcord.text_channel_id()
        eid = await post(database, tmp_path, channel, "wide.png", png(30, 20))
        turned = await job(database, "rotate", {"eid": eid, "degrees": 90})
        assert turned.state == "done", turned.last_error
        [message] = await channel_messages(devcord, channel)
        with Image.open(bytes_io.BytesIO(await download(devcord, message))) as image:
            assert image.size == (20, 30)
        assert (await record(database, eid))["message_id"] == int(message["id"])
    finally:
        await io.stopService()


async def post_spanned(
    io: DiscordIOService, database: Database, tmp_path: Path, channel: int, pool: list[int]
) -> tuple[int, str, list[bytes]]:
    """A two-part spanned file: parts in the data pool, then its header in `channel`."""
    file_id = uuid.uuid4().hex
    parts = [uuid.uuid4().bytes * 300, uuid.uuid4().bytes * 200]
    whole = b"".join(parts)
    for n, data in enumerate(parts):
        staged = tmp_path / f"part-{file_id}-{n}"
        staged.write_bytes(data)
        caption = part_caption(file_id, n, len(parts), len(data), xxh3_128_hex(data))
        done = await job(
            database,
            "post",
            {
                "channel_id": pool[n % len(pool)],
                "content": caption,
                "files": [{"path": str(staged), "filename": f"{file_id}.{n}"}],
            },
        )
        assert done.state == "done", done.last_error
    caption = header_caption(file_id, "film.mkv", len(parts), len(whole), xxh3_128_hex(whole))
    done = await job(database, "post", {"channel_id": channel, "content": caption})
    assert done.state == "done", done.last_error
    header = await database.runInteraction(
        "r", store.record_by_message, int(done.result["message_id"])
    )
    return int(header["eid"]), file_id, parts


@pytest_twisted.ensureDeferred
async def test_spanned_files_rename_move_across_servers_and_delete_whole(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    second = devcord.service.world.add_guild("second")
    io = await run_io(tmp_path, database, devcord)
    try:
        guild = int(devcord.info["guild_id"])
        pool = io.servers[guild].data_channel_ids
        eid, file_id, parts = await post_spanned(
            io, database, tmp_path, devcord.text_channel_id(), pool
        )

        renamed = await job(database, "rename", {"eid": eid, "name": "holiday film.mkv"})
        assert renamed.state == "done", renamed.last_error
        header = await database.runInteraction("f", spans.spanned_file, file_id)
        assert header["name"] == "holiday film.mkv" and header["eid"] == eid

        other = await new_channel(io, int(second["id"]), "films")
        moved = await job(database, "move", {"eid": eid, "channel_id": other})
        assert moved.state == "done", moved.last_error
        assert (await record(database, eid))["channel_id"] == other
        their_pool = io.servers[int(second["id"])].data_channel_ids
        rows = await database.runInteraction("p", spans.parts_of, file_id)
        assert [r["channel_id"] in their_pool for r in rows] == [True, True]
        for row, data in zip(rows, parts, strict=True):
            message = await io.bridge.call(
                operations.get_message, row["channel_id"], row["message_id"]
            )
            assert await download(devcord, message) == data
        for channel in pool:  # nothing left behind in the first server's pool
            assert await channel_messages(devcord, channel) == []

        deleted = await job(database, "delete", {"eid": eid})
        assert deleted.state == "done", deleted.last_error
        assert await database.runInteraction("f", spans.spanned_file, file_id) is None
        assert await database.runInteraction("p", spans.parts_of, file_id) == []
        for channel in [*their_pool, other]:
            assert await channel_messages(devcord, channel) == []
        assert await database.runInteraction("r", store.record_by_eid, eid) is None
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_bad_record_operations_are_parked_with_a_clear_error(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        channel = devcord.text_channel_id()
        eid = await post(database, tmp_path, channel, "notes.txt", b"hello")
        cases = [
            ("move", {"eid": eid, "channel_id": 424242}, "is not a text channel Sequenzia knows"),
            ("move", {"eid": 999999, "channel_id": channel}, "no record with eid 999999"),
            ("move", {"eid": "x", "channel_id": channel}, "'eid' must be a Discord id"),
            ("rename", {"eid": eid, "name": "../../etc/passwd"}, "one file name"),
            ("rename", {"eid": eid}, "'name' must be a non-empty file name"),
            ("rotate", {"eid": eid, "degrees": 45}, "must be 90, 180 or 270"),
            ("rotate", {"eid": eid}, "is not an image"),
        ]
        for kind, payload, expected in cases:
            parked = await job(database, kind, payload)
            assert parked.state == "failed" and expected in parked.last_error, (
                kind,
                payload,
                parked.last_error,
            )
        # nothing was written: the record and its message are as they were
        [message] = await channel_messages(devcord, channel)
        assert (await record(database, eid))["message_id"] == int(message["id"])
    finally:
        await io.stopService()
