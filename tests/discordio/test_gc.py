"""`sequenzia gc`: orphan parts in the data channels and stale cache files."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest_twisted
from twisted.internet import threads

from cds.cache import SpanCache
from sequenzia.db.pool import Database
from sequenzia.db.url import DatabaseURL
from sequenzia.spans import store as spans
from sequenzia.spans.captions import part_caption
from sequenzia.spans.hashing import xxh3_128_hex
from tests.devcord.conftest import Devcord
from tests.discordio.test_jobs import channel_messages, run_io
from tests.discordio.test_relocate import job, post_spanned
from tests.server.twistd_process import url_string


async def pool_messages(devcord: Devcord, pool: list[int]) -> list[str]:
    ids = []
    for channel in pool:
        ids += [m["id"] for m in await channel_messages(devcord, channel)]
    return ids


@pytest_twisted.ensureDeferred
async def test_gc_finds_and_removes_orphan_parts_and_stale_cache_files(
    tmp_path: Path, database: Database, db_url: DatabaseURL, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        guild = int(devcord.info["guild_id"])
        pool = io.servers[guild].data_channel_ids
        eid, file_id, _ = await post_spanned(
            io, database, tmp_path, devcord.text_channel_id(), pool
        )
        # a part whose upload died before its header: no file accounts for it
        lost = uuid.uuid4().hex
        data = b"orphan" * 100
        staged = tmp_path / "orphan.bin"
        staged.write_bytes(data)
        posted = await job(
            database,
            "post",
            {
                "channel_id": pool[0],
                "content": part_caption(lost, 0, 2, len(data), xxh3_128_hex(data)),
                "files": [{"path": str(staged), "filename": "orphan.bin"}],
            },
        )
        orphan = posted.result["message_id"]
        cache = SpanCache(tmp_path / "data" / "cache", budget_bytes=0)
        for key in (file_id, lost):
            with cache.writer(key) as w:
                w.write(b"cached")
                w.publish()

        config = tmp_path / "gc.toml"
        config.write_text(f'[database]\nurl = "{url_string(db_url)}"\n')

        def gc(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "sequenzia", "gc", "--config", str(config)]
                + ["--data", str(tmp_path / "data"), "--min-age", "0", "--timeout", "60", *args],
                capture_output=True,
                text=True,
                timeout=90,
            )

        report = await threads.deferToThread(gc)
        assert report.returncode == 0, report.stderr
        assert f"orphan part: message {orphan}" in report.stdout
        assert f"stale cache file: {cache.path(lost)}" in report.stdout
        assert (
            "found 1 orphan part(s)" in report.stdout and "1 stale cache file(s)" in report.stdout
        )
        assert orphan in await pool_messages(devcord, pool)

        applied = await threads.deferToThread(gc, "--apply")
        assert applied.returncode == 0, applied.stderr
        assert "removed 1 orphan part(s)" in applied.stdout
        remaining = await pool_messages(devcord, pool)
        assert orphan not in remaining and len(remaining) == 2, "the real file's parts stay"
        assert sorted(cache.keys()) == [file_id]
        assert len(await database.runInteraction("p", spans.parts_of, file_id)) == 2

        bad = await threads.deferToThread(gc, "--min-age", "-5")
        assert bad.returncode == 2 and "--min-age" in bad.stderr
    finally:
        await io.stopService()
