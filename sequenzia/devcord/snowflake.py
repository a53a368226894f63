"""Discord ids: 42 bits of ms since 2015-01-01, 5 + 5 bits of worker/process, 12 of increment."""

from __future__ import annotations

import time
from collections.abc import Callable

DISCORD_EPOCH_MS = 1420070400000


class Snowflakes:
    """Monotonic snowflake generator (ids also order messages, so they must only grow)."""

    def __init__(self, worker: int = 1, now_ms: Callable[[], int] | None = None) -> None:
        self._worker = worker & 0x3FF
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._last = 0

    def next(self) -> int:
        candidate = ((self._now_ms() - DISCORD_EPOCH_MS) << 22) | (self._worker << 12)
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate

    def seen(self, snowflake: int) -> None:
        """After a restart: never hand out an id at or below one already used."""
        self._last = max(self._last, snowflake)


def timestamp_iso(snowflake: int) -> str:
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}000+00:00"
