"""`sequenzia reindex`: rebuild the index from Discord's history alone.

The io role does the work (it holds the only Discord connection); this command journals
a reindex job and follows it until it is done.
"""

from __future__ import annotations

import argparse
import sys
import time

from sequenzia.cli.errors import CommandFailed, UsageProblem
from sequenzia.cli.options import add_config_options, config_from_args
from sequenzia.db.direct import run_interaction
from sequenzia.db.url import parse_database_url
from sequenzia.discordio import journal


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
    try:
        job_id = run_interaction(url, journal.enqueue, "reindex", payload, priority=journal.BACKLOG)
    except Exception as e:
        raise CommandFailed(f"cannot journal the reindex job: {e}") from None
    if args.no_wait:
        print(f"reindex journalled as job {job_id}")
        return 0
    print(
        f"reindex journalled as job {job_id}; waiting for the io role (twistd sequenzia) to run it",
        file=sys.stderr,
    )
    deadline = time.monotonic() + args.timeout if args.timeout else None
    while True:
        job = run_interaction(url, journal.get, job_id)
        if job is None:
            raise CommandFailed(f"job {job_id} disappeared")
        if job.state == "done":
            r = job.result or {}
            print(
                f"reindexed {r.get('messages', 0)} messages in {r.get('channels', 0)} channels; removed {r.get('removed', 0)} stale records"
            )
            return 0
        if job.state == "failed":
            raise CommandFailed(f"reindex job {job_id} failed: {job.last_error}")
        if deadline is not None and time.monotonic() > deadline:
            raise CommandFailed(
                f"reindex job {job_id} still {job.state} after {args.timeout:g} s; it stays journalled"
            )
        time.sleep(0.5)
