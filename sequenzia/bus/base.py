"""The bus interface and topic matching."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

from twisted.internet import defer

Handler = Callable[[str, dict[str, Any]], "defer.Deferred[Any] | None"]
_WORD = re.compile(r"^[A-Za-z0-9_\-]+$")


class Subscription(Protocol):
    def stop(self) -> None:
        """No more messages reach the handler."""


class Bus(Protocol):
    def publish(self, topic: str, message: dict[str, Any]) -> defer.Deferred[None]:
        """Send `message` to every subscriber whose pattern matches `topic`.

        The Deferred fires once the bus has accepted the message (in-process: handed to the
        handlers; RabbitMQ: confirmed by the broker).
        """
        ...

    def subscribe(self, pattern: str, handler: Handler) -> Subscription:
        """Call `handler(topic, message)` for each message whose topic matches `pattern`."""
        ...


def check_topic(topic: str, *, pattern: bool = False) -> None:
    words = topic.split(".")
    for w in words:
        if pattern and w in ("*", "#"):
            continue
        if not _WORD.match(w):
            raise ValueError(f"bad bus {'pattern' if pattern else 'topic'} {topic!r}: word {w!r}")


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for w in pattern.split("."):
        if w == "*":
            parts.append(r"[^.]+")
        elif w == "#":
            parts.append(r"#")
        else:
            parts.append(re.escape(w))
    regex = r"\.".join(parts)
    # '#' matches zero or more words, with the dots around it.
    regex = (
        regex.replace(r"\.#\.", r"(?:\..+)?\.")
        .replace(r"\.#", r"(?:\..+)?")
        .replace(r"#\.", r"(?:.+\.)?")
    )
    regex = regex.replace("#", ".*")
    return re.compile(f"^{regex}$")


def topic_matches(pattern: str, topic: str) -> bool:
    """AMQP topic matching: `*` is exactly one word, `#` zero or more."""
    return _compile(pattern).match(topic) is not None
