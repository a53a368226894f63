"""`sequenzia reindex`: rebuild the index from Discord's history alone.

The io role does the work (it holds the only Discord connection); this command journals
a reindex job and follows it until it is done.
"""

from __future__ import annotations

import argparse

from sequenzia.cli.errors import UsageProblem
from sequenzia.cli.following import follow, journal_job
from sequenzia.cli.options import add_config_options, config_from_args
from sequenzia.db.url import parse_database_url


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reindex",
        help="rebuild records and spanned-file parts from Discord's history",
        description="Journal a reindex job for the io role and wait for it (a running server does the work).",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--channel", metavar="ID", action="append", help="a channel id (repeat for several)"
    )
    what.add_argument(
        "--all", action="store_true", help="every text channel and thread of every server"
    )
    p.add_argument("--no-wait", action="store_true", help="journal the job and return at once")
    p.add_argument(
        "--timeout",
        type=float,
        default=0,
        metavar="SECONDS",
        help="give up waiting after this long (default: wait)",
    )
    add_config_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    channels = []
    for raw in args.channel or []:
        if not raw.isdigit():
            raise UsageProblem(f"--channel takes a Discord channel id (a number), not {raw!r}")
        channels.append(int(raw))
    url = parse_database_url(config_from_args(args).database.url)
    payload = {"all": True} if args.all else {"channel_ids": channels}
    job_id = journal_job(url, "reindex", payload)
    if args.no_wait:
        print(f"reindex journalled as job {job_id}")
        return 0
    r = follow(url, job_id, "reindex", args.timeout)
    print(
        f"reindexed {r.get('messages', 0)} messages in {r.get('channels', 0)} channels; removed {r.get('removed', 0)} stale records"
    )
    return 0
