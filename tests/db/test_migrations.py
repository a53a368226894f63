"""Migrations on both dialects: from empty, idempotent, refused when newer, parity of schemas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sequenzia.db import migrations
from sequenzia.db.engines import engine_for
from sequenzia.db.url import DatabaseURL
from tests.server.twistd_process import url_string


def schema_of(url: DatabaseURL) -> dict[str, list[tuple[str, bool]]]:
    engine = engine_for(url)
    conn = engine.connect()
    try:
        cur = conn.cursor()
        return {t: engine.list_columns(cur, t) for t in engine.list_tables(cur)}
    finally:
        conn.close()


def test_upgrade_from_empty_then_nothing_pending(db_url: DatabaseURL) -> None:
    before = migrations.status(db_url)
    assert before.current == 0 and before.pending and before.latest == before.pending[-1].version
    applied = migrations.upgrade(db_url)
    assert [m.version for m in applied] == list(range(1, before.latest + 1))
    assert migrations.upgrade(db_url) == []
    after = migrations.status(db_url)
    assert after.current == after.latest and after.pending == []


def test_both_dialects_end_with_the_same_tables_and_columns(
    tmp_path: Path, mysql_url: DatabaseURL
) -> None:
    sqlite_url = DatabaseURL(dialect="sqlite", database=str(tmp_path / "s.sqlite3"))
    migrations.upgrade(sqlite_url)
    migrations.upgrade(mysql_url)
    lite, my = schema_of(sqlite_url), schema_of(mysql_url)
    assert sorted(lite) == sorted(my)
    for table in lite:
        assert lite[table] == my[table], f"table {table} differs between sqlite and mysql"
    for table in (
        "records",
        "spanned_files",
        "file_parts",
        "channels",
        "io_jobs",
        "leases",
        "sessions",
    ):
        assert table in lite


def test_newer_database_refused(db_url: DatabaseURL) -> None:
    migrations.upgrade(db_url)
    engine = engine_for(db_url)
    conn = engine.connect()
    cur = conn.cursor()
    cur.execute(
        engine.convert("INSERT INTO schema_version (version, name, applied_ts) VALUES (?, ?, ?)"),
        (999, "future", 0),
    )
    conn.commit()
    conn.close()
    with pytest.raises(migrations.SchemaTooNewError, match="version 999, newer than this code"):
        migrations.upgrade(db_url)
    assert migrations.status(db_url).current == 999


def test_statement_splitting() -> None:
    text = "-- comment\nCREATE TABLE a (\n  x INT\n);\n\nINSERT INTO a VALUES (1);\n"
    assert migrations.statements(text) == [
        "CREATE TABLE a (\n  x INT\n)",
        "INSERT INTO a VALUES (1)",
    ]


def test_mismatched_schema_files_refused(tmp_path: Path) -> None:
    for d in ("sqlite", "mysql"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "sqlite" / "002_b.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="differ in their numbers"):
        migrations.available("sqlite", tmp_path)
    (tmp_path / "mysql" / "002_b.sql").write_text("SELECT 1;")
    (tmp_path / "mysql" / "bad name.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="not named NNN_name.sql"):
        migrations.available("mysql", tmp_path)


def test_missing_mysql_database_and_unreachable_server() -> None:
    url = DatabaseURL(
        dialect="mysql", database="no_such_db_here", host="127.0.0.1", port=3306, user="root"
    )
    try:
        migrations.status(url)
    except migrations.DatabaseUnavailableError as e:
        assert "does not exist" in str(e) or "cannot reach" in str(e)
    url = DatabaseURL(dialect="mysql", database="x", host="127.0.0.1", port=1, user="root")
    with pytest.raises(
        migrations.DatabaseUnavailableError,
        match="cannot reach the database mysql://root@127.0.0.1:1/x",
    ):
        migrations.status(url)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sequenzia", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_db_upgrade_and_status(tmp_path: Path, db_url: DatabaseURL) -> None:
    (tmp_path / "s.toml").write_text(f'[database]\nurl = "{url_string(db_url)}"\n')
    out = run_cli("db", "status", "--config", "s.toml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "schema version: 0" in out.stdout and "pending 001 initial" in out.stdout
    out = run_cli("db", "upgrade", "--config", "s.toml", cwd=tmp_path)
    assert out.returncode == 0 and "applied 001 initial" in out.stdout, out.stderr
    out = run_cli("db", "upgrade", "--config", "s.toml", cwd=tmp_path)
    assert out.returncode == 0 and "up to date" in out.stdout
    out = run_cli("db", "status", "--config", "s.toml", cwd=tmp_path)
    assert "pending" not in out.stdout


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text('[database]\nurl = "mysql://root@127.0.0.1:1/x"\n')
    out = run_cli("db", "status", "--config", "s.toml", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "cannot reach" in out.stderr
    assert "Traceback" not in out.stderr
    (tmp_path / "bad.toml").write_text("[database]\nurl = 5\n")
    out = run_cli("db", "upgrade", "--config", "bad.toml", cwd=tmp_path)
    assert out.returncode == 2 and "'database.url' must be a string" in out.stderr
    out = run_cli("db", "frobnicate", cwd=tmp_path)
    assert out.returncode == 2
    out = run_cli("db", "upgrade", "--help", cwd=tmp_path)
    assert out.returncode == 0 and "--config" in out.stdout
