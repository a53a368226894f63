"""`sequenzia db upgrade|status`: apply and inspect schema migrations."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from sequenzia.cli.errors import CommandFailed
from sequenzia.cli.options import add_config_options, config_from_args
from sequenzia.db import migrations
from sequenzia.db.url import DatabaseURL, parse_database_url

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser("db", help="database schema: upgrade, status")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_sub.required = True

    up = db_sub.add_parser("upgrade", help="apply every pending migration, in order")
    add_config_options(up)
    up.set_defaults(func=upgrade)

    st = db_sub.add_parser("status", help="show the schema version and pending migrations")
    add_config_options(st)
    st.set_defaults(func=status)


def _with_database(
    args: argparse.Namespace, action: Callable[[DatabaseURL], T]
) -> tuple[DatabaseURL, T]:
    """Run a migrations call on the configured database; its errors end the command (exit 1)."""
    url = parse_database_url(config_from_args(args).database.url)
    try:
        return url, action(url)
    except migrations.MigrationError as e:
        raise CommandFailed(str(e)) from None


def upgrade(args: argparse.Namespace) -> int:
    _, applied = _with_database(args, migrations.upgrade)
    if applied:
        for m in applied:
            print(f"applied {m.version:03d} {m.name}")
    else:
        print("schema is up to date")
    return 0


def status(args: argparse.Namespace) -> int:
    url, st = _with_database(args, migrations.status)
    print(f"database: {url.redacted()}")
    print(f"schema version: {st.current} (code knows up to {st.latest})")
    for m in st.pending:
        print(f"pending {m.version:03d} {m.name}")
    if st.current > st.latest:
        print("the database is newer than this code: upgrade Sequenzia before using it")
        return 1
    return 0
