"""Static and API keys: random secrets shown once, stored only as bcrypt hashes.

A key looks like `sqk_` + 43 URL-safe characters. Its first 12 characters are kept in
clear (`key_prefix`) to find the row; the whole key is checked against `key_hash`.
The owner key (scope `admin`) is written to `<data>/owner.key` (mode 0600) at first
start, so a local client (`sequenzia upload`) finds it without configuration.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
from twisted.internet import threads

PREFIX = "sqk_"
PREFIX_LENGTH = 12
SCOPES = ("read", "write", "admin")
OWNER_KEY_FILE = "owner.key"
BCRYPT_ROUNDS = 10  # a key is 256 random bits: the hash guards a leaked table, not a weak secret


@dataclass(frozen=True)
class KeyGrant:
    """What a presented key may do."""

    key_id: int
    user_id: int
    kind: str
    scope: str

    def allows(self, scope: str) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(scope)


def _now() -> int:
    return int(time.time() * 1000)


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def register_key(
    txn: Any, key: str, *, user_id: int, kind: str, name: str, scope: str = "read"
) -> int:
    """Store a key's hash (never the key); returns its id."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    digest = bcrypt.hashpw(key.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()
    txn.execute(
        "INSERT INTO static_keys (user_id, kind, name, key_prefix, key_hash, scope, created_ts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_id, kind, name[:100], key[:PREFIX_LENGTH], digest, scope, _now()),
    )
    return int(txn.lastrowid)


def lookup(txn: Any, key: str) -> KeyGrant | None:
    """The grant of an unrevoked key, or None."""
    if not key.startswith(PREFIX) or len(key) > 200:
        return None
    txn.execute(
        "SELECT id, user_id, kind, scope, key_hash FROM static_keys"
        " WHERE key_prefix = ? AND revoked_ts IS NULL",
        (key[:PREFIX_LENGTH],),
    )
    for key_id, user_id, kind, scope, digest in txn.fetchall():
        if bcrypt.checkpw(key.encode(), str(digest).encode()):
            return KeyGrant(int(key_id), int(user_id), str(kind), str(scope))
    return None


def _live(txn: Any, key_id: int) -> bool:
    txn.execute("SELECT 1 FROM static_keys WHERE id = ? AND revoked_ts IS NULL", (key_id,))
    return txn.fetchone() is not None


KEY_FIELDS = ("id", "name", "kind", "scope", "key_prefix", "created_ts", "revoked_ts")


def keys_of(txn: Any, user_id: int) -> list[dict[str, Any]]:
    """A user's keys, newest first, without their hashes."""
    txn.execute(
        f"SELECT {', '.join(KEY_FIELDS)} FROM static_keys"  # noqa: S608
        " WHERE user_id = ? AND kind <> 'owner' ORDER BY id DESC",
        (user_id,),
    )
    return [dict(zip(KEY_FIELDS, row, strict=True)) for row in txn.fetchall()]


def revoke(txn: Any, user_id: int, key_id: int) -> dict[str, Any] | None:
    """Revoke one of the user's own keys (again is harmless); the key, or None if not theirs."""
    txn.execute(
        "UPDATE static_keys SET revoked_ts = ? WHERE id = ? AND user_id = ? AND kind <> 'owner'"
        " AND revoked_ts IS NULL",
        (_now(), key_id, user_id),
    )
    txn.execute(
        f"SELECT {', '.join(KEY_FIELDS)} FROM static_keys"  # noqa: S608
        " WHERE id = ? AND user_id = ? AND kind <> 'owner'",
        (key_id, user_id),
    )
    row = txn.fetchone()
    return dict(zip(KEY_FIELDS, row, strict=True)) if row else None


def _register_if_missing(txn: Any, key: str) -> None:
    if lookup(txn, key) is None:
        register_key(txn, key, user_id=0, kind="owner", name="owner key", scope="admin")


def _publish_key(path: Path, key: str) -> str:
    """Write the key file (0600) unless another process was first; the key in the file."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(scratch, path)  # never replaces: the first process's key stands
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        scratch.unlink()
    return key


async def install_owner_key(database: Any, data_dir: Path) -> Path:
    """`<data>/owner.key` exists (mode 0600) and the database knows it; its path.

    The file appears only once its hash is committed, so a client that finds it can use
    it at once. A key file whose hash the database lacks (a new or reset database) is
    registered again, so the file and the database always agree.
    """
    path = data_dir / OWNER_KEY_FILE
    if path.exists():
        key = await threads.deferToThread(path.read_text)
        await database.runInteraction("keys.owner", _register_if_missing, key.strip())
        return path
    key = new_key()
    await database.runInteraction("keys.owner", _register_if_missing, key)
    written = await threads.deferToThread(_publish_key, path, key)
    if written != key:
        await database.runInteraction("keys.owner", _register_if_missing, written)
    return path


class KeyVerifier:
    """Checks presented keys, remembering the bcrypt answer for good ones for `ttl_s`
    (bcrypt is slow on purpose).

    Only the hash check is remembered: each use still reads the key's row by id (one
    primary-key lookup), so a key revoked on any node stops working at its next request.
    """

    def __init__(self, database: Any, clock: Any, ttl_s: float = 60.0) -> None:
        self._db = database
        self._clock = clock
        self._ttl = ttl_s
        self._known: dict[str, tuple[KeyGrant, float]] = {}

    async def verify(self, key: str) -> KeyGrant | None:
        fingerprint = hashlib.sha256(key.encode()).hexdigest()
        now = self._clock.seconds()
        known = self._known.get(fingerprint)
        if known is not None and known[1] > now:
            if await self._db.runInteraction("keys.live", _live, known[0].key_id):
                return known[0]
            del self._known[fingerprint]
            return None
        grant = await self._db.runInteraction("keys.lookup", lookup, key)
        if grant is not None:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[fingerprint] = (grant, now + self._ttl)
        return grant
