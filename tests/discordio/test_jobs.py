"""Journal jobs run by the io role against devcord, on both databases."""

from __future__ import annotations

import json
import threading

import pytest
import pytest_twisted
import treq
from twisted.internet import task, threads

from sequenzia.bus import LocalBus
from sequenzia.db.pool import Database
from sequenzia.discordio import journal
from sequenzia.discordio.executor import JobExecutor
from sequenzia.discordio.submit import submit
from sequenzia.junefs import store
from tests.devcord.conftest import Devcord, quiet_options, start_devcord
from tests.discordio.test_service import _true, io_service, until


async def run_io(tmp_path, database, devcord, bus=None):  # type: ignore[no-untyped-def]
    io = io_service(tmp_path, database, devcord, "io-jobs")
    io._bus = bus
    io.startService()
    await until(lambda: _true(io.state == "connected"), what="connected")
    return io


async def settled(database: Database, job_id: int, timeout: float = 20.0) -> journal.Job:
    async def done() -> bool:
        job = await database.runInteraction("g", journal.get, job_id)
        return job.state in ("done", "failed")

    await until(done, timeout=timeout, what=f"job {job_id} settled")
    return await database.runInteraction("g", journal.get, job_id)


async def channel_messages(devcord: Devcord, channel_id: int) -> list[dict]:
    r = await treq.get(
        f"{devcord.api}/channels/{channel_id}/messages?limit=100", headers=devcord.bot_headers()
    )
    return json.loads(await r.content())


@pytest_twisted.ensureDeferred
async def test_post_edit_pin_delete_jobs(tmp_path, database: Database, devcord: Devcord) -> None:
    bus = LocalBus()
    io = await run_io(tmp_path, database, devcord, bus)
    try:
        channel_id = devcord.text_channel_id()
        staged = tmp_path / "staged.bin"
        staged.write_bytes(b"\x01" * 5000)
        job_id = await submit(
            database,
            bus,
            "post",
            {
                "channel_id": channel_id,
                "content": "a file",
                "files": [{"path": str(staged), "filename": "holiday.bin"}],
            },
            priority=journal.INTERACTIVE,
        )
        job = await settled(database, job_id)
        assert job.state == "done", job.last_error
        message_id = int(job.result["message_id"])
        record = await database.runInteraction("r", store.record_by_message, message_id)
        assert (
            record["kind"] == "file"
            and record["attachment_name"] == "holiday.bin"
            and record["attachment_size"] == 5000
        )
        job = await settled(
            database,
            await submit(
                database,
                bus,
                "edit",
                {"channel_id": channel_id, "message_id": message_id, "content": "renamed"},
            ),
        )
        assert job.state == "done", job.last_error
        assert (await database.runInteraction("r", store.record_by_message, message_id))[
            "content"
        ] == "renamed"
        job = await settled(
            database,
            await submit(
                database,
                bus,
                "pin",
                {"channel_id": channel_id, "message_id": message_id, "pinned": True},
            ),
        )
        assert (
            job.state == "done"
            and (await database.runInteraction("r", store.record_by_message, message_id))["pinned"]
            == 1
        )
        job = await settled(
            database,
            await submit(
                database, bus, "delete", {"channel_id": channel_id, "message_id": message_id}
            ),
        )
        assert job.state == "done"
        assert await database.runInteraction("r", store.record_by_message, message_id) is None
        assert [
            m for m in await channel_messages(devcord, channel_id) if m["id"] == str(message_id)
        ] == []
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_bad_jobs_are_parked_with_a_clear_error(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        run = database.runInteraction
        channel_id = devcord.text_channel_id()
        big = tmp_path / "big.bin"
        big.write_bytes(b"x" * 2000)
        devcord.service.apply_fault(
            {"fault": "upload_limit", "guild_id": devcord.info["guild_id"], "bytes": 1000}
        )
        cases = {
            "unknown channel": ({"channel_id": 12345, "content": "x"}, "404"),
            "oversized file": (
                {"channel_id": channel_id, "files": [{"path": str(big), "filename": "big.bin"}]},
                "413",
            ),
            "missing fields": ({"channel_id": channel_id}, "needs 'content' or 'files'"),
            "wrong type": ({"channel_id": "general", "content": "x"}, "must be a Discord id"),
            "too long": ({"channel_id": channel_id, "content": "x" * 2001}, "Discord allows 2000"),
            "file not staged": (
                {
                    "channel_id": channel_id,
                    "files": [{"path": str(tmp_path / "gone"), "filename": "g"}],
                },
                "does not exist",
            ),
        }
        ids = {
            name: await run("e", journal.enqueue, "post", payload)
            for name, (payload, _) in cases.items()
        }
        ids["unknown kind"] = await run("e", journal.enqueue, "teleport", {})
        for name, job_id in ids.items():
            job = await settled(database, job_id)
            expected = cases[name][1] if name in cases else "unknown job kind"
            assert job.state == "failed" and job.attempts == 1, (name, job)
            assert expected in job.last_error, (name, job.last_error)
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_jobs_ride_out_5xx_and_429_storms(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        channel_id = devcord.text_channel_id()
        devcord.service.faults.fail_route(r"/messages$", status=502, count=2, method="POST")
        devcord.service.faults.storm(1.0)
        ids = [
            await database.runInteraction(
                "e", journal.enqueue, "post", {"channel_id": channel_id, "content": f"n{n}"}
            )
            for n in range(5)
        ]
        for job_id in ids:
            job = await settled(database, job_id, timeout=40)
            assert job.state == "done", job.last_error
        contents = sorted(m["content"] for m in await channel_messages(devcord, channel_id))
        assert contents == [f"n{n}" for n in range(5)], "each posted exactly once"
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_a_job_rerun_after_a_crash_does_not_post_twice(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    channel_id = devcord.text_channel_id()
    job_id = await database.runInteraction(
        "e", journal.enqueue, "post", {"channel_id": channel_id, "content": "once"}
    )
    # A writer claimed it, posted it (Discord has it), and died before committing.
    await database.runInteraction("c", journal.claim, "dead-writer", 1)
    r = await treq.post(
        f"{devcord.api}/channels/{channel_id}/messages",
        json={"content": "once", "nonce": f"sq{job_id}", "enforce_nonce": True},
        headers=devcord.bot_headers(),
    )
    first = json.loads(await r.content())["id"]
    io = await run_io(tmp_path, database, devcord)  # takes the lease, requeues, re-runs
    try:
        job = await settled(database, job_id)
        assert job.state == "done" and job.result["message_id"] == first
        assert [m["content"] for m in await channel_messages(devcord, channel_id)].count(
            "once"
        ) == 1
        assert await database.runInteraction("r", store.record_by_message, int(first)) is not None
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_posts_to_a_pool_spread_over_its_channels(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        guild = int(devcord.info["guild_id"])
        from sequenzia.discordio import operations

        pool = [
            int((await io.bridge.call(operations.create_channel, guild, f"seq-data-{n}"))["id"])
            for n in range(2)
        ]
        ids = [
            await database.runInteraction(
                "e", journal.enqueue, "post", {"channel_ids": pool, "content": f"part {n}"}
            )
            for n in range(8)
        ]
        used = []
        for job_id in ids:
            job = await settled(database, job_id)
            assert job.state == "done", job.last_error
            used.append(int(job.result["channel_id"]))
        # least in flight, then least recently used: both channels carry the load
        assert min(used.count(c) for c in pool) >= 2, used
        job = await settled(
            database,
            await database.runInteraction(
                "e", journal.enqueue, "post", {"channel_ids": [], "content": "x"}
            ),
        )
        assert job.state == "failed" and "non-empty list" in job.last_error
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_a_rerun_finds_its_first_post_in_the_index_when_discord_would_not(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    """Discord's nonce check looks back minutes only; the index remembers the nonce for good."""
    io = await run_io(tmp_path, database, devcord)
    try:
        from sequenzia.discordio import operations

        guild = int(devcord.info["guild_id"])
        first = devcord.text_channel_id()
        other = int((await io.bridge.call(operations.create_channel, guild, "other"))["id"])
        job = await settled(
            database,
            await database.runInteraction(
                "e", journal.enqueue, "post", {"channel_id": first, "content": "once"}
            ),
        )
        assert job.state == "done", job.last_error

        def rerun_elsewhere(txn) -> None:  # type: ignore[no-untyped-def]
            # as if the crash came before Discord's window closed and the nonce check
            # cannot see the first message (another channel here stands for "too late")
            txn.execute(
                "UPDATE io_jobs SET state = 'queued', payload = ? WHERE id = ?",
                (json.dumps({"channel_id": other, "content": "once"}), job.id),
            )

        await database.runInteraction("rerun", rerun_elsewhere)
        again = await settled(database, job.id)
        assert again.state == "done" and again.attempts == 2, again
        assert again.result["message_id"] == job.result["message_id"]
        assert await channel_messages(devcord, other) == []
        assert [m["content"] for m in await channel_messages(devcord, first)] == ["once"]
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_posts_queued_for_one_channel_stay_within_its_rate_limit(
    tmp_path, database: Database
) -> None:
    """Nine posts to one channel at once under Discord's limits: no 429 (they count
    toward Discord's invalid-request ban)."""
    options = quiet_options()
    options.rate_limits.enabled = True
    dc = await start_devcord(tmp_path / "devcord", options)
    io = await run_io(tmp_path, database, dc)
    try:
        channel_id = dc.text_channel_id()
        ids = [
            await database.runInteraction(
                "e", journal.enqueue, "post", {"channel_id": channel_id, "content": f"n{n}"}
            )
            for n in range(9)
        ]
        for job_id in ids:
            job = await settled(database, job_id)
            assert job.state == "done", job.last_error
        assert dc.service.faults.received_429 == 0
    finally:
        await io.stopService()
        await dc.service.stopService()
    assert not dc.checker.problems, dc.checker.problems


@pytest_twisted.ensureDeferred
async def test_work_journalled_while_a_claim_is_under_way_is_not_left_for_the_poll(
    tmp_path, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = journal.claim
    claimed = threading.Event()
    release = threading.Event()

    def slow_claim(txn, holder, limit):  # type: ignore[no-untyped-def]
        jobs = claim(txn, holder, limit)
        if not claimed.is_set():
            claimed.set()
            release.wait(10)  # in the database thread: the claim is still under way
        return jobs

    monkeypatch.setattr(journal, "claim", slow_claim)
    poll = task.Clock()  # never advanced: no poll comes to the rescue
    executor = JobExecutor(
        database,
        None,
        poll,
        holder="t",
        may_write=lambda: True,
        staging_dir=tmp_path / "staging",
    )
    executor.start()  # its first claim finds the journal empty, and lingers
    await threads.deferToThread(claimed.wait, 10)
    # a delete of a record that is gone needs no Discord: done at once when claimed
    job_id = await database.runInteraction("e", journal.enqueue, "delete", {"eid": 999})
    executor.wake()  # the nudge submit() sends, arriving during that claim
    release.set()
    try:
        job = await settled(database, job_id, timeout=5)
        assert job.state == "done", job.last_error
    finally:
        await executor.stop()


@pytest_twisted.ensureDeferred
async def test_a_part_sent_from_memory_is_let_go_at_once(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    """discord.File leaves a caller's buffer open and aiohttp's copy of it waits in reference
    cycles for the cyclic collector: a 1 GiB upload held ~700 MiB of parts that way."""
    import gc
    import io

    from sequenzia.discordio import operations

    io_service = await run_io(tmp_path, database, devcord)
    try:
        data = b"\x07" * (3 * 1024 * 1024)
        gc.disable()  # as when large buffers alone are allocated: no collection comes
        try:
            for n in range(3):
                await io_service.bridge.call(
                    operations.send_message,
                    devcord.text_channel_id(),
                    "part",
                    [operations.OutgoingFile("", f"p{n}.bin", data)],
                )
            held = [
                o
                for o in gc.get_objects()
                if isinstance(o, io.BytesIO) and not o.closed and len(o.getbuffer()) >= len(data)
            ]
        finally:
            gc.enable()
        assert held == [], f"{len(held)} part buffer(s) still held"
    finally:
        await io_service.stopService()
