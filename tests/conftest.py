"""Fixtures shared by the suite: a fresh database of each dialect, upgraded and open."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
import pytest_twisted

from sequenzia.db import migrations
from sequenzia.db.pool import Database
from sequenzia.db.url import DatabaseURL, parse_database_url
from tests.services import DEFAULT_MYSQL_SERVER, MYSQL_URL_ENV, missing


def mysql_server() -> DatabaseURL:
    """The server the MariaDB tests use; the database name in the URL is ignored."""
    raw = os.environ.get(MYSQL_URL_ENV) or DEFAULT_MYSQL_SERVER
    if raw.rstrip("/").count("/") < 3:  # no database name given
        raw = raw.rstrip("/") + "/placeholder"
    return parse_database_url(raw)


def _admin_connection(server: DatabaseURL):  # type: ignore[no-untyped-def]
    try:
        return pymysql.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            connect_timeout=5,
        )
    except pymysql.err.OperationalError as e:
        missing("MariaDB", f"cannot connect to {server.host}:{server.port}: {e.args[-1]}")


@pytest.fixture
def mysql_url() -> Iterator[DatabaseURL]:
    """A new, empty MariaDB database for one test, dropped afterwards."""
    server = mysql_server()
    name = f"sequenzia_test_{secrets.token_hex(6)}"
    conn = _admin_connection(server)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        yield DatabaseURL(
            dialect="mysql",
            database=name,
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
        )
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


@pytest.fixture(params=["sqlite", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseURL:
    """An empty database of each dialect: the same test runs on SQLite and on MariaDB."""
    if request.param == "sqlite":
        return DatabaseURL(dialect="sqlite", database=str(tmp_path / "db" / "sequenzia.sqlite3"))
    return request.getfixturevalue("mysql_url")


@pytest.fixture
def database(db_url: DatabaseURL) -> Iterator[Database]:
    """An open pool on a database upgraded to the current schema."""
    migrations.upgrade(db_url)
    db = Database.from_url(db_url, pool_size=4, retries=3)
    yield db
    db.close()
    pytest_twisted.blockon(_settle())


def _settle():  # type: ignore[no-untyped-def]
    from twisted.internet import reactor, task

    return task.deferLater(reactor, 0, lambda: None)
