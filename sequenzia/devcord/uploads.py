"""HTTP requests whose multipart/form-data bodies are parsed while they arrive.

twisted.web writes a body of 100,000 bytes or more to a temporary file and hands it over once
complete; for a 20 MiB attachment devcord then had to scan that file for the boundary and
copy the attachment out of it, which cost as much again as receiving it. `UploadRequest`
feeds the body to a `MultipartReader` instead, so each attachment is written once, to
the file that becomes the stored attachment.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from twisted.web.server import Request

from sequenzia.devcord.multipart import MultipartError, MultipartReader
from sequenzia.devcord.world import Limits

MULTIPART_SLACK = 1024 * 1024
"""Room over `Limits.request_bytes` for payload_json and the multipart framing."""


def max_body_bytes(limits: Limits) -> int:
    """The longest multipart body devcord reads before answering 413."""
    return limits.request_bytes + MULTIPART_SLACK


class UploadRequest(Request):
    """A twisted.web request that streams a multipart body into `upload_dir`.

    Other bodies are kept as twisted.web keeps them (`content`). For a multipart body
    `content` stays empty and `form` holds the reader; the files of its parts are removed
    when the response is finished or the connection is lost, unless a handler moved them
    away first (as storing a message does).
    """

    def __init__(self, *args: Any, upload_dir: Path, limits: Limits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upload_dir = upload_dir
        self.limits = limits
        self.form: MultipartReader | None = None

    def gotLength(self, length: int | None) -> None:
        content_type = self.getHeader("content-type") or ""
        if not content_type.startswith("multipart/form-data"):
            super().gotLength(length)
            return
        try:
            form = MultipartReader.for_content_type(
                content_type, self.upload_dir, max_body_bytes(self.limits)
            )
        except MultipartError:
            super().gotLength(length)  # the resource answers for the bad Content-Type
            return
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        self.form = form
        self.content = BytesIO()
        # Fires on finish, or fails when the connection is lost (even mid-body); a
        # response is written in one go by devcord's resources, after the handler ran.
        self.notifyFinish().addBoth(lambda _: form.discard())

    def handleContentChunk(self, data: bytes) -> None:
        if self.form is not None:
            self.form.feed(data)
        else:
            super().handleContentChunk(data)
