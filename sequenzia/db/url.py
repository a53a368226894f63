"""Database URLs: `sqlite:///path` and `mysql://user:pass@host:port/db`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


class DatabaseURLError(ValueError):
    """A database URL that cannot be used; the message says why in one sentence."""


@dataclass(frozen=True)
class DatabaseURL:
    dialect: str  # "sqlite" or "mysql"
    database: str  # a file path for sqlite, a schema name for mysql
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    options: tuple[tuple[str, str], ...] = ()

    def redacted(self) -> str:
        """The URL with its password hidden, for logs and messages."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.database}"
        auth = f"{self.user}:***@" if self.password else (f"{self.user}@" if self.user else "")
        return f"mysql://{auth}{self.host}:{self.port}/{self.database}"


_MYSQL_OPTIONS = {"unix_socket", "ssl_ca", "connect_timeout"}


def parse_database_url(url: str) -> DatabaseURL:
    """Parse a database URL, or raise DatabaseURLError naming what is wrong."""
    if not isinstance(url, str) or not url:
        raise DatabaseURLError(
            "expected a URL like sqlite:///path/to/file or mysql://user:pass@host:3306/db"
        )
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise DatabaseURLError(
            f"{url!r} is not a URL; expected sqlite:///path or mysql://user:pass@host:port/db"
        )
    scheme = scheme.lower()
    if scheme == "sqlite":
        path = url[len("sqlite://") :]
        if not path.startswith("/") or path == "/":
            raise DatabaseURLError(
                "a sqlite URL needs a file path: sqlite:///relative/path or sqlite:////absolute/path"
            )
        path = unquote(path[1:])
        if path == ":memory:":
            raise DatabaseURLError(
                "an in-memory sqlite database cannot be shared by the pool; give a file path"
            )
        return DatabaseURL(dialect="sqlite", database=str(Path(path)))
    if scheme in ("mysql", "mariadb", "mysql+pymysql"):
        parts = urlsplit(url)
        try:
            port = parts.port or 3306
        except ValueError:
            raise DatabaseURLError(f"the port in {url!r} is not a number from 1 to 65535") from None
        database = unquote(parts.path.lstrip("/"))
        if not database or "/" in database:
            raise DatabaseURLError(
                "a mysql URL needs a database name: mysql://user:pass@host:3306/sequenzia"
            )
        options = tuple(parse_qsl(parts.query, keep_blank_values=True))
        for key, _value in options:
            if key not in _MYSQL_OPTIONS:
                raise DatabaseURLError(
                    f"unknown mysql URL option {key!r}; known: {', '.join(sorted(_MYSQL_OPTIONS))}"
                )
        return DatabaseURL(
            dialect="mysql",
            database=database,
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            options=options,
        )
    raise DatabaseURLError(
        f"unsupported database {scheme!r}; use sqlite:///path or mysql://user:pass@host:port/db"
    )
