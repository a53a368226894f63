"""Every configuration key, its type, default and meaning, in one place.

A section is a frozen dataclass; each field carries its documentation and an optional
check in its metadata. The loader (`sequenzia.config.load`) walks these classes, so adding
a key means adding a field here and a line to `sequenzia.example.toml` (a test holds the two
together).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sequenzia.db.url import DatabaseURLError, parse_database_url

Check = Callable[[Any], str | None]
"""A check returns None when the value is good, or what is expected when it is not."""


def key(default: Any, doc: str, *, check: Check | None = None, env: str | None = None) -> Any:
    """Declare a configuration key: its default, a one-line doc, a check, an env override."""
    meta = {"doc": doc, "check": check, "env": env}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(repr(c) for c in choices)

    return check


def int_range(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        return None if low <= value <= high else f"a whole number from {low} to {high}"

    return check


def server_endpoint(value: Any) -> str | None:
    """A Twisted server endpoint string such as tcp:8080:interface=127.0.0.1."""
    from twisted.internet import reactor
    from twisted.internet.endpoints import serverFromString

    try:
        serverFromString(reactor, value)
    except (ValueError, TypeError, KeyError) as e:
        return f"a Twisted endpoint string like tcp:8080:interface=127.0.0.1 ({e})"
    return None


def database_url(value: Any) -> str | None:
    if value == "":
        return None  # the embedded default: SQLite under the data directory
    try:
        parse_database_url(value)
    except DatabaseURLError as e:
        return f"a usable database URL ({e})"
    return None


def amqp_url(value: Any) -> str | None:
    if not value.startswith(("amqp://", "amqps://")):
        return "a RabbitMQ URL like amqp://guest:guest@127.0.0.1:5672/%2F"
    return None


@dataclass(frozen=True)
class ServerSection:
    """How this process runs and where it keeps its files."""

    role: str = key(
        "all",
        "Which roles this process runs: all (everything in one process), web, io or backup.",
        check=one_of("all", "web", "io", "backup"),
    )
    listen: str = key(
        "tcp:8080:interface=127.0.0.1",
        "Where the web server listens: a Twisted endpoint string.",
        check=server_endpoint,
    )
    data_dir: str = key(
        "",
        "Directory for the embedded database, staged uploads and the cache. "
        "Empty: $SEQUENZIA_DATA, else ./data.",
    )
    public_url: str = key(
        "",
        "The URL users reach this server at (behind Nginx, its public address). Empty: derived from listen.",
    )


@dataclass(frozen=True)
class DatabaseSection:
    """The index database."""

    url: str = key(
        "",
        "sqlite:///path or mysql://user:pass@host:3306/db. Empty: SQLite at <data_dir>/sequenzia.sqlite3.",
        check=database_url,
        env="SEQUENZIA_DATABASE_URL",
    )
    auto_upgrade: bool = key(
        True,
        "Apply pending schema migrations at start. When false, a process refuses to start on an old schema.",
    )
    pool_size: int = key(8, "Database connections (threads) in the pool.", check=int_range(1, 64))
    retries: int = key(
        3,
        "How often an interaction is retried after a deadlock or a dropped connection.",
        check=int_range(0, 20),
    )


@dataclass(frozen=True)
class BusSection:
    """How roles talk to each other."""

    backend: str = key(
        "local",
        "local (in-process, one machine). rabbitmq (several machines) arrives with the multi-server release.",
        check=one_of("local"),
    )
    url: str = key(
        "amqp://guest:guest@127.0.0.1:5672/%2F",
        "RabbitMQ URL, for the rabbitmq backend (multi-server release).",
        check=amqp_url,
        env="SEQUENZIA_BUS_URL",
    )


def api_base(value: Any) -> str | None:
    if not value.startswith(("http://", "https://")) or "/api" not in value:
        return "an http(s) URL of Discord's REST API, like https://discord.com/api/v10"
    return None


@dataclass(frozen=True)
class DiscordSection:
    """The Discord that holds the library."""

    token: str = key(
        "",
        "The bot token. Empty: no Discord is used; an embedded devcord (the emulator) stands in.",
        env="SEQUENZIA_DISCORD_TOKEN",
    )
    api_base: str = key(
        "https://discord.com/api/v10",
        "Discord's REST API; the gateway and CDN come from it. Used with a token.",
        check=api_base,
    )
    failover_seconds: int = key(
        30,
        "A standby io process takes over within this many seconds after the active one dies.",
        check=int_range(3, 3600),
    )
    guild_ids: list[str] = key(
        [],
        "Ids of the Discord servers that hold the library. Empty: every server the bot is in.",
        check=lambda ids: (
            None
            if all(i.isdigit() for i in ids)
            else "a list of Discord server ids as strings of digits"
        ),
    )
    data_channels: int = key(
        4,
        "Data channels per server for spanned-file parts; missing ones are created at start "
        "(each has its own rate limit, so more channels upload faster).",
        check=int_range(1, 50),
    )
    data_category: str = key(
        "sequenzia-data",
        "Name of the category that holds each server's data channels (data-0, data-1, ...).",
        check=lambda name: None if 0 < len(name) <= 100 else "a name of 1 to 100 characters",
    )
    archive_channel: str = key(
        "archive",
        "Name of each server's archive channel (archiving moves a record there); created when missing.",
        check=lambda name: None if 0 < len(name) <= 100 else "a name of 1 to 100 characters",
    )
    file_limit_mib: int = key(
        20,
        "Discord's per-attachment limit for your servers in MiB (20 today; more with boosts). "
        "Lowered per server, automatically, when Discord refuses a part as too large.",
        check=int_range(1, 500),
    )
    request_limit_mib: int = key(
        25,
        "Discord's limit on one message request in MiB, all attachments together (25 today).",
        check=int_range(1, 500),
    )


@dataclass(frozen=True)
class SpansSection:
    """Spanned files: files larger than one attachment, stored as parts plus a header."""

    part_size_mib: int = key(
        0,
        "Part size in MiB. 0: the largest Discord's limits allow (discord.file_limit_mib and "
        "request_limit_mib).",
        check=int_range(0, 500),
    )
    upload_expiry_hours: int = key(
        24,
        "An upload not completed within this many hours is abandoned: its staged parts are removed.",
        check=int_range(1, 24 * 30),
    )


@dataclass(frozen=True)
class CdsSection:
    """The Content Distribution System: /f/ links, spanned-file assembly and its cache."""

    cache_dir: str = key(
        "",
        "Where reassembled spanned files are cached, on storage every web process shares. "
        "Empty: <data_dir>/cache. Nginx's internal location must alias this directory.",
    )
    cache_budget_gib: int = key(
        50,
        "Size budget of the cache in GiB; least recently used files are evicted past it.",
        check=int_range(1, 1 << 20),
    )
    accel: bool = key(
        False,
        "Behind Nginx (nginx/sequenzia.conf): answer cached reads with X-Accel-Redirect and "
        "let Nginx send the file. Off: the web process sends it itself.",
    )
    fetch_parallel: int = key(
        4, "Parts fetched at once while assembling a spanned file.", check=int_range(1, 32)
    )


@dataclass(frozen=True)
class AuthSection:
    """AuthWare: "Log in with Discord", sessions."""

    client_id: str = key(
        "",
        "The Discord application's client id for OAuth2 login. Empty with no discord.token: "
        "the embedded devcord's.",
    )
    client_secret: str = key(
        "",
        "The application's client secret. Prefer $SEQUENZIA_OAUTH_CLIENT_SECRET.",
        env="SEQUENZIA_OAUTH_CLIENT_SECRET",
    )
    session_days: int = key(
        30, "A login lasts this many days (then log in again).", check=int_range(1, 365)
    )
    logins_per_minute: int = key(
        10, "Login attempts allowed per client address per minute.", check=int_range(1, 1000)
    )


@dataclass(frozen=True)
class DevcordSection:
    """The embedded Discord emulator, used when discord.token is empty."""

    listen: str = key(
        "tcp:0:interface=127.0.0.1",
        "Where the embedded devcord listens (port 0: any free port). Its details go to <data_dir>/devcord/devcord.json.",
        check=server_endpoint,
    )


@dataclass(frozen=True)
class LoggingSection:
    """Log output."""

    format: str = key(
        "text",
        "text (one readable line per event) or json (one JSON object per line).",
        check=one_of("text", "json"),
    )
    level: str = key(
        "info", "Lowest level written.", check=one_of("debug", "info", "warn", "error")
    )


SECTIONS: dict[str, type] = {
    "server": ServerSection,
    "database": DatabaseSection,
    "bus": BusSection,
    "discord": DiscordSection,
    "spans": SpansSection,
    "cds": CdsSection,
    "auth": AuthSection,
    "devcord": DevcordSection,
    "logging": LoggingSection,
}
"""Section name → dataclass, in the order the example file documents them."""
