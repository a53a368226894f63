"""Discord's rate limits (rate-limits.mdx): per-route buckets and a global limit.

A route's bucket is shared per top-level resource (channel, guild, webhook): the same
route on two channels has two independent buckets. Every answer carries the
`X-RateLimit-*` headers; a request over a limit gets 429 with `Retry-After`, a JSON body
(`message`, `retry_after`, `global`) and `X-RateLimit-Scope`. Windows are fixed: a bucket
refills entirely `per` seconds after its first request.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def _ms_up(seconds: float) -> float:
    """Rounded up to the millisecond: a client that waits what the headers say must
    find the bucket reset, never a millisecond early (that would earn it a 429)."""
    return math.ceil(seconds * 1000) / 1000


@dataclass(frozen=True)
class Rule:
    limit: int
    per: float  # seconds


@dataclass
class RateLimitConfig:
    enabled: bool = True
    global_rule: Rule = Rule(50, 1.0)
    # (method, route template) → rule; others get `default`
    routes: dict[tuple[str, str], Rule] = field(
        default_factory=lambda: {
            ("POST", "/channels/{channel_id}/messages"): Rule(5, 5.0),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}"): Rule(5, 2.0),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}"): Rule(5, 1.0),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}"): Rule(5, 5.0),
            ("POST", "/channels/{channel_id}/messages/bulk-delete"): Rule(1, 1.0),
        }
    )
    default: Rule = Rule(50, 1.0)


@dataclass
class Window:
    limit: int
    per: float
    reset_at: float = 0.0
    used: int = 0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]
    retry_after: float = 0.0
    is_global: bool = False
    scope: str = "user"


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._buckets: dict[tuple[str, str], Window] = {}
        self._global: dict[str, Window] = {}
        self.storm_until = 0.0  # fault: every request gets 429 until then

    def _window(self, store: dict, key, rule: Rule, now: float) -> Window:
        w = store.get(key)
        if w is None or now >= w.reset_at:
            w = Window(rule.limit, rule.per, reset_at=now + rule.per)
            store[key] = w
        return w

    def check(self, token: str, method: str, route: str, major: str) -> Verdict:
        """Count one request; the headers to send, and whether it may go through."""
        now = self._clock()
        rule = self.config.routes.get((method, route), self.config.default)
        bucket_hash = hashlib.sha1(f"{method} {route}".encode()).hexdigest()[:16]
        if now < self.storm_until:
            return self._limited(
                Window(rule.limit, rule.per, reset_at=self.storm_until, used=rule.limit),
                bucket_hash,
                now,
                is_global=False,
                scope="shared",
            )
        if not self.config.enabled:
            return Verdict(True, {})
        g = self._window(self._global, token, self.config.global_rule, now)
        if g.used >= g.limit:
            return self._limited(g, bucket_hash, now, is_global=True, scope="global")
        w = self._window(self._buckets, (bucket_hash, f"{token}:{major}"), rule, now)
        if w.used >= w.limit:
            return self._limited(w, bucket_hash, now, is_global=False, scope="user")
        g.used += 1
        w.used += 1
        return Verdict(True, self._headers(w, bucket_hash, now))

    def _headers(self, w: Window, bucket_hash: str, now: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(w.limit),
            "X-RateLimit-Remaining": str(max(0, w.limit - w.used)),
            "X-RateLimit-Reset": f"{_ms_up(w.reset_at):.3f}",
            "X-RateLimit-Reset-After": f"{_ms_up(max(0.0, w.reset_at - now)):.3f}",
            "X-RateLimit-Bucket": bucket_hash,
        }

    def _limited(
        self, w: Window, bucket_hash: str, now: float, *, is_global: bool, scope: str
    ) -> Verdict:
        retry_after = max(0.001, w.reset_at - now)
        headers = {} if is_global else self._headers(w, bucket_hash, now)
        headers.update(
            {
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Scope": scope,
                # Without Via, discord.py takes a 429 for a Cloudflare ban (NOTES.md).
                "Via": "1.1 google",
            }
        )
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        return Verdict(
            False, headers, retry_after=_ms_up(retry_after), is_global=is_global, scope=scope
        )


class InvalidRequestCounter:
    """Discord counts 401, 403 and 429 answers: 10,000 per 10 minutes earns a ban."""

    def __init__(self, clock: Callable[[], float] = time.time, window: float = 600.0) -> None:
        self._clock = clock
        self._window = window
        self._events: list[float] = []

    def record(self, status: int) -> None:
        if status in (401, 403, 429):
            self._events.append(self._clock())

    def count(self) -> int:
        cutoff = self._clock() - self._window
        self._events = [t for t in self._events if t >= cutoff]
        return len(self._events)
