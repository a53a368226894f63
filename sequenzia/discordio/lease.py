"""The single-writer lease: exactly one active Discord I/O per deployment.

A row in `leases` names the holder and when its claim expires. The active io renews it
well before expiry; a standby polls and takes it once it has expired. Each acquisition
gets a fresh token, and renewal succeeds only with the holder's token, so a process that
was paused past its expiry (and lost the lease to a standby) finds out on its next renewal.

A holder also stops on its own clock: if it could not renew for `ttl - safety`, it
declares the lease lost without waiting for the database, so it never writes after a
standby may have started (clocks of the machines are assumed to agree within `safety`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, task
from twisted.logger import Logger

LEASE_NAME = "discord-io"


def _now_ms() -> int:
    return int(time.time() * 1000)


def try_acquire(txn: Any, name: str, holder: str, token: str, ttl_ms: int, now_ms: int) -> bool:
    """Take or renew the lease in one transaction; True when `holder` has it now."""
    txn.execute(
        "UPDATE leases SET holder = ?, token = ?, acquired_ts = ?, expires_ts = ?"
        " WHERE name = ? AND expires_ts < ?",
        (holder, token, now_ms, now_ms + ttl_ms, name, now_ms),
    )
    if txn.rowcount == 1:
        return True
    txn.execute("SELECT holder, expires_ts FROM leases WHERE name = ?", (name,))
    row = txn.fetchone()
    if row is None:
        try:
            txn.execute(
                "INSERT INTO leases (name, holder, token, acquired_ts, expires_ts) VALUES (?, ?, ?, ?, ?)",
                (name, holder, token, now_ms, now_ms + ttl_ms),
            )
        except Exception as e:  # another process inserted first: it holds the lease
            if txn.engine.is_unique_violation(e):
                return False
            raise
        return True
    return False


def renew(txn: Any, name: str, holder: str, token: str, ttl_ms: int, now_ms: int) -> bool:
    """Extend our claim; False when it is no longer ours (expired and taken)."""
    txn.execute(
        "UPDATE leases SET expires_ts = ? WHERE name = ? AND holder = ? AND token = ?",
        (now_ms + ttl_ms, name, holder, token),
    )
    return txn.rowcount == 1


def release(txn: Any, name: str, holder: str, token: str) -> None:
    """Give the lease up at once (a clean stop), so a standby need not wait for expiry."""
    txn.execute(
        "UPDATE leases SET expires_ts = 0 WHERE name = ? AND holder = ? AND token = ?",
        (name, holder, token),
    )


class Lease:
    """Holds (or waits for) the lease; calls `on_acquired` and `on_lost` on the reactor.

    `failover_s` bounds how long a standby waits after the holder dies: the claim lasts
    60 % of it and standbys poll every 15 %, so takeover comes within 75 % of `failover_s`.
    """

    log = Logger()

    def __init__(
        self,
        database: Any,
        clock: Any,
        *,
        holder: str,
        on_acquired: Callable[[], Any],
        on_lost: Callable[[str], Any],
        failover_s: float = 30.0,
        name: str = LEASE_NAME,
        now_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._db = database
        self._clock = clock
        self.holder = holder
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self.name = name
        self.ttl_ms = int(failover_s * 600)
        self.poll_s = failover_s * 0.15
        self._safety_ms = min(2000, self.ttl_ms // 5)
        self._now_ms = now_ms
        self._token: str | None = None
        self._deadline: Any = None  # IDelayedCall: when we give up without a renewal
        self._loop: task.LoopingCall | None = None
        self._stopping = False

    @property
    def held(self) -> bool:
        """True while we hold the lease (by the database and by our own clock)."""
        return self._token is not None

    def _renewed(self) -> None:
        """Push our own deadline to `ttl - safety` from now: past it we stop by ourselves."""
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = self._clock.callLater(
            (self.ttl_ms - self._safety_ms) / 1000, self._lose, "could not renew the lease in time"
        )

    def start(self) -> None:
        self._stopping = False
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self._clock
        self._loop.start(self.poll_s, now=True).addErrback(
            lambda f: self.log.failure("lease loop stopped", f)
        )

    async def _tick_async(self) -> None:
        now = self._now_ms()
        if self._token is None:
            token = secrets.token_hex(16)
            got = await self._db.runInteraction(
                "lease.acquire", try_acquire, self.name, self.holder, token, self.ttl_ms, now
            )
            if got and not self._stopping:
                self._token = token
                self._renewed()
                self.log.info(
                    "took the {name} lease as {holder}", name=self.name, holder=self.holder
                )
                self._on_acquired()
            return
        ok = await self._db.runInteraction(
            "lease.renew", renew, self.name, self.holder, self._token, self.ttl_ms, now
        )
        if ok and self._token is not None:
            self._renewed()
        elif not ok:
            self._lose("another process holds the lease now")

    def _tick(self) -> defer.Deferred[None]:
        d = defer.ensureDeferred(self._tick_async())
        # A failed check is retried on the next tick; the deadline timer ends a hold.
        return d.addErrback(
            lambda f: self.log.warn("lease check failed: {error}", error=f.getErrorMessage())
        )

    def _lose(self, why: str) -> None:
        if self._token is None:
            return
        self._token = None
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self.log.error("lost the {name} lease: {why}", name=self.name, why=why)
        self._on_lost(why)

    async def _stop(self) -> None:
        self._stopping = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        if self._token is not None:
            token, self._token = self._token, None
            try:
                await self._db.runInteraction(
                    "lease.release", release, self.name, self.holder, token
                )
            except Exception as e:
                self.log.warn("could not release the lease (it will expire): {error}", error=e)

    def stop(self) -> defer.Deferred[None]:
        """Stop renewing and release the lease so a standby takes over at once."""
        return defer.ensureDeferred(self._stop())
