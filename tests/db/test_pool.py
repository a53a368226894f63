"""The pool on both dialects: placeholders, upserts, transactions, retries, utf8mb4."""

from __future__ import annotations

import sqlite3

import pymysql
import pytest
import pytest_twisted

from sequenzia.db.engines import convert_placeholders, engine_for
from sequenzia.db.pool import Database, Txn
from sequenzia.db.url import DatabaseURL


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ? , ?", "SELECT %s , %s"),
        ("SELECT '?' , ?", "SELECT '?' , %s"),
        ("SELECT '100%' LIKE ?", "SELECT '100%%' LIKE %s"),
        ("SELECT 5 % 2, ?", "SELECT 5 %% 2, %s"),
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
        ('SELECT "a?b", `c?`, ?', 'SELECT "a?b", `c?`, %s'),
    ],
)
def test_placeholder_conversion(sql: str, expected: str) -> None:
    assert convert_placeholders(sql) == expected


def _server(txn: Txn, sid: int, name: str) -> None:
    txn.execute(
        txn.engine.upsert("servers", ["id"], ["name", "created_ts", "updated_ts"]),
        (sid, name, 1, 2),
    )


def _names(txn: Txn) -> list[tuple]:
    txn.execute("SELECT id, name FROM servers ORDER BY id")
    return [tuple(r) for r in txn.fetchall()]


@pytest_twisted.ensureDeferred
async def test_upsert_inserts_then_updates(database: Database) -> None:
    await database.runInteraction("t", _server, 1, "first")
    await database.runInteraction("t", _server, 2, "second")
    await database.runInteraction("t", _server, 1, "renamed 🧩")
    assert await database.runInteraction("t", _names) == [(1, "renamed 🧩"), (2, "second")]


@pytest_twisted.ensureDeferred
async def test_failed_interaction_rolls_back_everything(database: Database) -> None:
    def half_then_fail(txn: Txn) -> None:
        _server(txn, 10, "written")
        txn.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises((sqlite3.OperationalError, pymysql.err.ProgrammingError)):
        await database.runInteraction("t", half_then_fail)
    assert await database.runInteraction("t", _names) == []


@pytest_twisted.ensureDeferred
async def test_literal_percent_and_question_marks_survive(database: Database) -> None:
    def run(txn: Txn) -> tuple:
        txn.execute(
            "SELECT '100%?', ?, 'x' || ?"
            if txn.engine.dialect == "sqlite"
            else "SELECT '100%?', ?, CONCAT('x', ?)",
            (5, "y"),
        )
        return tuple(txn.fetchone())

    assert await database.runInteraction("t", run) == ("100%?", 5, "xy")


@pytest_twisted.ensureDeferred
async def test_retryable_errors_are_retried(database: Database) -> None:
    calls = []
    engine = database.engine

    def flaky(txn: Txn) -> int:
        calls.append(1)
        if len(calls) < 3:
            if engine.dialect == "sqlite":
                import sqlite3

                raise sqlite3.OperationalError("database is locked")
            raise pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock")
        _server(txn, 7, "after retries")
        return len(calls)

    assert await database.runInteraction("flaky", flaky) == 3
    assert await database.runInteraction("t", _names) == [(7, "after retries")]

    def always(txn: Txn) -> None:
        raise (
            pymysql.err.OperationalError(1213, "deadlock")
            if engine.dialect == "mysql"
            else __import__("sqlite3").OperationalError("database is locked")
        )

    with pytest.raises(Exception, match="(?i)deadlock|locked"):
        await database.runInteraction("always", always)


@pytest_twisted.ensureDeferred
async def test_non_retryable_errors_are_not_retried(database: Database) -> None:
    calls = []

    def bad(txn: Txn) -> None:
        calls.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await database.runInteraction("bad", bad)
    assert calls == [1]


@pytest_twisted.ensureDeferred
async def test_dropped_mysql_connection_is_reconnected_and_retried(mysql_url: DatabaseURL) -> None:
    from sequenzia.db import migrations

    migrations.upgrade(mysql_url)
    db = Database.from_url(mysql_url, pool_size=1, retries=3)
    try:

        def connection_id(txn: Txn) -> int:
            txn.execute("SELECT CONNECTION_ID()")
            return int(txn.fetchone()[0])

        first = await db.runInteraction("id", connection_id)
        admin = engine_for(mysql_url).connect()
        with admin.cursor() as cur:
            cur.execute(f"KILL {first}")
        admin.close()
        await db.runInteraction("t", _server, 3, "after a kill")
        assert await db.runInteraction("t", _names) == [(3, "after a kill")]
        assert await db.runInteraction("id", connection_id) != first
        await db.ping()
    finally:
        db.close()
