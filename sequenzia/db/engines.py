"""One engine per SQL dialect: connecting, placeholders, upserts, errors, introspection.

SQL in Sequenzia is written once, with `?` placeholders and the subset both SQLite and
MySQL 8 / MariaDB ≥ 10.11 accept (NOTES.md); the engine hides what differs, in the way of
Synapse's storage engines.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pymysql

from sequenzia.db.url import DatabaseURL


def convert_placeholders(sql: str) -> str:
    """`?` → `%s` and `%` → `%%` outside quoted literals, for pymysql's format paramstyle."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(sql):
        c = sql[i]
        if quote:
            out.append("%%" if c == "%" else c)
            if c == quote:
                if i + 1 < len(sql) and sql[i + 1] == quote:  # doubled quote inside a literal
                    out.append("%%" if sql[i + 1] == "%" else sql[i + 1])
                    i += 1
                else:
                    quote = None
        elif c in ("'", '"', "`"):
            quote = c
            out.append(c)
        elif c == "?":
            out.append("%s")
        elif c == "%":
            out.append("%%")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _insert(table: str, columns: Sequence[str]) -> str:
    """INSERT INTO table (columns) VALUES (?, ...): identifiers from our code, values bound."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"  # noqa: S608


class Engine:
    dialect: str
    module: Any

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url

    def adbapi_args(self) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def connect(self) -> Any:
        """A plain DB-API connection (for migrations and the CLI, outside the pool)."""
        raise NotImplementedError

    def prepare_connection(self, conn: Any) -> None:
        """Per-connection settings, run once for each pooled connection."""

    def convert(self, sql: str) -> str:
        return sql

    def upsert(
        self,
        table: str,
        keys: Sequence[str],
        values: Sequence[str],
        insert_only: Sequence[str] = (),
    ) -> str:
        """INSERT (keys, values, insert_only) or, on a key conflict, UPDATE the values only.

        One statement, so two writers racing on the same key cannot both insert.
        """
        raise NotImplementedError

    def is_retryable(self, exc: BaseException) -> bool:
        """A deadlock or lock timeout: the whole transaction may simply run again."""
        raise NotImplementedError

    def is_connection_lost(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def is_unique_violation(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def list_tables(self, cur: Any) -> list[str]:
        raise NotImplementedError

    def list_columns(self, cur: Any, table: str) -> list[tuple[str, bool]]:
        """(name, nullable) of each column, in table order."""
        raise NotImplementedError


class SqliteEngine(Engine):
    dialect = "sqlite"
    module = sqlite3

    def _path(self) -> Path:
        return Path(self.url.database)

    def ensure_directory(self) -> None:
        self._path().parent.mkdir(parents=True, exist_ok=True)

    def _connect_kwargs(self) -> dict[str, Any]:
        # IMMEDIATE: a writer takes the write lock at BEGIN and waits (busy_timeout) for it,
        # instead of failing with "database is locked" when a read upgrades to a write.
        return {"timeout": 10.0, "isolation_level": "IMMEDIATE", "check_same_thread": False}

    def adbapi_args(self) -> tuple[str, dict[str, Any]]:
        return "sqlite3", {"database": str(self._path()), **self._connect_kwargs()}

    def connect(self) -> sqlite3.Connection:
        self.ensure_directory()
        conn = sqlite3.connect(str(self._path()), **self._connect_kwargs())
        self.prepare_connection(conn)
        return conn

    def prepare_connection(self, conn: Any) -> None:
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA busy_timeout = 10000")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()
        # MariaDB's SUBSTRING_INDEX, so queries that need it read the same in both dialects
        conn.create_function("SUBSTRING_INDEX", 3, _substring_index, deterministic=True)

    def upsert(
        self,
        table: str,
        keys: Sequence[str],
        values: Sequence[str],
        insert_only: Sequence[str] = (),
    ) -> str:
        sql = _insert(table, [*keys, *values, *insert_only])
        if values:
            sets = ", ".join(f"{v} = excluded.{v}" for v in values)
            return f"{sql} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        return f"{sql} ON CONFLICT ({', '.join(keys)}) DO NOTHING"

    def is_retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc) or "busy" in str(exc)
        )

    def is_connection_lost(self, exc: BaseException) -> bool:
        return False  # a file does not hang up

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def list_tables(self, cur: Any) -> list[str]:
        cur.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [r[0] for r in cur.fetchall()]

    def list_columns(self, cur: Any, table: str) -> list[tuple[str, bool]]:
        cur.execute(f"PRAGMA table_info({table})")
        # cid, name, type, notnull, default, pk: an INTEGER PRIMARY KEY is never NULL
        return [(r[1], not r[3] and not r[5]) for r in cur.fetchall()]


# pymysql error numbers
_DEADLOCK, _LOCK_WAIT = 1213, 1205
_LOST = {0, 2003, 2006, 2013, 2014, 2045, 2055, 4031}
_DUPLICATE = 1062


def _errno(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class MysqlEngine(Engine):
    dialect = "mysql"
    module = pymysql

    def _connect_kwargs(self) -> dict[str, Any]:
        options = dict(self.url.options)
        kwargs: dict[str, Any] = {
            "host": self.url.host,
            "port": self.url.port,
            "user": self.url.user,
            "password": self.url.password,
            "database": self.url.database,
            "charset": "utf8mb4",
            "autocommit": False,
            "connect_timeout": int(options.get("connect_timeout", 10)),
            "init_command": "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
        }
        if "unix_socket" in options:
            kwargs["unix_socket"] = options["unix_socket"]
        if "ssl_ca" in options:
            kwargs["ssl"] = {"ca": os.path.expanduser(options["ssl_ca"])}
        return kwargs

    def adbapi_args(self) -> tuple[str, dict[str, Any]]:
        return "pymysql", self._connect_kwargs()

    def connect(self) -> Any:
        return pymysql.connect(**self._connect_kwargs())

    def convert(self, sql: str) -> str:
        return convert_placeholders(sql)

    def upsert(
        self,
        table: str,
        keys: Sequence[str],
        values: Sequence[str],
        insert_only: Sequence[str] = (),
    ) -> str:
        sql = _insert(table, [*keys, *values, *insert_only])
        # VALUES(col) works on MariaDB and MySQL 8 alike (deprecated in MySQL, still accepted);
        # the `AS new` alias form is MySQL-only (NOTES.md).
        updates = values or keys[:1]
        sets = ", ".join(f"{v} = VALUES({v})" for v in updates)
        return f"{sql} ON DUPLICATE KEY UPDATE {sets}"

    def is_retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, pymysql.err.OperationalError) and _errno(exc) in (
            _DEADLOCK,
            _LOCK_WAIT,
        )

    def is_connection_lost(self, exc: BaseException) -> bool:
        if isinstance(exc, pymysql.err.InterfaceError):
            return True
        return isinstance(exc, pymysql.err.OperationalError) and _errno(exc) in _LOST

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, pymysql.err.IntegrityError) and _errno(exc) == _DUPLICATE

    def list_tables(self, cur: Any) -> list[str]:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        return [r[0] for r in cur.fetchall()]

    def list_columns(self, cur: Any, table: str) -> list[tuple[str, bool]]:
        cur.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns"
            " WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        return [(r[0], r[1] == "YES") for r in cur.fetchall()]


def engine_for(url: DatabaseURL) -> Engine:
    return SqliteEngine(url) if url.dialect == "sqlite" else MysqlEngine(url)


def _substring_index(text: Any, delimiter: Any, count: Any) -> Any:
    """MariaDB's SUBSTRING_INDEX(text, delimiter, count) for SQLite."""
    if text is None or delimiter is None or count is None:
        return None
    text, delimiter, count = str(text), str(delimiter), int(count)
    if not delimiter or count == 0:
        return ""
    pieces = text.split(delimiter)
    return delimiter.join(pieces[:count] if count > 0 else pieces[count:])
