"""The in-process bus of the embedded setup: handlers run on the reactor, in publish order."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from sequenzia.bus.base import Handler, check_topic, topic_matches


class _LocalSubscription:
    def __init__(self, bus: LocalBus, pattern: str, handler: Handler) -> None:
        self.pattern = pattern
        self.handler = handler
        self._bus = bus

    def stop(self) -> None:
        self._bus._subscriptions.discard(self)


class LocalBus:
    """Delivers each message to the matching handlers of this process.

    A handler's failure is logged and does not stop delivery to the others; a handler that
    returns a Deferred is waited for before `publish`'s Deferred fires, so callers that need
    "handled" get it.
    """

    log = Logger()

    def __init__(self) -> None:
        self._subscriptions: set[_LocalSubscription] = set()

    def subscribe(self, pattern: str, handler: Handler) -> _LocalSubscription:
        check_topic(pattern, pattern=True)
        subscription = _LocalSubscription(self, pattern, handler)
        self._subscriptions.add(subscription)
        return subscription

    def publish(self, topic: str, message: dict[str, Any]) -> defer.Deferred[None]:
        check_topic(topic)
        waits = []
        for sub in list(self._subscriptions):
            if topic_matches(sub.pattern, topic):
                d = defer.maybeDeferred(sub.handler, topic, message)
                d.addErrback(self._handler_failed, topic, sub.pattern)
                waits.append(d)
        return defer.gatherResults(waits).addCallback(lambda _: None)

    def _handler_failed(self, failure: Any, topic: str, pattern: str) -> None:
        self.log.failure(
            "bus handler for {pattern} failed on {topic}", failure, pattern=pattern, topic=topic
        )

    def ping(self) -> defer.Deferred[None]:
        """Readiness: the in-process bus is always there."""
        return defer.succeed(None)
