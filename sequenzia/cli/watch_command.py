"""`sequenzia watch DIR --to CHANNEL`: upload what lands in a folder, then move it aside."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from sequenzia.cli.console import Console
from sequenzia.cli.errors import CommandFailed, UsageProblem
from sequenzia.cli.options import (
    add_server_options,
    add_upload_options,
    client_from_args,
    parallel_from_args,
    rate_from_args,
)
from sequenzia.fileworker.channels import ChannelDirectory
from sequenzia.fileworker.errors import Misuse, TransferFailed
from sequenzia.fileworker.resume import ResumeStore, default_root
from sequenzia.fileworker.upload import Uploader
from sequenzia.fileworker.watch import DONE_DIR, Moved, Pass, Watcher


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "watch",
        help="upload files that appear in a folder, sub-folders to their channels",
        description=(
            "Upload files that appear in DIR once they stop changing, then move them into "
            f"DIR/{DONE_DIR}/ (or --done). Files at the top go to --to; a sub-folder named "
            "like a channel (id or name) goes to that channel. FILE.json beside FILE gives "
            'its text: {"text": "..."}.'
        ),
    )
    p.add_argument("dir", metavar="DIR", help="the folder to watch")
    p.add_argument("--to", required=True, metavar="CHANNEL", help="channel for top-level files")
    p.add_argument("--done", metavar="DIR", help=f"where stored files go (default: DIR/{DONE_DIR})")
    p.add_argument(
        "--settle",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="a file is taken once unchanged this long (default: 5)",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="time between scans (default: 2)",
    )
    p.add_argument(
        "--once", action="store_true", help="process what is there, then exit (for cron, tests)"
    )
    add_upload_options(p)
    add_server_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        raise UsageProblem(f"there is no directory {root} to watch")
    if args.settle < 0 or args.interval <= 0:
        raise UsageProblem("--settle must be 0 or more and --interval more than 0 seconds")
    done = Path(args.done) if args.done else None
    if done is not None and done.exists() and not done.is_dir():
        raise UsageProblem(f"--done {done} exists and is not a directory")
    parallel = parallel_from_args(args)
    rate = rate_from_args(args)
    console = Console("watch", quiet=args.quiet)
    client = client_from_args(args, console.note)
    channels = ChannelDirectory(client)
    default = channels.resolve(args.to)
    uploader = Uploader(
        client,
        ResumeStore(default_root(os.environ)),
        parallel=parallel,
        progress=console.progress,
        rate=rate,
        warn=console.note,
    )
    watcher = Watcher(
        root, default, channels, uploader, done=done, settle=args.settle, warn=console.note
    )

    def moved(m: Moved) -> None:
        s = m.stored
        if args.json:
            console.json({**s.public(), "path": s.item.shown, "moved_to": str(m.moved_to)})
        else:
            console.result(f"{s.item.shown} stored as record {s.eid}: {s.url}")

    def report(result: Pass) -> None:
        for shown, reason in result.failed:
            console.error(f"{shown}: {reason}")

    try:
        if args.once:
            return _once(watcher, moved, report, args.settle, console)
        console.note(f"watching {root} (Ctrl-C stops)")
        while True:
            try:
                report(watcher.run_pass(moved))
            except Misuse:
                raise
            except TransferFailed as e:
                # the server may be restarting: say so, keep watching
                console.error(f"{e}; trying again in {args.interval:g} s")
            time.sleep(args.interval)
    finally:
        console.finish()


def _once(
    watcher: Watcher,
    moved: Callable[[Moved], None],
    report: Callable[[Pass], None],
    settle: float,
    console: Console,
) -> int:
    """Two passes at most: what has settled now, then what settles within `settle` seconds."""
    first = watcher.run_pass(moved)
    report(first)
    failed, unsettled = len(first.failed), first.unsettled
    if unsettled:
        time.sleep(settle)
        second = watcher.run_pass(moved)
        report(second)
        failed, unsettled = failed + len(second.failed), second.unsettled
    if unsettled:
        console.note(f"{unsettled} file(s) still changing were left for the next run")
    if failed:
        raise CommandFailed(f"{failed} file(s) were not stored; they stay in {watcher.root}")
    return 0
