"""The `uploads` and `upload_parts` tables.

States: receiving (parts arriving) → storing (handed to Discord I/O as a job) → stored
(a record exists: `eid`) or failed (`error`); receiving → aborted (the client gave up) or
expired (abandoned past `expires_ts`).
"""

from __future__ import annotations

import time
from typing import Any

COLUMNS = (
    "id", "user_id", "name", "size", "xxh3_128", "channel_id", "server_id", "content",
    "part_size", "part_count", "state", "job_id", "eid", "error", "created_ts", "updated_ts",
    "expires_ts",
)  # fmt: skip


def _now() -> int:
    return int(time.time() * 1000)


def create(txn: Any, upload: dict[str, Any]) -> None:
    row = {**upload, "state": "receiving", "created_ts": _now(), "updated_ts": _now()}
    names = [c for c in COLUMNS if c in row]
    txn.execute(
        f"INSERT INTO uploads ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",  # noqa: S608
        tuple(row[c] for c in names),
    )


def get(txn: Any, upload_id: str) -> dict[str, Any] | None:
    txn.execute(f"SELECT {', '.join(COLUMNS)} FROM uploads WHERE id = ?", (upload_id,))  # noqa: S608
    row = txn.fetchone()
    return dict(zip(COLUMNS, row, strict=True)) if row else None


def parts(txn: Any, upload_id: str) -> dict[int, str]:
    """Received parts: index → hash."""
    txn.execute("SELECT idx, xxh3_128 FROM upload_parts WHERE upload_id = ?", (upload_id,))
    return {int(r[0]): str(r[1]) for r in txn.fetchall()}


def record_part(txn: Any, upload_id: str, index: int, size: int, xxh3_128: str) -> None:
    txn.execute(
        txn.engine.upsert(
            "upload_parts", ["upload_id", "idx"], ["size", "xxh3_128", "received_ts"]
        ),
        (upload_id, index, size, xxh3_128, _now()),
    )


def set_state(txn: Any, upload_id: str, state: str, **fields: Any) -> None:
    allowed = {"job_id", "eid", "error"}
    if not set(fields) <= allowed:
        raise ValueError(f"cannot set {sorted(set(fields) - allowed)} on an upload")
    sets = ", ".join(["state = ?", "updated_ts = ?", *(f"{k} = ?" for k in fields)])
    txn.execute(
        f"UPDATE uploads SET {sets} WHERE id = ?",  # noqa: S608 (fixed column names)
        (state, _now(), *fields.values(), upload_id),
    )


def expired(txn: Any, now: int | None = None) -> list[str]:
    """Uploads still receiving past their expiry."""
    txn.execute(
        "SELECT id FROM uploads WHERE state = 'receiving' AND expires_ts < ?",
        (_now() if now is None else now,),
    )
    return [str(r[0]) for r in txn.fetchall()]
