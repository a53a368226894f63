"""The `favourites`, `albums`, `album_items` and `display_history` tables.

An album is private to its owner until shared: sharing gives it a token, and anyone
logged in who has the token may look at it, seeing only the items their own roles let
them read.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any


def _now() -> int:
    return int(time.time() * 1000)


def set_favourite(txn: Any, user_id: int, eid: int, on: bool) -> None:
    if on:
        txn.execute(
            txn.engine.upsert("favourites", ["user_id", "eid"], [], insert_only=["created_ts"]),
            (user_id, eid, _now()),
        )
    else:
        txn.execute("DELETE FROM favourites WHERE user_id = ? AND eid = ?", (user_id, eid))


DISPLAY_NAME = re.compile(r"[\w .-]{1,64}")


def record_shown(txn: Any, user_id: int, display: str, eid: int, ts: int | None = None) -> None:
    """Note that one of a user's displays showed a record (the gallery's shown= filter).

    `display` names the display (an ADS frame, a DWS wallpaper client): up to 64 letters,
    digits, spaces, dots, dashes or underscores.
    """
    if not DISPLAY_NAME.fullmatch(display):
        raise ValueError(f"a display name is 1 to 64 letters, digits, ' ._-', not {display!r}")
    txn.execute(
        txn.engine.upsert("display_history", ["user_id", "display", "eid"], ["shown_ts"]),
        (user_id, display, eid, _now() if ts is None else ts),
    )


ALBUM_FIELDS = ("id", "owner_id", "name", "privacy", "share_token", "created_ts", "updated_ts")


def albums_of(txn: Any, user_id: int) -> list[dict[str, Any]]:
    txn.execute(
        f"SELECT {', '.join(ALBUM_FIELDS)}, (SELECT COUNT(*) FROM album_items i WHERE i.album_id = a.id)"  # noqa: S608
        " FROM albums a WHERE owner_id = ? ORDER BY name, id",
        (user_id,),
    )
    return [dict(zip((*ALBUM_FIELDS, "items"), r, strict=True)) for r in txn.fetchall()]


def album_channels(txn: Any, user_id: int) -> list[tuple[int, int, int]]:
    """(album id, channel id, items) of a user's albums: counts a viewer may be shown
    are the sums over the channels they can read."""
    txn.execute(
        "SELECT a.id, r.channel_id, COUNT(*) FROM albums a JOIN album_items i ON i.album_id = a.id"
        " JOIN records r ON r.eid = i.eid WHERE a.owner_id = ? AND r.kind <> 'part'"
        " GROUP BY a.id, r.channel_id",
        (user_id,),
    )
    return [(int(r[0]), int(r[1]), int(r[2])) for r in txn.fetchall()]


def album(txn: Any, album_id: int) -> dict[str, Any] | None:
    txn.execute(f"SELECT {', '.join(ALBUM_FIELDS)} FROM albums WHERE id = ?", (album_id,))  # noqa: S608
    row = txn.fetchone()
    return dict(zip(ALBUM_FIELDS, row, strict=True)) if row else None


def album_by_token(txn: Any, token: str) -> dict[str, Any] | None:
    txn.execute(
        f"SELECT {', '.join(ALBUM_FIELDS)} FROM albums WHERE share_token = ? AND privacy = 'shared'",  # noqa: S608
        (token,),
    )
    row = txn.fetchone()
    return dict(zip(ALBUM_FIELDS, row, strict=True)) if row else None


def create_album(txn: Any, user_id: int, name: str) -> int:
    now = _now()
    txn.execute(
        "INSERT INTO albums (owner_id, name, privacy, created_ts, updated_ts) VALUES (?, ?, 'private', ?, ?)",
        (user_id, name, now, now),
    )
    return int(txn.lastrowid)


def delete_album(txn: Any, album_id: int) -> None:
    txn.execute("DELETE FROM album_items WHERE album_id = ?", (album_id,))
    txn.execute("DELETE FROM albums WHERE id = ?", (album_id,))


def set_item(txn: Any, album_id: int, eid: int, on: bool) -> None:
    if on:
        txn.execute(
            txn.engine.upsert("album_items", ["album_id", "eid"], [], insert_only=["added_ts"]),
            (album_id, eid, _now()),
        )
    else:
        txn.execute("DELETE FROM album_items WHERE album_id = ? AND eid = ?", (album_id, eid))
    txn.execute("UPDATE albums SET updated_ts = ? WHERE id = ?", (_now(), album_id))


def share(txn: Any, album_id: int, on: bool) -> str | None:
    token = secrets.token_hex(16) if on else None
    txn.execute(
        "UPDATE albums SET privacy = ?, share_token = ?, updated_ts = ? WHERE id = ?",
        ("shared" if on else "private", token, _now(), album_id),
    )
    return token


def visible_albums(txn: Any, user_id: int) -> dict[str, int]:
    """Album references a user may use in `album:`: their album ids, and shared tokens."""
    txn.execute("SELECT id FROM albums WHERE owner_id = ?", (user_id,))
    refs = {str(r[0]): int(r[0]) for r in txn.fetchall()}
    txn.execute(
        "SELECT share_token, id FROM albums WHERE privacy = 'shared' AND share_token IS NOT NULL"
    )
    refs.update({str(r[0]): int(r[1]) for r in txn.fetchall()})
    return refs


def remember_view(txn: Any, user_id: int, eid: int) -> None:
    """Browsing history: one row per view (the newest first when listed)."""
    txn.execute(
        "INSERT INTO history (user_id, eid, seen_ts) VALUES (?, ?, ?)", (user_id, eid, _now())
    )


def history(txn: Any, user_id: int, limit: int) -> list[dict[str, Any]]:
    txn.execute(
        "SELECT eid, MAX(seen_ts) AS last_seen FROM history WHERE user_id = ?"
        " GROUP BY eid ORDER BY last_seen DESC LIMIT ?",
        (user_id, limit),
    )
    return [{"eid": int(r[0]), "seen_ts": int(r[1])} for r in txn.fetchall()]


def forget_history(txn: Any, user_id: int) -> None:
    txn.execute("DELETE FROM history WHERE user_id = ?", (user_id,))
