"""The JSON API's plumbing: a route table, Bearer-key authentication, JSON errors.

Every route names the key scope it needs (`read`, `write`, `admin`; None for public
routes). A handler gets a `Call` and returns (status, body); it raises `ApiError` for
anything the caller got wrong, which becomes `{"error": {"status", "message"}}` with
that status. Anything else is our fault: logged with its traceback, answered with a
plain 500 that leaks nothing.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from sequenzia.authware.access import Authenticator, Identity
from sequenzia.authware.keys import SCOPES
from sequenzia.authware.sessions import COOKIE
from sequenzia.web.jsonresponse import write_json

MAX_BODY = 1024 * 1024


class ApiError(Exception):
    """A request the API refuses: its status and a sentence for the caller."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Call:
    """One API request as a handler sees it."""

    request: Request
    params: dict[str, str]
    identity: Identity | None
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def who(self) -> Identity:
        """The caller (routes that need no key have none: do not ask there)."""
        if self.identity is None:
            raise ApiError(401, "this needs a key or a session")
        return self.identity

    def query(self, name: str) -> str | None:
        values = self.request.args.get(name.encode())
        return values[-1].decode("utf-8", "replace") if values else None

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.query(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise ApiError(
                400, f"query parameter '{name}' must be a whole number from {low} to {high}"
            )
        return int(raw)

    def param_id(self, name: str) -> int:
        raw = self.params[name]
        if not raw.isdigit() or len(raw) > 20 or int(raw) >= 2**63:
            raise ApiError(
                400, f"'{name}' in the path must be an id (a whole number), not {raw[:40]!r}"
            )
        return int(raw)

    def body(self) -> dict[str, Any]:
        """The request's JSON object (an empty body is an empty object)."""
        content = self.request.content
        raw = content.read(MAX_BODY + 1) if content is not None else b""
        if len(raw) > MAX_BODY:
            raise ApiError(413, f"the request body is over {MAX_BODY} bytes")
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, f"the request body is not valid JSON ({e})") from None
        if not isinstance(value, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return value


Handler = Callable[[Call], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # "/records/{eid}/move"
    handler: Handler
    scope: str | None
    summary: str
    body: dict[str, Any] | None = None  # JSON schema of the request body, for the OpenAPI document

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        pattern = self.path.strip("/").split("/")
        if len(pattern) != len(segments):
            return None
        params = {}
        for want, got in zip(pattern, segments, strict=True):
            if want.startswith("{"):
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params


_BEARER = re.compile(r"^Bearer\s+(\S+)$", re.IGNORECASE)


class ApiResource(Resource):
    """`/api/v1/...`: dispatches to the route table."""

    isLeaf = True
    log = Logger()

    def __init__(self, routes: list[Route], authenticator: Authenticator) -> None:
        super().__init__()
        self.routes = routes
        self._auth = authenticator

    def render(self, request: Request) -> Any:
        d = defer.ensureDeferred(self._handle(request))
        d.addErrback(lambda f: self.log.failure("API response failed", f))
        return NOT_DONE_YET

    def _resolve(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]]:
        allowed = []
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.method == method:
                return route, params
            allowed.append(route.method)
        if allowed:
            raise ApiError(
                405,
                f"{method} is not allowed here; use {', '.join(sorted(set(allowed)))}",
                {"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise ApiError(404, "no such API endpoint; /api/v1/openapi.json lists them")

    async def _authenticate(self, request: Request, scope: str | None) -> Identity | None:
        if scope is None:
            return None
        header = request.getHeader("authorization")
        cookie = request.getCookie(COOKIE.encode())
        challenge = {"WWW-Authenticate": 'Bearer realm="sequenzia"'}
        if not header and not cookie:
            raise ApiError(
                401, "this endpoint needs 'Authorization: Bearer KEY' or a login session", challenge
            )
        if header and not _BEARER.match(header.strip()):
            raise ApiError(401, "the Authorization header must be 'Bearer KEY'", challenge)
        identity = await self._auth.identify(
            header, cookie.decode("ascii", "replace") if cookie else None
        )
        if identity is None:
            what = (
                "key is not valid (unknown or revoked)"
                if header
                else "session has ended; log in again"
            )
            raise ApiError(401, f"the {what}", challenge)
        if not SCOPES.index(identity.scope) >= SCOPES.index(scope):
            raise ApiError(403, f"this key's scope is '{identity.scope}'; this needs '{scope}'")
        if identity.via == "session" and request.method not in (b"GET", b"HEAD"):
            # a cookie rides along with any site's request: prove this one comes from our pages
            sent = request.getHeader("x-csrf-token") or ""
            if not identity.csrf_token or not hmac.compare_digest(sent, identity.csrf_token):
                raise ApiError(403, "missing or wrong X-CSRF-Token header for this session")
        return identity

    async def _handle(self, request: Request) -> None:
        method = request.method.decode("ascii", "replace")
        segments = [s.decode("utf-8", "replace") for s in request.postpath or []]
        if segments and segments[-1] == "":
            segments.pop()
        headers: dict[str, str] = {}
        try:
            route, params = self._resolve(method, segments)
            identity = await self._authenticate(request, route.scope)
            call = Call(request, params, identity)
            status, body = await route.handler(call)
            headers = call.response_headers
        except ApiError as e:
            status, body, headers = (
                e.status,
                {"error": {"status": e.status, "message": e.message}},
                e.headers,
            )
        except Exception:
            self.log.failure("API {method} /{path} failed", method=method, path="/".join(segments))
            status, body = (
                500,
                {
                    "error": {
                        "status": 500,
                        "message": "internal error; the server log has the details",
                    }
                },
            )
        if request._disconnected:
            return
        for name, value in headers.items():
            request.setHeader(name, value)
        request.write(write_json(request, status, body))
        request.finish()
