"""The audit log of reads: who, what, when, how many bytes, cache hit or miss."""

from __future__ import annotations

import time
from typing import Any


def record_read(
    txn: Any,
    user_id: int,
    key_id: int | None,
    eid: int,
    size: int,
    cache_hit: bool | None,
    ip: str | None,
) -> None:
    txn.execute(
        "INSERT INTO audit_log (ts, user_id, key_id, action, eid, bytes, cache_hit, ip)"
        " VALUES (?, ?, ?, 'read', ?, ?, ?, ?)",
        (
            int(time.time() * 1000),
            user_id,
            key_id,
            eid,
            size,
            None if cache_hit is None else int(cache_hit),
            ip,
        ),
    )
