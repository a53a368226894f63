"""Numbered schema migrations under sql/<dialect>/NNN_name.sql (CONTRACT: to be built).

Synchronous on purpose: it runs before the reactor starts (twistd start-up) and from the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from sequenzia.db.url import DatabaseURL


class MigrationError(Exception):
    """A migration could not be applied or checked; the message is one clear sentence."""


class SchemaTooNewError(MigrationError):
    """The database was migrated by newer code than this."""


class DatabaseUnavailableError(MigrationError):
    """The database could not be reached."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str


@dataclass(frozen=True)
class SchemaStatus:
    current: int
    latest: int
    pending: list[Migration]


def status(url: DatabaseURL) -> SchemaStatus:
    raise NotImplementedError


def upgrade(url: DatabaseURL) -> list[Migration]:
    raise NotImplementedError
