"""`sequenzia download EID [-o PATH]`: fetch a record's file, every byte verified."""

from __future__ import annotations

import argparse
from pathlib import Path

from sequenzia.cli.console import Console
from sequenzia.cli.errors import UsageProblem
from sequenzia.cli.options import add_server_options, client_from_args, rate_from_args
from sequenzia.fileworker.download import Downloader, RemoteFile
from sequenzia.fileworker.progress import Progress, human_size


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "download",
        help="download a record's file, verified (resumable)",
        description=(
            "Download a record's file. It is written beside PATH under a hidden name and "
            "renamed to PATH only once its size and xxh3-128 match the record; an "
            "interrupted download resumes when the same command runs again."
        ),
    )
    p.add_argument("eid", metavar="EID", help="the record's id")
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="where to save it; a directory keeps the file's name (default: its name, here)",
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no notes")
    add_server_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.eid.isdigit():
        raise UsageProblem(f"EID must be a record id (a whole number), not {args.eid!r}")
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.is_dir() and not output.is_dir():
        raise UsageProblem(f"there is no directory {output.parent} to save into")
    rate = rate_from_args(args)
    console = Console("download", quiet=args.quiet)
    client = client_from_args(args, console.note)

    def progress_for(file: RemoteFile) -> Progress:
        console.progress.add(file.size)
        console.progress.label = file.name
        return console.progress

    try:
        done = Downloader(client, progress_for=progress_for, rate=rate).download(
            int(args.eid), output
        )
    except KeyboardInterrupt:
        console.finish()
        console.error("run the same command again to resume where it stopped")
        raise
    finally:
        console.finish()
    if done.resumed_at:
        console.note(f"resumed at byte {done.resumed_at} of {done.file.size}")
    if not done.verified:
        console.note(
            f"record {done.file.eid} has no xxh3-128 (not uploaded by Sequenzia): only its size was checked"
        )
    if args.json:
        console.json(done.public())
    else:
        check = "xxh3-128 verified" if done.verified else "size checked"
        console.result(f"{done.path} ({human_size(done.file.size)}, {check})")
    return 0
