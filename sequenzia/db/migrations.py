"""Numbered schema migrations: `sql/<dialect>/NNN_name.sql`, applied in order.

Synchronous on purpose: they run before the reactor starts (twistd start-up) and from the
CLI, each with a connection of its own. Both dialects must have the same numbers; each file
is applied in one transaction where the dialect allows (SQLite; MySQL commits DDL as it
goes, so a failed MySQL migration may leave part of itself behind and says so) and recorded
in `schema_version`. A database migrated by newer code is refused.

Statements in a file are separated by a `;` at the end of a line; `--` starts a comment line.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sequenzia
from sequenzia.db.engines import Engine, engine_for
from sequenzia.db.url import DatabaseURL


class MigrationError(Exception):
    """A migration could not be applied or checked; the message is one clear sentence."""


class SchemaTooNewError(MigrationError):
    """The database was migrated by newer code than this."""


class DatabaseUnavailableError(MigrationError):
    """The database could not be reached."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str


@dataclass(frozen=True)
class SchemaStatus:
    current: int
    latest: int
    pending: list[Migration]


_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

_VERSION_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_ts BIGINT NOT NULL)",
    "mysql": "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INT NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_ts BIGINT NOT NULL)"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
}


def sql_root() -> Path:
    """Where sql/ is: beside the source tree, or installed under <prefix>/share/sequenzia."""
    source = Path(sequenzia.__file__).resolve().parents[1] / "sql"
    if source.is_dir():
        return source
    installed = Path(sys.prefix) / "share" / "sequenzia" / "sql"
    if installed.is_dir():
        return installed
    raise MigrationError(f"cannot find the schema files (looked in {source} and {installed})")


def available(dialect: str, root: Path | None = None) -> list[tuple[Migration, Path]]:
    """The migrations shipped for `dialect`, in order, checked against the other dialect's."""
    root = root or sql_root()
    found: dict[str, dict[int, tuple[Migration, Path]]] = {}
    for d in ("sqlite", "mysql"):
        found[d] = {}
        for path in sorted((root / d).glob("*.sql")):
            m = _FILE.match(path.name)
            if not m:
                raise MigrationError(f"schema file {path} is not named NNN_name.sql")
            version = int(m[1])
            if version in found[d]:
                raise MigrationError(f"two schema files numbered {version:03d} in {root / d}")
            found[d][version] = (Migration(version, m[2]), path)
    if set(found["sqlite"]) != set(found["mysql"]):
        raise MigrationError(
            "the sqlite and mysql schema files differ in their numbers: "
            f"{sorted(found['sqlite'])} vs {sorted(found['mysql'])}"
        )
    versions = sorted(found[dialect])
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(
            f"schema files must be numbered 001, 002, … without gaps; found {versions}"
        )
    return [found[dialect][v] for v in versions]


def statements(text: str) -> list[str]:
    """Split a schema file into statements (a `;` ends a statement at the end of a line)."""
    out, current = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        if stripped.endswith(";"):
            out.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def _connect(engine: Engine) -> Any:
    try:
        return engine.connect()
    except Exception as e:
        reason = e.args[1] if len(getattr(e, "args", ())) > 1 else e
        if engine.dialect == "mysql" and getattr(e, "args", (None,))[0] == 1049:
            raise DatabaseUnavailableError(
                f"database {engine.url.database!r} does not exist on {engine.url.host}:{engine.url.port}; "
                f"create it: CREATE DATABASE {engine.url.database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ) from None
        raise DatabaseUnavailableError(
            f"cannot reach the database {engine.url.redacted()}: {reason}"
        ) from None


def _current(engine: Engine, conn: Any) -> int:
    cur = conn.cursor()
    cur.execute(_VERSION_TABLE[engine.dialect])
    conn.commit()
    cur.execute("SELECT MAX(version) FROM schema_version")
    row = cur.fetchone()
    cur.close()
    return int(row[0]) if row and row[0] is not None else 0


def status(url: DatabaseURL) -> SchemaStatus:
    engine = engine_for(url)
    migrations = available(engine.dialect)
    conn = _connect(engine)
    try:
        current = _current(engine, conn)
    finally:
        conn.close()
    latest = migrations[-1][0].version if migrations else 0
    return SchemaStatus(current, latest, [m for m, _ in migrations if m.version > current])


def upgrade(url: DatabaseURL) -> list[Migration]:
    """Apply every pending migration in order; returns what was applied."""
    engine = engine_for(url)
    migrations = available(engine.dialect)
    latest = migrations[-1][0].version if migrations else 0
    conn = _connect(engine)
    applied: list[Migration] = []
    try:
        current = _current(engine, conn)
        if current > latest:
            raise SchemaTooNewError(
                f"the database schema is version {current}, newer than this code knows ({latest}): "
                "upgrade Sequenzia before using this database"
            )
        for migration, path in migrations:
            if migration.version <= current:
                continue
            cur = conn.cursor()
            try:
                if engine.dialect == "sqlite":
                    cur.execute("BEGIN IMMEDIATE")
                for statement in statements(path.read_text(encoding="utf-8")):
                    cur.execute(statement)
                cur.execute(
                    engine.convert(
                        "INSERT INTO schema_version (version, name, applied_ts) VALUES (?, ?, ?)"
                    ),
                    (migration.version, migration.name, int(time.time() * 1000)),
                )
                conn.commit()
            except Exception as e:
                conn.rollback()
                partial = (
                    " (MySQL applies DDL as it goes: check the schema by hand)"
                    if engine.dialect == "mysql"
                    else ""
                )
                raise MigrationError(
                    f"migration {migration.version:03d}_{migration.name} failed: {e}{partial}"
                ) from None
            finally:
                cur.close()
            applied.append(migration)
    finally:
        conn.close()
    return applied
