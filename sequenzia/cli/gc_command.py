"""`sequenzia gc`: find orphan parts in Discord and stale files in the span cache.

Orphan parts are messages in the data channels that no spanned file accounts for (the
io role looks, through a journalled job); stale cache files are files in the cache of
no known spanned file. Both are reported; `--apply` removes them.
"""

from __future__ import annotations

import argparse
from typing import Any

from cds.cache import SpanCache
from sequenzia.cli.errors import UsageProblem
from sequenzia.cli.following import follow, journal_job
from sequenzia.cli.options import add_config_options, config_from_args
from sequenzia.db.direct import run_interaction
from sequenzia.db.url import parse_database_url


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gc",
        help="find (and with --apply remove) orphan parts and stale cache files",
        description="Report orphan spanned-file parts in the data channels and stale span-cache "
        "files; --apply removes them. A running server's io role scans Discord.",
    )
    p.add_argument("--apply", action="store_true", help="remove what is found")
    p.add_argument(
        "--min-age",
        type=float,
        default=3600,
        metavar="SECONDS",
        help="only parts older than this (default 3600: uploads under way are not orphans)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=0,
        metavar="SECONDS",
        help="give up waiting after this long",
    )
    add_config_options(p)
    p.set_defaults(func=run)


def _known_files(txn: Any) -> set[str]:
    txn.execute("SELECT id FROM spanned_files")
    return {str(r[0]) for r in txn.fetchall()}


def stale_cache_files(cache: SpanCache, known: set[str]) -> list[str]:
    return sorted(key for key in cache.keys() if key not in known)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    url = parse_database_url(config.database.url)
    if args.min_age < 0:
        raise UsageProblem("--min-age must be a number of seconds >= 0")
    job_id = journal_job(url, "gc", {"apply": args.apply, "min_age_s": args.min_age})
    result = follow(url, job_id, "gc", args.timeout)
    for orphan in result.get("orphans", []):
        print(f"orphan part: message {orphan['message_id']} in channel {orphan['channel_id']}")
    cache = SpanCache(config.cache_dir, budget_bytes=0)
    stale = stale_cache_files(cache, run_interaction(url, _known_files))
    for key in stale:
        print(f"stale cache file: {cache.path(key)}")
        if args.apply:
            cache.remove(key)
    verb = "removed" if args.apply else "found"
    print(
        f"{verb} {len(result.get('orphans', []))} orphan part(s) in {result.get('scanned', 0)} "
        f"data-channel message(s) and {len(stale)} stale cache file(s)"
        + ("" if args.apply else "; run with --apply to remove them")
    )
    return 0
