"""`--limit-rate`: a token bucket shared by every thread that sends or receives bytes."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_rate(raw: str) -> int:
    """Bytes per second from `500k`, `2M`, `1.5m` or `1048576`; ValueError if unreadable."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:/s)?\s*", raw.lower())
    if not match:
        raise ValueError(f"{raw!r} is not a rate such as 500k or 2M (bytes per second)")
    rate = int(float(match.group(1)) * UNITS[match.group(2)])
    if rate <= 0:
        raise ValueError(f"{raw!r} is not a positive rate")
    return rate


class RateLimit:
    """At most `rate` bytes per second on average, in bursts of at most a quarter second."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._burst = max(1, rate // 4)
        self._tokens = float(self._burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def delay_for(self, n: int) -> float:
        """Take `n` bytes' worth; the seconds the caller must wait before sending them."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= n  # may go negative: the debt is the wait
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
