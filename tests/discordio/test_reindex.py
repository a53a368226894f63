"""Reindexing: the index rebuilt from Discord's history alone gives back the same library."""

from __future__ import annotations

import subprocess
import sys

import pytest_twisted
import treq

from sequenzia.db.pool import Database
from sequenzia.discordio import journal
from sequenzia.spans.captions import header_caption, part_caption
from tests.devcord.conftest import Devcord
from tests.devcord.test_rest_rules import post_files
from tests.discordio.test_jobs import run_io, settled
from tests.discordio.test_service import until

H = "0123456789abcdef0123456789abcdef"


def snapshot(txn) -> dict:  # type: ignore[no-untyped-def]
    out = {}
    for table, columns in {
        "records": "message_id, channel_id, kind, content, attachment_name, attachment_size, file_id, pinned",
        "file_parts": "file_id, idx, message_id, size, xxh3_128",
        "spanned_files": "id, name, size, xxh3_128, part_count, legacy",
    }.items():
        txn.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2")  # noqa: S608
        out[table] = [tuple(r) for r in txn.fetchall()]
    return out


def wipe(txn) -> None:  # type: ignore[no-untyped-def]
    for table in ("records", "file_parts", "spanned_files"):
        txn.execute(f"DELETE FROM {table}")  # noqa: S608


@pytest_twisted.ensureDeferred
async def test_drop_the_index_and_reindex_gives_back_the_same_library(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    channel_id = devcord.text_channel_id()
    io = await run_io(tmp_path, database, devcord)
    try:
        run = database.runInteraction
        await post_files(
            devcord, channel_id, [("p0.bin", b"a" * 10)], content=part_caption("f1", 0, 2, 10, H)
        )
        await post_files(
            devcord, channel_id, [("p1.bin", b"b" * 5)], content=part_caption("f1", 1, 2, 5, H)
        )
        await post_files(
            devcord,
            channel_id,
            [("preview.jpg", b"jpg")],
            content=header_caption("f1", "movie 🎬.mkv", 2, 15, H),
        )
        await post_files(
            devcord, channel_id, [("k.bin", b"k" * 7)], content="🧩 ID: kanmi9\n📦 Part: 1/1"
        )
        await post_files(
            devcord,
            channel_id,
            [("k.txt", b"h")],
            content="**🧩 File : kanmi9**\n🏷 Name: Old Library File.zip",
        )
        for n in range(120):  # more than one page of history
            r = await treq.post(
                f"{devcord.api}/channels/{channel_id}/messages",
                json={"content": f"text {n}"},
                headers=devcord.other_headers(),
            )
            await r.content()

        async def mirrored() -> bool:
            return len((await run("s", snapshot))["records"]) == 125

        await until(mirrored, timeout=30, what="all 125 mirrored")
        before = await run("s", snapshot)
        assert len(before["file_parts"]) == 3 and len(before["spanned_files"]) == 2
        assert ("kanmi9", "Old Library File.zip", None, None, None, 1) in before["spanned_files"]
        await run("w", wipe)
        job = await settled(
            database, await run("e", journal.enqueue, "reindex", {"all": True}), timeout=60
        )
        assert job.state == "done", job.last_error
        assert job.result["messages"] >= 125
        assert await run("s", snapshot) == before
    finally:
        await io.stopService()

    # a message deleted while no io process ran: the mirror never saw it; reindex prunes it
    first_text = next(r for r in before["records"] if r[3] == "text 0")[0]
    owner = {"Authorization": f"User {devcord.info['owner_token']}"}
    r = await treq.delete(
        f"{devcord.api}/channels/{channel_id}/messages/{first_text}", headers=owner
    )
    assert r.code == 204
    io = await run_io(tmp_path, database, devcord)
    try:
        job = await settled(
            database,
            await database.runInteraction(
                "e", journal.enqueue, "reindex", {"channel_ids": [channel_id]}
            ),
            timeout=60,
        )
        assert job.state == "done" and job.result["removed"] == 1
        after = await database.runInteraction("s", snapshot)
        assert len(after["records"]) == 124
    finally:
        await io.stopService()


def test_reindex_command(tmp_path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sequenzia", "reindex", "--data", str(tmp_path / "d"), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    subprocess.run(
        [sys.executable, "-m", "sequenzia", "db", "upgrade", "--data", str(tmp_path / "d")],
        check=True,
        capture_output=True,
    )
    out = cli("--channel", "general")
    assert out.returncode == 2 and "--channel takes a Discord channel id" in out.stderr
    out = cli()
    assert out.returncode == 2
    out = cli("--all", "--no-wait")
    assert out.returncode == 0 and "reindex journalled as job 1" in out.stdout
    out = cli("--channel", "123", "--timeout", "0.5")
    assert out.returncode == 1 and "still queued" in out.stderr and "Traceback" not in out.stderr
    from sequenzia.db.direct import run_interaction
    from sequenzia.db.url import parse_database_url

    url = parse_database_url(f"sqlite:///{tmp_path}/d/sequenzia.sqlite3")
    assert run_interaction(url, journal.counts)["queued"] == 2, "both jobs wait for the io role"
