"""`sequenzia db upgrade|status`: apply and inspect schema migrations."""

from __future__ import annotations

import argparse

from sequenzia.cli.errors import CommandFailed
from sequenzia.cli.options import add_config_options, config_from_args
from sequenzia.db import migrations
from sequenzia.db.url import parse_database_url


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


def upgrade(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    url = parse_database_url(config.database.url)
    try:
        applied = migrations.upgrade(url)
    except migrations.MigrationError as e:
        raise CommandFailed(str(e)) from None
    if applied:
        for m in applied:
            print(f"applied {m.version:03d} {m.name}")
    else:
        print("schema is up to date")
    return 0


def status(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    url = parse_database_url(config.database.url)
    try:
        st = migrations.status(url)
    except migrations.MigrationError as e:
        raise CommandFailed(str(e)) from None
    print(f"database: {url.redacted()}")
    print(f"schema version: {st.current} (code knows up to {st.latest})")
    for m in st.pending:
        print(f"pending {m.version:03d} {m.name}")
    if st.current > st.latest:
        print("the database is newer than this code: upgrade Sequenzia before using it")
        return 1
    return 0
