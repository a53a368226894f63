"""Browser sessions: a random id in an HttpOnly cookie, its SHA-256 in the `sessions` table.

The database never holds a usable session id, so a leaked table logs nobody in. Each
session carries its CSRF token; state-changing requests made with the cookie must echo
it (header `X-CSRF-Token` or form field `csrf_token`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

COOKIE = "sq_session"


@dataclass(frozen=True)
class Session:
    user_id: int
    csrf_token: str
    expires_ts: int


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _now() -> int:
    return int(time.time() * 1000)


def create(
    txn: Any, user_id: int, days: int, ip: str | None, user_agent: str | None
) -> tuple[str, Session]:
    """A new session: (the id for the cookie, the session)."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_hex(32)
    now = _now()
    expires = now + days * 24 * 3600 * 1000
    txn.execute(
        "INSERT INTO sessions (id, user_id, csrf_token, created_ts, expires_ts, last_seen_ts, ip, user_agent)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (_digest(session_id), user_id, csrf, now, expires, now, ip, (user_agent or "")[:255]),
    )
    return session_id, Session(user_id, csrf, expires)


def get(txn: Any, session_id: str) -> Session | None:
    """The live session of this cookie value, or None."""
    if not session_id or len(session_id) > 100:
        return None
    txn.execute(
        "SELECT user_id, csrf_token, expires_ts FROM sessions WHERE id = ? AND expires_ts > ?",
        (_digest(session_id), _now()),
    )
    row = txn.fetchone()
    return Session(int(row[0]), str(row[1]), int(row[2])) if row else None


def end(txn: Any, session_id: str, *, everywhere: bool = False) -> None:
    """Log out this session, or (everywhere) every session of its user."""
    if everywhere:
        txn.execute(
            "DELETE FROM sessions WHERE user_id = (SELECT user_id FROM"
            " (SELECT user_id FROM sessions WHERE id = ?) AS mine)",
            (_digest(session_id),),
        )
    else:
        txn.execute("DELETE FROM sessions WHERE id = ?", (_digest(session_id),))
