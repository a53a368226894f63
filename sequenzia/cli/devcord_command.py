"""`sequenzia devcord`: run the Discord emulator on its own (built in the devcord issue)."""

from __future__ import annotations

import argparse

from sequenzia.cli.errors import CommandFailed


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("devcord", help="run devcord, the Discord emulator, standalone")
    p.add_argument("--listen", metavar="ENDPOINT", default="tcp:0:interface=127.0.0.1")
    p.add_argument("--data", metavar="DIR", default="data/devcord")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CommandFailed("devcord is not built yet (issue 3)")
