"""Who may see and change what: channel permissions from Discord roles.

Each channel may name the permission needed to read it (`perm_read`) and to write to it
(`perm_write`); roles grant permissions (`role_permissions`); users hold roles per server
(`user_roles`, refreshed at login and by member events; a server's @everyone role, whose
id is the server's, marks membership). A channel that names no permission is open to
every member of its server. The owner (user 0, the owner key) and Discord server owners
(`users.is_admin`) see everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OWNER = 0


@dataclass(frozen=True)
class Identity:
    """The person (or key) behind a request, and where they may read and write."""

    user_id: int
    scope: str  # read, write or admin
    via: str  # "key" or "session"
    key_id: int | None = None
    csrf_token: str | None = None
    readable: frozenset[int] = field(default_factory=frozenset)
    writable: frozenset[int] = field(default_factory=frozenset)
    everything: bool = False

    def can_read(self, channel_id: int) -> bool:
        return self.everything or channel_id in self.readable

    def can_write(self, channel_id: int) -> bool:
        return self.scope in ("write", "admin") and (self.everything or channel_id in self.writable)


def channel_access(txn: Any, user_id: int) -> tuple[frozenset[int], frozenset[int], bool]:
    """(readable channel ids, writable channel ids, sees everything) of a user."""
    if user_id == OWNER:
        return frozenset(), frozenset(), True
    txn.execute("SELECT is_admin FROM users WHERE id = ?", (user_id,))
    row = txn.fetchone()
    if row is not None and row[0]:
        return frozenset(), frozenset(), True
    txn.execute("SELECT DISTINCT server_id FROM user_roles WHERE user_id = ?", (user_id,))
    servers = {int(r[0]) for r in txn.fetchall()}
    txn.execute(
        "SELECT DISTINCT rp.permission FROM role_permissions rp"
        " JOIN user_roles ur ON ur.role_id = rp.role_id WHERE ur.user_id = ?",
        (user_id,),
    )
    granted = {str(r[0]) for r in txn.fetchall()}
    txn.execute("SELECT id, server_id, perm_read, perm_write FROM channels WHERE deleted = 0")
    readable, writable = set(), set()
    for channel_id, server_id, perm_read, perm_write in txn.fetchall():
        if int(server_id) not in servers:
            continue
        if perm_read is None or perm_read in granted:
            readable.add(int(channel_id))
            if perm_write is None or perm_write in granted:
                writable.add(int(channel_id))
    return frozenset(readable), frozenset(writable), False


class Authenticator:
    """Finds the Identity behind a request: a Bearer key, else a session cookie.

    Channel access is computed from the database and remembered for a few seconds per
    user, so a page's many requests cost one computation; role changes apply within `ttl_s`.
    """

    def __init__(self, database: Any, verifier: Any, clock: Any, ttl_s: float = 10.0) -> None:
        self._db = database
        self._verifier = verifier
        self._clock = clock
        self._ttl = ttl_s
        self._access: dict[int, tuple[tuple[frozenset[int], frozenset[int], bool], float]] = {}

    async def _channels(self, user_id: int) -> tuple[frozenset[int], frozenset[int], bool]:
        now = self._clock.seconds()
        known = self._access.get(user_id)
        if known is not None and known[1] > now:
            return known[0]
        access = await self._db.runInteraction("access", channel_access, user_id)
        if len(self._access) > 10_000:
            self._access.clear()
        self._access[user_id] = (access, now + self._ttl)
        return access

    async def from_key(self, key: str) -> Identity | None:
        grant = await self._verifier.verify(key)
        if grant is None:
            return None
        readable, writable, everything = await self._channels(grant.user_id)
        return Identity(
            grant.user_id, grant.scope, "key", grant.key_id, None, readable, writable, everything
        )

    async def from_session(self, session_id: str) -> Identity | None:
        from sequenzia.authware import sessions

        session = await self._db.runInteraction("session", sessions.get, session_id)
        if session is None:
            return None
        readable, writable, everything = await self._channels(session.user_id)
        scope = "admin" if everything else "write"
        return Identity(
            session.user_id,
            scope,
            "session",
            None,
            session.csrf_token,
            readable,
            writable,
            everything,
        )

    async def identify(self, authorization: str | None, cookie: str | None) -> Identity | None:
        """From the Authorization header's Bearer key, else the session cookie's value."""
        header = (authorization or "").strip()
        if header:
            if not header.lower().startswith("bearer "):
                return None
            return await self.from_key(header[7:].strip())
        if cookie:
            return await self.from_session(cookie)
        return None
