"""The `sequenzia` command: subcommand plumbing, shared options and exit codes.

Exit codes (DESIGN §6): 0 ok, 1 the work failed, 2 the command was used wrongly (bad
arguments or configuration). Each command module exposes `register(subparsers)`, which adds
its parser and sets `func` to a callable taking the parsed arguments and returning an exit
code (or None for 0).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sequenzia import __version__
from sequenzia.cli import (
    db_commands,
    devcord_command,
    download_command,
    gc_command,
    keys_command,
    reindex_command,
    upload_command,
    watch_command,
)
from sequenzia.cli.errors import CommandFailed, UsageProblem
from sequenzia.config import ConfigError
from sequenzia.fileworker.errors import FileWorkerError, Misuse

COMMAND_MODULES = (
    db_commands,
    devcord_command,
    reindex_command,
    gc_command,
    keys_command,
    upload_command,
    download_command,
    watch_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sequenzia",
        description="Sequenzia: a self-hosted image and file library that uses Discord as its filesystem.",
    )
    parser.add_argument("--version", action="version", version=f"sequenzia {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (UsageProblem, ConfigError, Misuse) as e:
        print(f"sequenzia {args.command}: {e}", file=sys.stderr)
        return 2
    except (CommandFailed, FileWorkerError) as e:
        print(f"sequenzia {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sequenzia {args.command}: interrupted", file=sys.stderr)
        return 130
