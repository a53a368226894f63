"""Which server to talk to and with which key.

In order: the command-line options, then `$SEQUENZIA_URL` / `$SEQUENZIA_KEY`, then what a
local embedded server leaves in its data directory (`<data>/server.url`, `<data>/owner.key`;
data directory from `--data`, `$SEQUENZIA_DATA`, else `./data`). The server and the key are
looked up independently, so `--server` with the local owner key works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sequenzia.fileworker.errors import Misuse

SERVER_URL_FILE = "server.url"
OWNER_KEY_FILE = "owner.key"


@dataclass(frozen=True)
class ServerAccess:
    """A server's base URL (no trailing slash) and the Bearer key to use there."""

    url: str
    key: str

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"ServerAccess(url={self.url!r}, key=...)"


def _read(path: Path, what: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Misuse(f"cannot read the {what} in {path}: {e.strerror or e}") from None
    return text or None


def checked_url(raw: str, source: str) -> str:
    """An http(s) base URL without its trailing slash, or Misuse naming where it came from."""
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Misuse(f"the server URL from {source} must look like http://host:port, not {raw!r}")
    if parts.query or parts.fragment:
        raise Misuse(f"the server URL from {source} must not have a query or fragment: {raw!r}")
    return url


def find_access(
    server: str | None, key: str | None, data: str | None, env: Mapping[str, str]
) -> ServerAccess:
    """The server and key to use, from options, environment, or the local data directory."""
    data_dir = Path(data or env.get("SEQUENZIA_DATA") or "data")
    if server:
        url = checked_url(server, "--server")
    elif env.get("SEQUENZIA_URL"):
        url = checked_url(env["SEQUENZIA_URL"], "$SEQUENZIA_URL")
    else:
        local = _read(data_dir / SERVER_URL_FILE, "server URL")
        if local is None:
            raise Misuse(
                "no server given: use --server URL or $SEQUENZIA_URL, or start a local server "
                f"(twistd -n sequenzia), which writes {data_dir / SERVER_URL_FILE}"
            )
        url = checked_url(local, str(data_dir / SERVER_URL_FILE))
    if key:
        secret = key.strip()
    elif env.get("SEQUENZIA_KEY"):
        secret = env["SEQUENZIA_KEY"].strip()
    else:
        found = _read(data_dir / OWNER_KEY_FILE, "owner key")
        if found is None:
            raise Misuse(
                "no key given: use --key KEY or $SEQUENZIA_KEY, or --data DIR where a local "
                f"server wrote {OWNER_KEY_FILE} (looked in {data_dir})"
            )
        secret = found
    if not secret or any(ch.isspace() for ch in secret):
        raise Misuse("the key must be one word without spaces")
    return ServerAccess(url, secret)
