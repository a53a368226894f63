"""`sequenzia devcord`: run devcord, the Discord emulator, on its own."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sequenzia.cli.errors import CommandFailed, UsageProblem


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "devcord",
        help="run devcord, the Discord emulator, standalone",
        description="Run devcord. Its connection details (api_base, tokens, ids) go to DIR/devcord.json.",
    )
    p.add_argument(
        "--listen",
        metavar="ENDPOINT",
        default="tcp:8090:interface=127.0.0.1",
        help="Twisted endpoint string (default: %(default)s)",
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        default="data/devcord",
        help="state directory (default: %(default)s)",
    )
    p.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="answer every request at once (for load tests)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from twisted.internet import reactor
    from twisted.internet.endpoints import serverFromString
    from twisted.logger import globalLogBeginner

    from sequenzia.devcord.service import DevcordOptions, DevcordService
    from sequenzia.logging import make_observer

    try:
        serverFromString(reactor, args.listen)
    except (ValueError, TypeError, KeyError) as e:
        raise UsageProblem(
            f"--listen must be a Twisted endpoint string like tcp:8090:interface=127.0.0.1 ({e})"
        ) from None
    options = DevcordOptions()
    options.rate_limits.enabled = not args.no_rate_limits
    globalLogBeginner.beginLoggingTo([make_observer(sys.stdout)], redirectStandardIO=False)
    service = DevcordService(Path(args.data), args.listen, reactor, options)
    failed: list[str] = []

    def cannot_listen(failure: Any) -> None:
        failed.append(failure.getErrorMessage())
        reactor.stop()

    def start() -> None:
        waiting = service.when_listening()
        service.startService()
        waiting.addErrback(cannot_listen)

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    if failed:
        raise CommandFailed(f"cannot listen on {args.listen}: {failed[0]}")
    return 0
