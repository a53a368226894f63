"""The connection pool: database work runs in threads, callers get Deferreds.

`Database.runInteraction(desc, func, *args)` runs `func(txn, *args)` in a pool thread inside
one transaction (committed when it returns, rolled back when it raises), in Synapse's way.
Deadlocks, lock timeouts and dropped connections are retried: adbapi reconnects a dropped
MySQL connection but does not retry the interaction that hit it (NOTES.md), so we do. An
interaction must therefore be safe to run again from the start, as a transaction is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from twisted.enterprise import adbapi
from twisted.internet import defer, task
from twisted.logger import Logger

from sequenzia.db.engines import Engine, engine_for
from sequenzia.db.url import DatabaseURL

T = TypeVar("T")


class Txn:
    """A cursor in a transaction, speaking `?` placeholders whatever the dialect."""

    def __init__(self, cursor: Any, engine: Engine) -> None:
        self._cursor = cursor
        self.engine = engine

    def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        self._cursor.execute(self.engine.convert(sql), tuple(args))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(self.engine.convert(sql), [tuple(r) for r in rows])

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._cursor.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    @property
    def lastrowid(self) -> int:
        return int(self._cursor.lastrowid)


class Database:
    log = Logger()

    def __init__(
        self,
        url: DatabaseURL,
        engine: Engine,
        pool: adbapi.ConnectionPool,
        retries: int,
        clock: Any,
    ) -> None:
        self.url = url
        self.engine = engine
        self._pool = pool
        self._retries = retries
        self._clock = clock

    @classmethod
    def from_url(
        cls, url: DatabaseURL, *, pool_size: int = 8, retries: int = 3, reactor: Any = None
    ) -> Database:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        engine = engine_for(url)
        module, kwargs = engine.adbapi_args()
        if url.dialect == "sqlite":
            engine.ensure_directory()  # type: ignore[attr-defined]
            # SQLite has one writer at a time; a few threads are enough for readers.
            pool_size = min(pool_size, 4)
        pool = adbapi.ConnectionPool(
            module,
            cp_min=1,
            cp_max=pool_size,
            cp_reconnect=True,
            cp_openfun=engine.prepare_connection,
            cp_reactor=reactor,
            **kwargs,
        )
        return cls(url, engine, pool, retries, reactor)

    async def _run(
        self, desc: str, func: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                result: T = await self._pool.runInteraction(
                    lambda cursor: func(Txn(cursor, self.engine), *args, **kwargs)
                )
            except Exception as e:
                retry = self.engine.is_retryable(e) or self.engine.is_connection_lost(e)
                if not retry or attempt >= self._retries:
                    raise
                attempt += 1
                delay = 0.05 * 2**attempt
                self.log.warn(
                    "database interaction {desc} failed ({error}); retry {attempt} in {delay:.2f}s",
                    desc=desc,
                    error=str(e),
                    attempt=attempt,
                    delay=delay,
                )
                await task.deferLater(self._clock, delay, lambda: None)
                continue
            elapsed = time.monotonic() - started
            if elapsed > 1.0:
                self.log.info(
                    "slow database interaction {desc}: {elapsed:.2f}s", desc=desc, elapsed=elapsed
                )
            return result

    def runInteraction(
        self, desc: str, func: Callable[..., T], *args: Any, **kwargs: Any
    ) -> defer.Deferred[T]:
        """Run `func(txn, *args, **kwargs)` in one transaction on a pool thread."""
        return defer.ensureDeferred(self._run(desc, func, args, kwargs))

    def runQuery(
        self, desc: str, sql: str, args: Sequence[Any] = ()
    ) -> defer.Deferred[list[tuple[Any, ...]]]:
        def query(txn: Txn) -> list[tuple[Any, ...]]:
            txn.execute(sql, args)
            return txn.fetchall()

        return self.runInteraction(desc, query)

    def ping(self) -> defer.Deferred[None]:
        """Readiness: one round trip to the database."""
        return self.runQuery("ping", "SELECT 1").addCallback(lambda _: None)

    def close(self) -> None:
        self._pool.close()
