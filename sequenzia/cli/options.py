"""Options several commands share, and turning them into a Config or a server client."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from sequenzia.cli.errors import UsageProblem
from sequenzia.config import Config, load_config
from sequenzia.fileworker.access import find_access
from sequenzia.fileworker.client import ApiClient, RetryPolicy
from sequenzia.fileworker.throttle import RateLimit, parse_rate


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """--config and --data, as twistd's plugin takes them."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (default: $SEQUENZIA_CONFIG, else ./sequenzia.toml if present)",
    )
    parser.add_argument(
        "--data", metavar="DIR", help="data directory (default: $SEQUENZIA_DATA, else ./data)"
    )


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(args.config, overrides={"server.data_dir": args.data})


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """--server, --key, --data and --retries: how a client command reaches a server."""
    parser.add_argument(
        "--server",
        metavar="URL",
        help="the server, e.g. http://127.0.0.1:8080 (default: $SEQUENZIA_URL, else <data>/server.url)",
    )
    parser.add_argument(
        "--key",
        metavar="KEY",
        help="an API key (default: $SEQUENZIA_KEY, else <data>/owner.key)",
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="a local server's data directory (default: $SEQUENZIA_DATA, else ./data)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=7,
        metavar="N",
        help="tries again after a lost connection or a busy server, backing off (default: 7)",
    )
    parser.add_argument(
        "--limit-rate",
        metavar="RATE",
        help="at most this many bytes per second, e.g. 500k or 2M (default: no limit)",
    )


def client_from_args(args: argparse.Namespace, on_retry: Callable[[str], None]) -> ApiClient:
    """The ApiClient the server options describe; UsageProblem/Misuse if they do not."""
    if args.retries < 0:
        raise UsageProblem(f"--retries must be 0 or more, not {args.retries}")
    access = find_access(args.server, args.key, args.data, os.environ)
    return ApiClient(access, retry=RetryPolicy(attempts=args.retries + 1), on_retry=on_retry)


def rate_from_args(args: argparse.Namespace) -> RateLimit | None:
    if not args.limit_rate:
        return None
    try:
        return RateLimit(parse_rate(args.limit_rate))
    except ValueError as e:
        raise UsageProblem(f"--limit-rate: {e}") from None


def parallel_from_args(args: argparse.Namespace) -> int:
    if not 1 <= args.parallel <= 32:
        raise UsageProblem(f"--parallel must be from 1 to 32, not {args.parallel}")
    return int(args.parallel)


def add_upload_options(p: argparse.ArgumentParser) -> None:
    """What `upload` and `watch` share: output and parallelism."""
    p.add_argument("--json", action="store_true", help="print one JSON object per stored file")
    p.add_argument(
        "--parallel", type=int, default=4, metavar="N", help="parts in flight (default: 4)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no notes")
