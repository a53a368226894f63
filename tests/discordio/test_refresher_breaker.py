"""Signed URL refreshing against devcord, and the invalid-request circuit breaker."""

from __future__ import annotations

import time

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor, task

from sequenzia.db.pool import Database
from sequenzia.discordio import journal
from sequenzia.discordio.breaker import InvalidRequestBreaker
from tests.devcord.conftest import Devcord
from tests.discordio.test_jobs import run_io, settled


def _url_of(txn, message_id: int) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    txn.execute("SELECT url, url_expires_ts FROM records WHERE message_id = ?", (message_id,))
    return tuple(txn.fetchone())  # type: ignore[return-value]


@pytest.mark.devcord_limits(url_lifetime_s=2)
@pytest_twisted.ensureDeferred
async def test_expired_urls_are_renewed_in_batches(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        staged = tmp_path / "photo.bin"
        staged.write_bytes(b"p" * 1000)
        job = await settled(
            database,
            await database.runInteraction(
                "e",
                journal.enqueue,
                "post",
                {
                    "channel_id": devcord.text_channel_id(),
                    "files": [{"path": str(staged), "filename": "photo.bin"}],
                },
            ),
        )
        message_id = int(job.result["message_id"])
        url, expires = await database.runInteraction("u", _url_of, message_id)
        assert expires <= (time.time() + 3) * 1000
        await task.deferLater(reactor, 2.2, lambda: None)
        r = await treq.get(url)
        assert r.code == 404, "expired"
        await r.content()
        renewed = await io.refresher.refresh_now()
        assert renewed >= 1
        fresh, fresh_expires = await database.runInteraction("u", _url_of, message_id)
        assert fresh != url and fresh_expires > time.time() * 1000
        assert await (await treq.get(fresh)).content() == b"p" * 1000
    finally:
        await io.stopService()


def test_breaker_opens_past_the_threshold_and_closes_after_cool_down() -> None:
    now = [1000.0]
    breaker = InvalidRequestBreaker(lambda: now[0], threshold=3, window_s=10, cool_down_s=5)
    for status in (200, 404, 500, 401, 403):
        breaker.record(status)
    assert not breaker.open, "only 401, 403 and 429 count"
    now[0] += 11  # the first two invalid ones leave the window
    breaker.record(429)
    breaker.record(429)
    assert not breaker.open
    breaker.record(401)
    assert breaker.open
    now[0] += 5.1
    assert not breaker.open


@pytest_twisted.ensureDeferred
async def test_an_open_breaker_stops_sending(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        io.executor.breaker._open_until = reactor.seconds() + 600
        while io.executor._claiming:  # a claim begun before the breaker opened may take it
            await task.deferLater(reactor, 0.01, lambda: None)
        job_id = await database.runInteraction(
            "e",
            journal.enqueue,
            "post",
            {"channel_id": devcord.text_channel_id(), "content": "later"},
        )
        await task.deferLater(reactor, 1.5, lambda: None)  # polls come and go: nothing is sent
        assert (await database.runInteraction("g", journal.get, job_id)).state == "queued"
        io.executor.breaker._open_until = 0  # the cool-down is over
        job = await settled(database, job_id)
        assert job.state == "done"
    finally:
        await io.stopService()
