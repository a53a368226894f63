"""`GET /healthz` (the process answers) and `GET /readyz` (its dependencies answer).

Readiness checks are named callables returning a Deferred that fires (ready) or fails
(not ready, with the reason). The service wiring decides which exist: the database now,
the bus and the Discord gateway in later issues.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from sequenzia.web.jsonresponse import write_json

ReadinessCheck = Callable[[], "defer.Deferred[Any]"]


class Healthz(Resource):
    isLeaf = True

    def __init__(self, started: float) -> None:
        super().__init__()
        self._started = started

    def render_GET(self, request: Request) -> bytes:
        return write_json(
            request, 200, {"status": "ok", "uptime_s": round(time.time() - self._started, 3)}
        )

    def render_HEAD(self, request: Request) -> bytes:
        return self.render_GET(request)


class Readyz(Resource):
    isLeaf = True
    log = Logger()

    def __init__(
        self, checks: Mapping[str, ReadinessCheck], clock: IReactorTime, timeout: float = 5.0
    ) -> None:
        super().__init__()
        self._checks = checks
        self._clock = clock
        self._timeout = timeout

    async def _run_check(self, name: str, check: ReadinessCheck) -> dict[str, Any]:
        started = time.monotonic()
        try:
            d = defer.maybeDeferred(check)
            d.addTimeout(self._timeout, self._clock)
            await d
        except defer.TimeoutError:
            return {"name": name, "ok": False, "error": f"no answer within {self._timeout:g} s"}
        except Exception as e:
            return {"name": name, "ok": False, "error": str(e) or type(e).__name__}
        return {"name": name, "ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}

    async def _render(self, request: Request) -> None:
        results = await defer.gatherResults(
            [defer.ensureDeferred(self._run_check(n, c)) for n, c in self._checks.items()]
        )
        ready = all(r["ok"] for r in results)
        if not ready:
            self.log.warn("not ready: {failing}", failing=[r for r in results if not r["ok"]])
        body = write_json(
            request,
            200 if ready else 503,
            {"status": "ready" if ready else "not ready", "checks": results},
        )
        if not request.finished and not request._disconnected:
            request.write(body)
            request.finish()

    def render_GET(self, request: Request) -> int:
        d = defer.ensureDeferred(self._render(request))
        d.addErrback(lambda f: self.log.failure("readyz failed", f))
        return NOT_DONE_YET
