"""`sequenzia upload PATH... --to CHANNEL`: store files (directories recursively) on a server."""

from __future__ import annotations

import argparse
import os
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
from sequenzia.fileworker.errors import FileWorkerError, Misuse
from sequenzia.fileworker.progress import human_size
from sequenzia.fileworker.resume import ResumeStore, default_root
from sequenzia.fileworker.upload import Stored, Uploader, UploadItem, expand_paths

MAX_TEXT = 1000  # the server's limit for an upload's text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "upload",
        help="upload files or directories to a channel (resumable)",
        description=(
            "Upload files (directories recursively) to a channel. Parts go up in parallel; "
            "an interrupted upload resumes when the same command runs again."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="a file or a directory")
    p.add_argument("--to", required=True, metavar="CHANNEL", help="a channel id or name")
    p.add_argument("--text", default="", metavar="TEXT", help="the record's text (every file)")
    add_upload_options(p)
    add_server_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if len(args.text) > MAX_TEXT:
        raise UsageProblem(f"--text must be at most {MAX_TEXT} characters")
    parallel = parallel_from_args(args)
    rate = rate_from_args(args)
    try:
        found = expand_paths([Path(p) for p in args.paths])
    except FileNotFoundError as e:
        raise UsageProblem(f"there is no file or directory {e.args[0]}") from None
    if not found:
        raise UsageProblem(f"there are no files in {', '.join(args.paths)}")
    console = Console("upload", quiet=args.quiet)
    client = client_from_args(args, console.note)
    channel = ChannelDirectory(client).resolve(args.to)
    items = [UploadItem(path, channel.id, shown, args.text) for path, shown in found]
    uploader = Uploader(
        client,
        ResumeStore(default_root(os.environ)),
        parallel=parallel,
        progress=console.progress,
        rate=rate,
        warn=console.note,
    )
    failures: list[FileWorkerError] = []

    def stored(s: Stored) -> None:
        if s.parts_resumed:
            console.note(
                f"{s.item.shown}: resumed, {s.parts_resumed} of {s.parts} parts were already there"
            )
        if args.json:
            console.json(s.public())
        else:
            console.result(
                f"{s.item.shown} ({human_size(s.size)}) stored in {channel} as record {s.eid}: {s.url}"
            )

    def failed(item: UploadItem, error: FileWorkerError) -> None:
        failures.append(error)
        console.error(f"{item.shown}: {error}")

    try:
        uploader.run(items, stored, failed)
    except KeyboardInterrupt:
        console.finish()
        console.error("run the same command again to resume where it stopped")
        raise
    finally:
        console.finish()
    misuse = [e for e in failures if isinstance(e, Misuse)]
    if misuse:
        raise misuse[0]
    if failures:
        raise CommandFailed(f"{len(failures)} of {len(items)} file(s) were not stored")
    return 0
