"""Background work of the io role repeated on a clock (URL renewal, colour sampling)."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, task
from twisted.logger import Logger


class Periodic:
    """Runs `run_now()` every `interval_s` seconds, from `start()` (at once) to `stop()`.

    A failed run is logged as a warning naming `what`; the next one comes as usual.
    """

    log = Logger()
    what = "background work"

    def __init__(self, clock: Any, interval_s: float) -> None:
        self._clock = clock
        self._interval_s = interval_s
        self._loop: task.LoopingCall | None = None
        self._stopped: defer.Deferred[Any] | None = None

    def run_now(self) -> defer.Deferred[int]:
        raise NotImplementedError

    def start(self) -> None:
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self._clock
        self._stopped = self._loop.start(self._interval_s, now=True)

    def stop(self) -> defer.Deferred[None]:
        """Stop the clock; fires once a run under way (if any) has ended."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        stopped, self._stopped = self._stopped, None
        if stopped is None:
            return defer.succeed(None)
        ended: defer.Deferred[None] = defer.Deferred()
        stopped.addBoth(lambda _: ended.callback(None))
        return ended

    def _tick(self) -> defer.Deferred[int]:
        d = self.run_now()
        d.addErrback(
            lambda f: self.log.warn(
                "{what} failed: {error}", what=self.what, error=f.getErrorMessage()
            )
        )
        return d
