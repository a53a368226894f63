"""Options several commands share, and turning them into a Config."""

from __future__ import annotations

import argparse

from sequenzia.config import Config, load_config


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
