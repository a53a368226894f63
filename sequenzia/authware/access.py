"""Who may see and change what: channel permissions from Discord roles.

Each channel may name the permission needed to read it (`perm_read`), to write to it
(`perm_write`: upload, post) and to manage what is in it (`perm_manage`: move, rename,
edit, delete, archive, pin, rotate); roles grant permissions (`role_permissions`); users
hold roles per server (`user_roles`, refreshed at login and by member events; a server's
@everyone role, whose id is the server's, marks membership). A channel that names no read
permission is open to every member of its server; one that names no write permission lets
every reader write; one that names no manage permission lets every writer manage. Each
right needs the ones before it. The owner (user 0, the owner key) and Discord server
owners (`users.is_admin`) see and do everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

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
    manageable: frozenset[int] = field(default_factory=frozenset)

    def can_read(self, channel_id: int) -> bool:
        return self.everything or channel_id in self.readable

    def can_write(self, channel_id: int) -> bool:
        return self.scope in ("write", "admin") and (self.everything or channel_id in self.writable)

    def can_manage(self, channel_id: int) -> bool:
        return self.scope in ("write", "admin") and (
            self.everything or channel_id in self.manageable
        )


class Access(NamedTuple):
    """The channels a user may read, write to and manage (or all of them)."""

    readable: frozenset[int]
    writable: frozenset[int]
    everything: bool
    manageable: frozenset[int] = frozenset()


EVERYTHING = Access(frozenset(), frozenset(), True)


def channel_access(txn: Any, user_id: int) -> Access:
    """What a user may read, write and manage, from their roles and the channels' needs."""
    if user_id == OWNER:
        return EVERYTHING
    txn.execute("SELECT is_admin FROM users WHERE id = ?", (user_id,))
    row = txn.fetchone()
    if row is not None and row[0]:
        return EVERYTHING
    txn.execute("SELECT DISTINCT server_id FROM user_roles WHERE user_id = ?", (user_id,))
    servers = {int(r[0]) for r in txn.fetchall()}
    txn.execute(
        "SELECT DISTINCT rp.permission FROM role_permissions rp"
        " JOIN user_roles ur ON ur.role_id = rp.role_id WHERE ur.user_id = ?",
        (user_id,),
    )
    granted = {str(r[0]) for r in txn.fetchall()}
    txn.execute(
        "SELECT id, server_id, perm_read, perm_write, perm_manage FROM channels WHERE deleted = 0"
    )
    readable, writable, manageable = set(), set(), set()
    for channel_id, server_id, perm_read, perm_write, perm_manage in txn.fetchall():
        if int(server_id) not in servers:
            continue
        if perm_read is None or perm_read in granted:
            readable.add(int(channel_id))
            if perm_write is None or perm_write in granted:
                writable.add(int(channel_id))
                if perm_manage is None or perm_manage in granted:
                    manageable.add(int(channel_id))
    return Access(frozenset(readable), frozenset(writable), False, frozenset(manageable))


def nsfw_enabled(txn: Any, user_id: int) -> bool:
    """Whether NSFW channels appear in the user's listings (their choice; the owner sees all)."""
    if user_id == OWNER:
        return True
    txn.execute("SELECT nsfw_enabled FROM users WHERE id = ?", (user_id,))
    row = txn.fetchone()
    return bool(row and row[0])


def set_nsfw(txn: Any, user_id: int, enabled: bool) -> None:
    txn.execute("UPDATE users SET nsfw_enabled = ? WHERE id = ?", (1 if enabled else 0, user_id))


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
        self._access: dict[int, tuple[Access, float]] = {}

    def forget(self) -> None:
        """Recompute everyone's access on their next request (after a permission change)."""
        self._access.clear()

    async def _channels(self, user_id: int) -> Access:
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
        access = await self._channels(grant.user_id)
        return Identity(
            grant.user_id,
            grant.scope,
            "key",
            grant.key_id,
            None,
            access.readable,
            access.writable,
            access.everything,
            access.manageable,
        )

    async def from_session(self, session_id: str) -> Identity | None:
        from sequenzia.authware import sessions

        session = await self._db.runInteraction("session", sessions.get, session_id)
        if session is None:
            return None
        access = await self._channels(session.user_id)
        return Identity(
            session.user_id,
            "admin" if access.everything else "write",
            "session",
            None,
            session.csrf_token,
            access.readable,
            access.writable,
            access.everything,
            access.manageable,
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
