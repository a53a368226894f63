"""A circuit breaker for invalid requests (rate-limits.mdx: 10,000 401/403/429 answers in
10 minutes earn an IP ban). When they climb past a threshold far below that, sending stops
for a cool-down, loudly, instead of digging deeper."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.logger import Logger

INVALID = (401, 403, 429)


class InvalidRequestBreaker:
    log = Logger()

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        threshold: int = 1000,
        window_s: float = 600.0,
        cool_down_s: float = 60.0,
    ) -> None:
        self._clock = clock
        self._threshold = threshold
        self._window_s = window_s
        self._cool_down_s = cool_down_s
        self._events: deque[float] = deque()
        self._open_until = 0.0

    def record(self, status: int | None) -> None:
        if status not in INVALID:
            return
        now = self._clock()
        self._events.append(now)
        while self._events and self._events[0] < now - self._window_s:
            self._events.popleft()
        if len(self._events) >= self._threshold and not self.open:
            self._open_until = now + self._cool_down_s
            self.log.error(
                "{n} invalid requests (401/403/429) in {w:.0f} s: not sending for {c:.0f} s",
                n=len(self._events),
                w=self._window_s,
                c=self._cool_down_s,
            )

    @property
    def open(self) -> bool:
        """True while sending is stopped."""
        return self._clock() < self._open_until
