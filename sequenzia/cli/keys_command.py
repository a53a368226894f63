"""`sequenzia keys`: static and API keys for displays, feed readers and scripts.

A key is shown once, when created; only its bcrypt hash is stored. Keys made here have
scope `read` (the default) or `write`, never `admin`: admin actions need the owner key
or an administrator's session.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from sequenzia.authware import keys
from sequenzia.cli.errors import CommandFailed, UsageProblem
from sequenzia.cli.options import add_config_options, config_from_args
from sequenzia.db.direct import run_interaction
from sequenzia.db.url import parse_database_url


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("keys", help="create, list and revoke static and API keys")
    commands = p.add_subparsers(dest="keys_command", metavar="ACTION")
    commands.required = True
    create = commands.add_parser("create", help="make a key and print it (once)")
    create.add_argument(
        "--name", required=True, help="what the key is for, e.g. 'living-room frame'"
    )
    create.add_argument("--scope", choices=("read", "write"), default="read", help="default: read")
    create.add_argument(
        "--kind",
        choices=("static", "api"),
        default="static",
        help="static (displays, feeds) or api (scripts); default static",
    )
    create.add_argument(
        "--user",
        default="0",
        metavar="ID",
        help="the Discord user id it acts as (default 0: the owner)",
    )
    create.set_defaults(func=run_create)
    listing = commands.add_parser("list", help="the keys, without their secrets")
    listing.set_defaults(func=run_list)
    revoke = commands.add_parser("revoke", help="revoke a key by id or by its first characters")
    revoke.add_argument("key", metavar="ID|PREFIX")
    revoke.set_defaults(func=run_revoke)
    for sub in (create, listing, revoke):
        add_config_options(sub)


def _url(args: argparse.Namespace) -> Any:
    return parse_database_url(config_from_args(args).database.url)


def run_create(args: argparse.Namespace) -> int:
    if not args.user.isdigit():
        raise UsageProblem(f"--user takes a Discord user id (a number), not {args.user!r}")
    if not args.name.strip() or len(args.name) > 100:
        raise UsageProblem("--name must be 1 to 100 characters")
    key = keys.new_key()
    key_id = run_interaction(
        _url(args),
        keys.register_key,
        key,
        user_id=int(args.user),
        kind=args.kind,
        name=args.name,
        scope=args.scope,
    )
    print(key)
    print(
        f"key {key_id} ({args.kind}, scope {args.scope}): shown once, store it now", file=sys.stderr
    )
    return 0


def _rows(txn: Any) -> list[tuple[Any, ...]]:
    txn.execute(
        "SELECT id, kind, name, key_prefix, scope, created_ts, last_used_ts, revoked_ts FROM static_keys ORDER BY id"
    )
    return [tuple(r) for r in txn.fetchall()]


def _when(ms: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(int(ms) / 1000)) if ms else "-"


def run_list(args: argparse.Namespace) -> int:
    print(
        f"{'id':>4}  {'kind':6}  {'scope':5}  {'prefix':12}  {'created':16}  {'revoked':16}  name"
    )
    for key_id, kind, name, prefix, scope, created, _used, revoked in run_interaction(
        _url(args), _rows
    ):
        print(
            f"{key_id:>4}  {kind:6}  {scope:5}  {prefix:12}  {_when(created):16}  {_when(revoked):16}  {name}"
        )
    return 0


def _revoke(txn: Any, which: str) -> int:
    now = int(time.time() * 1000)
    if which.isdigit():
        txn.execute(
            "UPDATE static_keys SET revoked_ts = ? WHERE id = ? AND revoked_ts IS NULL",
            (now, int(which)),
        )
    else:
        txn.execute(
            "SELECT COUNT(*) FROM static_keys WHERE key_prefix = ? AND revoked_ts IS NULL",
            (which[: keys.PREFIX_LENGTH],),
        )
        if int(txn.fetchone()[0]) > 1:
            return -1
        txn.execute(
            "UPDATE static_keys SET revoked_ts = ? WHERE key_prefix = ? AND revoked_ts IS NULL",
            (now, which[: keys.PREFIX_LENGTH]),
        )
    return int(txn.rowcount)


def run_revoke(args: argparse.Namespace) -> int:
    which = args.key.strip()
    if not which.isdigit() and len(which) < keys.PREFIX_LENGTH:
        raise UsageProblem(
            f"give a key id, or at least the first {keys.PREFIX_LENGTH} characters of the key"
        )
    done = run_interaction(_url(args), _revoke, which)
    if done == -1:
        raise UsageProblem(f"several keys start with {which[: keys.PREFIX_LENGTH]!r}; revoke by id")
    if done == 0:
        raise CommandFailed(f"no active key {which!r}")
    print(f"revoked {which}; servers refuse it from its next request on")
    return 0
