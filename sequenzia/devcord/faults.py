"""Fault injection: the failures Discord shows in the wild, switchable at run time.

From tests through this object, or over HTTP (`POST /_devcord/faults` with the admin
token from devcord.json; see `AdminFaults`). Every switch is bounded (a count or a
duration) so a forgotten fault cannot poison the rest of a run.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request


@dataclass
class RestFault:
    pattern: re.Pattern[str]
    status: int
    remaining: int
    method: str | None = None


@dataclass
class Faults:
    clock: Callable[[], float] = time.time
    rest: list[RestFault] = field(default_factory=list)
    cdn_delay_s: float = 0.0
    cdn_truncate_at: int | None = None
    cdn_reads_affected: int = 0
    received_429: int = 0
    on_drop_gateway: Callable[[], None] = lambda: None
    on_stall_gateway: Callable[[float], None] = lambda seconds: None
    on_storm: Callable[[float], None] = lambda seconds: None

    def fail_route(
        self, pattern: str, status: int = 500, count: int = 1, method: str | None = None
    ) -> None:
        """The next `count` REST calls whose path matches `pattern` answer `status`."""
        if not 500 <= status <= 599:
            raise ValueError("a route fault is a 5xx status")
        self.rest.append(RestFault(re.compile(pattern), status, count, method))

    def rest_fault(self, method: str, path: str) -> int | None:
        for fault in self.rest:
            if (
                fault.remaining > 0
                and (fault.method in (None, method))
                and fault.pattern.search(path)
            ):
                fault.remaining -= 1
                return fault.status
        self.rest = [f for f in self.rest if f.remaining > 0]
        return None

    def storm(self, seconds: float) -> None:
        """Every REST call answers 429 (shared scope) for `seconds`."""
        self.on_storm(seconds)

    def count_429(self) -> None:
        self.received_429 += 1

    def slow_cdn(self, seconds: float, reads: int = 1) -> None:
        self.cdn_delay_s, self.cdn_reads_affected = seconds, reads

    def truncate_cdn(self, at_bytes: int, reads: int = 1) -> None:
        self.cdn_truncate_at, self.cdn_reads_affected = at_bytes, reads

    def take_cdn_fault(self) -> tuple[float, int | None]:
        """The delay and truncation for this CDN read (and count it)."""
        if self.cdn_reads_affected <= 0:
            return 0.0, None
        self.cdn_reads_affected -= 1
        delay, cut = self.cdn_delay_s, self.cdn_truncate_at
        if self.cdn_reads_affected == 0:
            self.cdn_delay_s, self.cdn_truncate_at = 0.0, None
        return delay, cut

    def drop_gateway(self) -> None:
        """Close every gateway connection abruptly (clients should RESUME)."""
        self.on_drop_gateway()

    def stall_gateway(self, seconds: float) -> None:
        """Open gateway connections send nothing (no events, no heartbeat ACKs) for `seconds`."""
        self.on_stall_gateway(seconds)


class AdminFaults(Resource):
    """`POST /_devcord/faults` `{"fault": name, ...arguments}`; Bearer admin token."""

    isLeaf = True

    def __init__(self, admin_token: str, apply: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        super().__init__()
        self._token = admin_token
        self._apply = apply

    def render_POST(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", b"application/json")
        if (request.getHeader("authorization") or "") != f"Bearer {self._token}":
            request.setResponseCode(401)
            return b'{"message": "401: Unauthorized", "code": 0}'
        try:
            body = json.loads((request.content.read() if request.content else b"") or b"{}")
            if not isinstance(body, dict) or not isinstance(body.get("fault"), str):
                raise ValueError('expected {"fault": NAME, ...}')
            result = self._apply(body)
        except (ValueError, TypeError, KeyError) as e:
            request.setResponseCode(400)
            return json.dumps({"message": str(e), "code": 50035}).encode()
        return json.dumps({"ok": True, **result}).encode()
