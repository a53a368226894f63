"""The audit log of reads: who, what, when, how many bytes, cache hit or miss."""

from __future__ import annotations

import time
from typing import Any

from sequenzia.authware.keys import KeyGrant


def record_read(
    txn: Any, grant: KeyGrant, eid: int, size: int, cache_hit: bool | None, ip: str | None
) -> None:
    txn.execute(
        "INSERT INTO audit_log (ts, user_id, key_id, action, eid, bytes, cache_hit, ip)"
        " VALUES (?, ?, ?, 'read', ?, ?, ?, ?)",
        (
            int(time.time() * 1000),
            grant.user_id,
            grant.key_id,
            eid,
            size,
            None if cache_hit is None else int(cache_hit),
            ip,
        ),
    )
