"""The CDN: signed attachment URLs (`ex`/`is`/`hm`), Range reads, and the media proxy.

`/attachments/<channel>/<attachment>/<name>?ex=&is=&hm=` serves the bytes (Twisted's
static.File does Range, suffix ranges, 416 and HEAD); an expired or forged signature is
refused with 404 and Discord's text ("This content is no longer available."). The media
proxy `/media/attachments/...?width=&height=` resizes images with Pillow in a thread.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote, unquote

from twisted.internet import task, threads
from twisted.logger import Logger
from twisted.web import static
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from sequenzia.devcord.faults import Faults
from sequenzia.devcord.world import World

GONE = b"This content is no longer available."


class _Ranged(static.File):
    """static.File for one attachment: no directory listing, the attachment's type."""

    def __init__(self, path: str, content_type: str | None) -> None:
        super().__init__(path, defaultType=content_type or "application/octet-stream")
        self.type = content_type or "application/octet-stream"
        self.encoding = None


class CDN(Resource):
    isLeaf = True
    log = Logger()

    def __init__(self, world: World, faults: Faults, reactor: Any, *, media: bool = False) -> None:
        super().__init__()
        self.world = world
        self.faults = faults
        self.reactor = reactor
        self.media = media

    def _locate(self, request: Request) -> tuple[Any, dict[str, Any]] | None:
        segments = [unquote(s.decode("utf-8", "replace")) for s in request.postpath or []]
        if len(segments) != 3 or not segments[0].isdigit() or not segments[1].isdigit():
            return None
        channel_id, attachment_id, filename = int(segments[0]), int(segments[1]), segments[2]
        args = {k.decode(): v[-1].decode() for k, v in request.args.items()}
        path = f"{channel_id}/{attachment_id}/{quote(filename)}"
        if not self.world.check_signature(
            path, args.get("ex", ""), args.get("is", ""), args.get("hm", "")
        ):
            return None
        found = self.world.store.find_attachment(attachment_id)
        if found is None:
            return None
        message, attachment = found
        if message["channel_id"] != channel_id or attachment["filename"] != filename:
            return None
        file_path = self.world.store.attachment_path(attachment_id)
        if not file_path.is_file():
            return None  # deleted behind our back (a fault), or with its message
        return file_path, attachment

    def render(self, request: Request) -> bytes | int:
        located = self._locate(request)
        if located is None:
            request.setResponseCode(404)
            request.setHeader(b"Content-Type", b"text/plain")
            return GONE
        file_path, attachment = located
        if self.media:
            return self._resized(request, file_path, attachment)
        delay, cut = self.faults.take_cdn_fault()
        if cut is not None:
            return self._truncated(request, file_path, attachment, cut, delay)
        if delay:
            d = task.deferLater(self.reactor, delay, self._serve, request, file_path, attachment)
            d.addErrback(lambda f: self.log.failure("slow CDN read failed", f))
            return NOT_DONE_YET
        return _Ranged(str(file_path), attachment.get("content_type")).render(request)

    def _serve(self, request: Request, file_path: Any, attachment: dict[str, Any]) -> None:
        if request._disconnected:
            return
        result = _Ranged(str(file_path), attachment.get("content_type")).render(request)
        if isinstance(result, bytes):
            request.write(result)
            request.finish()

    def _truncated(
        self, request: Request, file_path: Any, attachment: dict[str, Any], cut: int, delay: float
    ) -> int:
        def send() -> None:
            size = file_path.stat().st_size
            request.setHeader(
                b"Content-Type",
                (attachment.get("content_type") or "application/octet-stream").encode(),
            )
            request.setHeader(b"Content-Length", str(size).encode())
            with open(file_path, "rb") as f:
                request.write(f.read(min(cut, size)))
            # Promise `size` bytes, send `cut`, hang up: what a broken CDN read looks like.
            if request.channel is not None and request.channel.transport is not None:
                transport = request.channel.transport
                transport.loseConnection()
                # a close waits for the buffer to drain, which a paused HTTP channel may
                # never do: after a moment, drop the connection outright
                self.reactor.callLater(1.0, _abort, transport)

        d = task.deferLater(self.reactor, delay, send)
        d.addErrback(lambda f: self.log.failure("truncated CDN read failed", f))
        return NOT_DONE_YET

    def _resized(self, request: Request, file_path: Any, attachment: dict[str, Any]) -> int:
        def dimension(name: str) -> int | None:
            raw = request.args.get(name.encode(), [b""])[-1].decode()
            if not raw:
                return None
            if not raw.isdigit() or not 1 <= int(raw) <= 4096:
                raise ValueError(f"{name} must be a whole number from 1 to 4096")
            return int(raw)

        try:
            width, height = dimension("width"), dimension("height")
        except ValueError as e:
            request.setResponseCode(400)
            return str(e).encode()  # type: ignore[return-value]

        d = threads.deferToThread(_resize, file_path, width, height, attachment.get("content_type"))

        def done(result: tuple[bytes, str]) -> None:
            data, content_type = result
            request.setHeader(b"Content-Type", content_type.encode())
            request.setHeader(b"Content-Length", str(len(data)).encode())
            request.write(data)
            request.finish()

        def failed(f: Any) -> None:
            request.setResponseCode(415)
            request.write(b"cannot resize this attachment")
            request.finish()

        d.addCallbacks(done, failed)
        return NOT_DONE_YET


def _resize(
    path: Any, width: int | None, height: int | None, content_type: str | None
) -> tuple[bytes, str]:
    """Fit the image within width × height (keeping its aspect); WebP for photos, PNG for alpha."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        w, h = image.size
        target_w = width or (round(w * height / h) if height else w)
        target_h = height or (round(h * width / w) if width else h)
        image.thumbnail((target_w, target_h))
        out = io.BytesIO()
        if image.mode in ("RGBA", "LA", "P"):
            image.save(out, format="PNG")
            return out.getvalue(), "image/png"
        image.convert("RGB").save(out, format="WEBP", quality=82)
        return out.getvalue(), "image/webp"


def _abort(transport: Any) -> None:
    if getattr(transport, "connected", False):
        transport.abortConnection()
