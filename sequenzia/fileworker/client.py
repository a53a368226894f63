"""HTTP to a Sequenzia server: Bearer key, one kept-alive connection per thread, retries.

A failure worth another try (a lost connection, a timeout, 408/429/5xx) is retried with
exponential backoff and jitter, honouring Retry-After. One exception: when the very first
request cannot even connect, the server is taken to be down or mistyped and the command
fails at once instead of backing off for a minute. Any other error status becomes
`Refused` with the server's own message; 401/403 become `Misuse` (the key is wrong, or
may not do this).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from sequenzia.fileworker.access import ServerAccess
from sequenzia.fileworker.errors import Cancelled, Misuse, Refused, TransferFailed

T = TypeVar("T")
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5

Body = bytes | Callable[[], Iterable[bytes]] | None
"""A request body: bytes, or a function giving the chunks anew for each attempt."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to try again."""

    attempts: int = 8  # tries in all; 1 means no retry
    first_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure (1-based): doubling, jittered."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** (failures - 1))
        # jitter spreads the retries of parallel part uploads so they do not stampede
        return ceiling * random.uniform(0.5, 1.0)


class TransientError(Exception):
    """A failure that another try may not meet."""

    def __init__(self, reason: str, *, connecting: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.connecting = connecting  # no connection could be made at all
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reply:
    """A whole response: status, headers and body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except ValueError:
            raise TransferFailed(
                f"the server answered {self.status} with something that is not JSON"
            ) from None
        if not isinstance(value, dict):
            raise TransferFailed(f"the server answered {self.status} with unexpected JSON")
        return value


def describe(error: BaseException) -> str:
    """A short reason for a network error, for messages."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, http.client.IncompleteRead):
        return f"connection lost after {len(error.partial)} bytes of the body"
    if isinstance(error, http.client.RemoteDisconnected):
        return "the server closed the connection"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


def _error_message(status: int, reason: str, body: bytes) -> str:
    try:
        message = json.loads(body)["error"]["message"]
        if isinstance(message, str) and message:
            return message
    except (ValueError, KeyError, TypeError):
        pass
    return f"HTTP {status} {reason}".strip()


def _retry_after(headers: http.client.HTTPMessage) -> float | None:
    raw = headers.get("Retry-After")
    try:
        return min(60.0, max(0.0, float(raw))) if raw else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class Stream:
    """An open response whose body is read by the caller; close it when done."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse):
        self._connection = connection
        self.response = response
        self.status = response.status
        self.headers = response.headers

    def read(self, size: int) -> bytes:
        try:
            return self.response.read(size)
        except (OSError, http.client.HTTPException) as e:
            raise TransientError(describe(e)) from e

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ApiClient:
    """Requests to one server with one key; safe to share between threads."""

    def __init__(
        self,
        access: ServerAccess,
        *,
        retry: RetryPolicy | None = None,
        cancel: threading.Event | None = None,
        timeout: float = 120.0,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.access = access
        self.retry = retry or RetryPolicy()
        self.cancel = cancel or threading.Event()
        self._timeout = timeout
        self._on_retry = on_retry
        self._base = urlsplit(access.url)
        self._local = threading.local()
        self._contacted = False

    def absolute(self, path: str) -> str:
        """The full URL of a server path such as `/f/1/a.bin`."""
        return self.access.url + path

    def _new_connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=self._timeout)
        return http.client.HTTPConnection(netloc, timeout=self._timeout)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_connection(self._base.scheme, self._base.netloc)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _send(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        body: Body,
        headers: Mapping[str, str],
    ) -> http.client.HTTPResponse:
        payload = body() if callable(body) else body
        try:
            conn.request(method, target, body=payload, headers=dict(headers))
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            connecting = conn.sock is None  # the connection itself failed, nothing was sent
            conn.close()
            raise TransientError(describe(e), connecting=connecting) from e
        except BaseException:
            conn.close()  # half a request went out (Cancelled, Ctrl-C): never reuse it
            raise

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.access.key}",
            "User-Agent": "sequenzia-fileworker",
            **(extra or {}),
        }

    def _check(
        self, status: int, reason: str, headers: http.client.HTTPMessage, body: bytes
    ) -> None:
        if status in TRANSIENT_STATUSES:
            raise TransientError(
                f"{_error_message(status, reason, body)} (HTTP {status})",
                retry_after=_retry_after(headers),
            )
        if status == 401:
            raise Misuse(
                f"the server at {self.access.url} refused the key: {_error_message(status, reason, body)}"
            )
        if status == 403:  # the key is good but may not do this (scope, channel permission)
            raise Misuse(_error_message(status, reason, body))
        if status >= 400:
            raise Refused(status, _error_message(status, reason, body))

    def _once(self, method: str, path: str, body: Body, headers: Mapping[str, str] | None) -> Reply:
        conn = self._connection()
        response = self._send(conn, method, self._base.path + path, body, self._headers(headers))
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            self._drop_connection()
            raise TransientError(describe(e)) from e
        if response.will_close:
            self._drop_connection()
        self._contacted = True
        self._check(response.status, response.reason, response.headers, data)
        return Reply(response.status, response.headers, data)

    def sleep(self, seconds: float) -> None:
        """Wait, unless the user interrupts (then Cancelled)."""
        if self.cancel.wait(seconds):
            raise Cancelled("interrupted")

    def retrying(self, what: str, attempt: Callable[[], T]) -> T:
        """Run `attempt` until it returns, retrying on TransientError with backoff."""
        failures = 0
        while True:
            if self.cancel.is_set():
                raise Cancelled("interrupted")
            try:
                return attempt()
            except TransientError as e:
                failures += 1
                if e.connecting and not self._contacted:
                    raise TransferFailed(
                        f"cannot reach the server at {self.access.url}: {e.reason}"
                    ) from None
                if failures >= self.retry.attempts:
                    tries = "once" if failures == 1 else f"{failures} times"
                    raise TransferFailed(f"{what} failed {tries}; last: {e.reason}") from None
                delay = e.retry_after if e.retry_after is not None else self.retry.delay(failures)
                if self._on_retry is not None:
                    self._on_retry(f"{what}: {e.reason}; trying again in {delay:.1f} s")
                self.sleep(delay)

    def request(
        self,
        method: str,
        path: str,
        body: Body = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One API call (path from the server root, e.g. `/api/v1/uploads`), with retries."""
        return self.retrying(
            f"{method} {path.split('?')[0]}", lambda: self._once(method, path, body, headers)
        )

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, dict[str, Any]]:
        """A JSON API call under `/api/v1`: (status, decoded body)."""
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        reply = self.request(method, "/api/v1" + path, body, headers)
        return reply.status, reply.json()

    def open(self, path: str, headers: Mapping[str, str] | None = None) -> Stream:
        """GET a server path and return the response unread, following redirects.

        The key goes only to the server's own origin: a redirect to a CDN elsewhere is
        followed without it. Errors are raised as for `request`; a lost connection is a
        TransientError for the caller to retry (it knows where to resume).
        """
        url = self.access.url + path
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            own = (parts.scheme, parts.netloc) == (self._base.scheme, self._base.netloc)
            sent = self._headers(headers) if own else dict(headers or {})
            conn = self._new_connection(parts.scheme, parts.netloc)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            response = self._send(conn, "GET", target, None, sent)
            self._contacted = True
            if response.status in REDIRECTS and response.headers.get("Location"):
                conn.close()
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status >= 400:
                try:
                    data = response.read(64 * 1024)
                except (OSError, http.client.HTTPException):
                    data = b""
                conn.close()
                self._check(response.status, response.reason, response.headers, data)
            return Stream(conn, response)
        raise TransferFailed(f"more than {MAX_REDIRECTS} redirects from {self.access.url + path}")

    def close(self) -> None:
        """Close this thread's kept-alive connection."""
        self._drop_connection()
