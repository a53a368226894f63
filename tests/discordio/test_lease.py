"""The single-writer lease on both dialects: one holder, takeover after expiry, fencing."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import defer, reactor, task

from sequenzia.db.pool import Database
from sequenzia.discordio import lease as leases
from sequenzia.discordio.lease import Lease


@pytest_twisted.ensureDeferred
async def test_one_holder_at_a_time(database: Database) -> None:
    run = database.runInteraction
    assert await run("a", leases.try_acquire, "io", "A", "t1", 10_000, 1_000)
    assert not await run("a", leases.try_acquire, "io", "B", "t2", 10_000, 2_000)
    assert await run("r", leases.renew, "io", "A", "t1", 10_000, 5_000)
    # A's claim now lasts until 15 000: B still waits at 14 000, takes over at 15 001
    assert not await run("a", leases.try_acquire, "io", "B", "t2", 10_000, 14_000)
    assert await run("a", leases.try_acquire, "io", "B", "t2", 10_000, 15_001)
    assert not await run("r", leases.renew, "io", "A", "t1", 10_000, 15_002), "A is fenced out"
    await run("x", leases.release, "io", "B", "t2")
    assert await run("a", leases.try_acquire, "io", "C", "t3", 10_000, 15_003), "released: at once"


@pytest_twisted.ensureDeferred
async def test_racing_acquirers_get_one_winner(database: Database) -> None:
    results = await defer.gatherResults(
        [
            database.runInteraction("a", leases.try_acquire, "io", f"H{n}", f"t{n}", 10_000, 1_000)
            for n in range(6)
        ]
    )
    assert sum(results) == 1


@pytest_twisted.ensureDeferred
async def test_standby_takes_over_when_the_holder_stops_renewing(database: Database) -> None:
    events: list[str] = []
    a = Lease(
        database,
        reactor,
        holder="A",
        failover_s=1.0,
        on_acquired=lambda: events.append("A+"),
        on_lost=lambda why: events.append("A-"),
    )
    b = Lease(
        database,
        reactor,
        holder="B",
        failover_s=1.0,
        on_acquired=lambda: events.append("B+"),
        on_lost=lambda why: events.append("B-"),
    )
    a.start()
    await task.deferLater(reactor, 0.3, lambda: None)
    b.start()
    await task.deferLater(reactor, 0.5, lambda: None)
    assert events == ["A+"] and a.held and not b.held
    # A dies without releasing: its loop stops, its row stays until it expires (0.6 s)
    a._loop.stop()
    a._deadline.cancel()
    await task.deferLater(reactor, 1.0, lambda: None)
    assert events == ["A+", "B+"] and b.held
    await b.stop()
    assert not b.held


@pytest_twisted.ensureDeferred
async def test_holder_cut_off_from_the_database_gives_up_before_expiry(database: Database) -> None:
    lost: list[str] = []
    a = Lease(
        database, reactor, holder="A", failover_s=1.0, on_acquired=lambda: None, on_lost=lost.append
    )
    a.start()
    await task.deferLater(reactor, 0.1, lambda: None)
    assert a.held

    class Unreachable:
        def runInteraction(self, *args, **kwargs):
            return defer.fail(ConnectionRefusedError("database unreachable"))

    a._db = Unreachable()
    expires_at = reactor.seconds() + a.ttl_ms / 1000
    while not lost and reactor.seconds() < expires_at + 1:
        await task.deferLater(reactor, 0.05, lambda: None)
    assert lost == ["could not renew the lease in time"]
    assert not a.held
    assert reactor.seconds() < expires_at, "it must stop before a standby may take over"
    await a.stop()
