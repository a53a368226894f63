"""devcord's state: users, guilds, channels, roles, members, messages, webhooks, tokens.

Kept in memory for speed and written through to SQLite (`DIR/devcord.sqlite3`) so a
restart finds everything again; attachment bytes live as files under `DIR/attachments/`.
Objects are stored in devcord's own internal shape; `objects.py` renders Discord's JSON.
The writes are small rows on a local file, cheap enough for the reactor thread.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

KINDS = ("user", "guild", "channel", "role", "member", "message", "webhook", "token", "meta")


class Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.attachments_dir = directory / "attachments"
        self.attachments_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(directory / "devcord.sqlite3"), isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, key TEXT NOT NULL,"
            " data TEXT NOT NULL, PRIMARY KEY (kind, key))"
        )
        self._data: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
        self._channel_messages: dict[int, list[int]] = {}
        self._attachment_message: dict[int, int] = {}
        for kind, key, data in self._db.execute("SELECT kind, key, data FROM objects"):
            self._data[kind][key] = json.loads(data)
        for message in self._data["message"].values():
            self._channel_messages.setdefault(message["channel_id"], []).append(message["id"])
            self._index_attachments(message)
        for ids in self._channel_messages.values():
            ids.sort()

    def close(self) -> None:
        self._db.close()

    # -- generic -------------------------------------------------------------------

    def get(self, kind: str, key: Any) -> dict[str, Any] | None:
        return self._data[kind].get(str(key))

    def put(self, kind: str, key: Any, obj: dict[str, Any]) -> dict[str, Any]:
        self._data[kind][str(key)] = obj
        self._db.execute(
            "INSERT INTO objects (kind, key, data) VALUES (?, ?, ?)"
            " ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data",
            (kind, str(key), json.dumps(obj)),
        )
        return obj

    def delete(self, kind: str, key: Any) -> dict[str, Any] | None:
        obj = self._data[kind].pop(str(key), None)
        self._db.execute("DELETE FROM objects WHERE kind = ? AND key = ?", (kind, str(key)))
        return obj

    def all(self, kind: str) -> Iterator[dict[str, Any]]:
        return iter(list(self._data[kind].values()))

    def max_id(self) -> int:
        """The largest snowflake in use (so new ids stay above it after a restart)."""
        best = 0
        for kind in ("user", "guild", "channel", "role", "message", "webhook"):
            for key in self._data[kind]:
                if key.isdigit():
                    best = max(best, int(key))
        for message in self._data["message"].values():
            for a in message.get("attachments", []):
                best = max(best, a["id"])
        return best

    # -- messages, ordered per channel -----------------------------------------------

    def _index_attachments(self, message: dict[str, Any]) -> None:
        for a in message.get("attachments", []):
            self._attachment_message[a["id"]] = message["id"]

    def add_message(self, message: dict[str, Any]) -> dict[str, Any]:
        """Store a new message, or save changes to one already stored."""
        is_new = self.get("message", message["id"]) is None
        self._index_attachments(message)
        self.put("message", message["id"], message)
        if is_new:
            bisect.insort(
                self._channel_messages.setdefault(message["channel_id"], []), message["id"]
            )
        return message

    def remove_message(self, message_id: int) -> dict[str, Any] | None:
        message = self.delete("message", message_id)
        if message is not None:
            for a in message.get("attachments", []):
                self._attachment_message.pop(a["id"], None)
            ids = self._channel_messages.get(message["channel_id"], [])
            i = bisect.bisect_left(ids, message_id)
            if i < len(ids) and ids[i] == message_id:
                ids.pop(i)
        return message

    def channel_message_ids(
        self,
        channel_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[int]:
        """Message ids of a channel, newest first, as Discord's history pages them."""
        ids = self._channel_messages.get(channel_id, [])
        if after is not None:
            start = bisect.bisect_right(ids, after)
            chosen = ids[start : start + limit]
            return list(reversed(chosen))
        end = bisect.bisect_left(ids, before) if before is not None else len(ids)
        return list(reversed(ids[max(0, end - limit) : end]))

    def attachment_path(self, attachment_id: int) -> Path:
        return self.attachments_dir / str(attachment_id)

    def find_attachment(self, attachment_id: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(message, attachment) holding `attachment_id`."""
        message_id = self._attachment_message.get(attachment_id)
        message = self.get("message", message_id) if message_id is not None else None
        if message is None:
            return None
        for a in message.get("attachments", []):
            if a["id"] == attachment_id:
                return message, a
        return None
