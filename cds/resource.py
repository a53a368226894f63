"""`GET /f/<eid>/<name>`: authorise, audit, then serve a record's file.

- An ordinary attachment: a redirect (302) to its signed CDN URL, renewed first if it
  is about to expire.
- A spanned file in the cache: `X-Accel-Redirect` to Nginx's internal location when
  `cds.accel` is on, else the file itself (Range, HEAD, conditional GET by twisted.web).
- A spanned file not cached: assembled (one assembly shared by concurrent readers) and
  streamed while it is written; a Range request waits for the assembly, then is served as
  cached. The stream follows the client's pace (the request's producer is paused while
  the transport's buffer is full), so a slow reader costs the server one chunk, not the file. A part that cannot be had is a 502 naming it before the first byte, or a cut
  connection after it (the Content-Length then tells the client), never wrong bytes.

A reader authenticates with `Authorization: Bearer KEY` or a login session, and must be
able to read the record's channel (else 404: a link does not reveal what it hides).
"""

from __future__ import annotations

import mimetypes
import os
import time
from typing import Any
from urllib.parse import quote

from twisted.internet import defer, threads
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.web import static
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from cds.assembly import Assembler, Assembly
from cds.audit import record_read
from cds.cache import SpanCache
from sequenzia.authware.access import Authenticator, Identity
from sequenzia.authware.sessions import COOKIE
from sequenzia.junefs import store
from sequenzia.spans import store as spans
from sequenzia.web.jsonresponse import write_json

CHUNK = 256 * 1024

URL_MARGIN_MS = 60_000


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def disposition(name: str, download: bool) -> str:
    kind = "attachment" if download else "inline"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


@implementer(IPushProducer)
class Pace:
    """The client's pace: the transport pauses this producer while its buffer is full.

    `ready()` fires at once while the transport takes more, else on resume or on stop (a
    lost connection), so the writer never waits for good.
    """

    def __init__(self) -> None:
        self.paused = False
        self.stopped = False
        self._waiting: list[defer.Deferred[None]] = []

    def ready(self) -> defer.Deferred[None]:
        if not self.paused or self.stopped:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiting.append(waiter)
        return waiter

    def _release(self) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.callback(None)

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._release()

    def stopProducing(self) -> None:
        self.stopped = True
        self._release()


class FileResource(Resource):
    isLeaf = True
    log = Logger()

    def __init__(
        self,
        database: Any,
        authenticator: Authenticator,
        cache: SpanCache,
        assembler: Assembler,
        refresh_record: Any,
        *,
        accel: bool,
    ) -> None:
        super().__init__()
        self._db = database
        self._auth = authenticator
        self._cache = cache
        self._assembler = assembler
        self._refresh_record = refresh_record
        self._accel = accel

    def render_GET(self, request: Request) -> Any:
        d = defer.ensureDeferred(self._serve(request))
        d.addErrback(lambda f: self.log.failure("serving {uri} failed", f, uri=request.uri))
        return NOT_DONE_YET

    render_HEAD = render_GET

    async def _serve(self, request: Request) -> None:
        try:
            await self._answer(request)
        except Refused as e:
            if request.startedWriting or request._disconnected:
                return
            for name, value in e.headers.items():
                request.setHeader(name, value)
            request.write(
                write_json(request, e.status, {"error": {"status": e.status, "message": e.message}})
            )
            request.finish()
        except Exception:
            self.log.failure("/f/ failed")
            if not request.startedWriting and not request._disconnected:
                request.write(
                    write_json(
                        request, 500, {"error": {"status": 500, "message": "internal error"}}
                    )
                )
                request.finish()
            elif not request._disconnected:
                request.loseConnection()

    async def _identity(self, request: Request) -> Identity:
        header = request.getHeader("authorization")
        cookie = request.getCookie(COOKIE.encode())
        challenge = {"WWW-Authenticate": 'Bearer realm="sequenzia"'}
        if not header and not cookie:
            raise Refused(
                401, "this link needs 'Authorization: Bearer KEY' or a login session", challenge
            )
        identity = await self._auth.identify(
            header, cookie.decode("ascii", "replace") if cookie else None
        )
        if identity is None:
            raise Refused(
                401, "the key or session is not valid (unknown, revoked or ended)", challenge
            )
        return identity

    async def _answer(self, request: Request) -> None:
        path = [s.decode("utf-8", "replace") for s in request.postpath or []]
        if len(path) != 2 or not path[0].isdigit() or len(path[0]) > 20:
            raise Refused(404, "a file link is /f/<eid>/<name>")
        who = await self._identity(request)
        eid = int(path[0])
        record = await self._db.runInteraction("record", store.record_by_eid, eid)
        if (
            record is None
            or record["kind"] not in ("file", "spanned")
            or not who.can_read(int(record["channel_id"]))
        ):
            raise Refused(404, f"there is no file {eid}")
        download = request.args.get(b"download") == [b"1"]
        preview = request.args.get(b"preview") == [b"1"] and record["kind"] == "spanned"
        if record["kind"] == "file" or (preview and record["attachment_name"]):
            url = await self._fresh_url(record)
            await self._audit(request, who, eid, int(record["attachment_size"] or 0), None)
            request.setResponseCode(302)
            request.setHeader("Location", url)
            request.setHeader("Cache-Control", "private, no-store")
            request.finish()
            return
        header = await self._db.runInteraction("file", spans.spanned_file, str(record["file_id"]))
        if header is None or header["state"] != "complete":
            raise Refused(404, f"file {eid} is not (or no longer) complete")
        name = str(header["name"])
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        cached = await threads.deferToThread(self._cache.lookup, str(header["id"]))
        await self._audit(request, who, eid, int(header["size"]), cached is not None)
        request.setHeader("Content-Disposition", disposition(name, download))
        request.setHeader("Cache-Control", "private, max-age=3600")
        if cached is None:
            assembly = self._assembler.assemble(header)
            if request.getHeader("range") or request.method == b"HEAD":
                cached = await self._finished(assembly)
            else:
                await self._stream(request, assembly, ctype)
                return
        self._send_cached(request, str(header["id"]), cached, ctype)

    async def _fresh_url(self, record: dict[str, Any]) -> str:
        row = await self._db.runInteraction("url", _record_url, int(record["eid"]))
        if row is None:
            raise Refused(404, f"file {record['eid']} has no attachment URL")
        url, expires = row
        if int(expires or 0) < int(time.time() * 1000) + URL_MARGIN_MS:
            await self._refresh_record(int(record["eid"]))
            row = await self._db.runInteraction("url", _record_url, int(record["eid"]))
            url = row[0] if row else url
        return str(url)

    async def _finished(self, assembly: Assembly) -> Any:
        while not assembly.finished:
            await assembly.wait_beyond(assembly.size)
        if assembly.error is not None:
            raise Refused(502, str(assembly.error))
        return assembly.result

    def _send_cached(self, request: Request, file_id: str, path: Any, ctype: str) -> None:
        if self._accel:
            request.setHeader("Content-Type", ctype)
            request.setHeader("X-Accel-Redirect", self._cache.internal_path(file_id))
            # No body, said so: Twisted would otherwise send an empty chunked body, which
            # Nginx does not read after a redirect, so it closed the upstream connection
            # each time instead of keeping it alive for the next request.
            request.setHeader("Content-Length", "0")
            request.finish()
            return
        resource = static.File(str(path), defaultType=ctype)
        resource.type, resource.encoding = ctype, None
        body = resource.render(request)
        if body is not NOT_DONE_YET:
            request.write(body)
            request.finish()

    async def _stream(self, request: Request, assembly: Assembly, ctype: str) -> None:
        await assembly.wait_beyond(0)
        if assembly.error is not None:  # nothing sent yet: say what is wrong
            raise Refused(502, str(assembly.error))
        try:
            fd = _open_either(assembly, self._cache)  # a name just made: no disk wait
        except FileNotFoundError:
            # between two names (published, or failing and discarded): wait for the end
            while not assembly.finished:
                await assembly.wait_beyond(assembly.size)
            if assembly.error is not None:
                raise Refused(502, str(assembly.error)) from None
            fd = await threads.deferToThread(
                os.open, self._cache.path(assembly.file_id), os.O_RDONLY
            )
        pace = Pace()
        request.registerProducer(pace, True)
        lost = request.notifyFinish()
        lost.addErrback(lambda _: pace.stopProducing())  # gone while paused: stop waiting
        try:
            request.setResponseCode(200)
            request.setHeader("Content-Type", ctype)
            request.setHeader("Content-Length", str(assembly.size))
            request.setHeader("X-Accel-Buffering", "no")
            sent = 0
            while sent < assembly.size and not request._disconnected:
                await pace.ready()
                if request._disconnected:
                    break
                if sent >= assembly.ready:
                    if assembly.error is not None:
                        self.log.error("stream cut: {error}", error=str(assembly.error))
                        request.loseConnection()
                        return
                    await assembly.wait_beyond(sent)
                    continue
                # bytes just written are in the page cache: reading them here costs less
                # than a hop to a pool thread, which waits behind the assembly's writes
                chunk = os.pread(fd, min(CHUNK, assembly.ready - sent), sent)
                if not chunk:
                    raise OSError("the cache file is shorter than the assembly says")
                request.write(chunk)
                sent += len(chunk)
            # the response ends only once the whole file is verified and published: a
            # client that asks again at once finds it cached, and a whole-file mismatch
            # still cuts the stream rather than ending it as if all were well
            while not assembly.finished:
                await assembly.wait_beyond(assembly.size)
            if request._disconnected:
                return
            if assembly.error is not None:
                self.log.error("stream cut: {error}", error=str(assembly.error))
                request.loseConnection()
                return
            request.unregisterProducer()
            request.finish()
        finally:
            if request.producer is pace and request.channel is not None:
                request.unregisterProducer()
            os.close(fd)

    async def _audit(
        self, request: Request, who: Identity, eid: int, size: int, hit: bool | None
    ) -> None:
        ip = request.getClientAddress()
        await self._db.runInteraction(
            "audit", record_read, who.user_id, who.key_id, eid, size, hit, getattr(ip, "host", None)
        )


def _record_url(txn: Any, eid: int) -> tuple[str, int] | None:
    txn.execute("SELECT url, url_expires_ts FROM records WHERE eid = ?", (eid,))
    row = txn.fetchone()
    return (str(row[0]), int(row[1] or 0)) if row and row[0] else None


def _open_either(assembly: Assembly, cache: SpanCache) -> int:
    """The assembly's file, open: the partial one, or the published one if it was renamed."""
    if assembly.partial is not None:
        try:
            return os.open(assembly.partial, os.O_RDONLY)
        except FileNotFoundError:
            pass
    return os.open(cache.path(assembly.file_id), os.O_RDONLY)
