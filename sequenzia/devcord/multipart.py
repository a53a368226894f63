"""Reading multipart/form-data bodies as they arrive: file parts go straight to disk.

Each chunk is scanned for the boundary once, while it is still in the CPU cache, and the
bytes of a file part are written to their own file in the upload directory: nothing
spools the whole body first, and nothing copies the file out of it afterwards. Only the
small header block of each part goes through the standard library's email parser (with
`email.policy.HTTP`, which reads the raw UTF-8 filenames discord.py sends).
"""

from __future__ import annotations

import email.parser
import email.policy
import enum
import os
import tempfile
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import BinaryIO

_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.HTTP)

HEADER_BLOCK_LIMIT = 16 * 1024
"""A part's header block longer than this is not form data (discord.py sends ~150 bytes)."""


class MultipartError(ValueError):
    """A body that is not the multipart/form-data its Content-Type says."""


class BodyTooLarge(ValueError):
    """A body longer than the reader was told to accept; its parts were dropped."""


@dataclass
class Part:
    """One part: a file part's bytes are in `path`, a plain field's in `data`."""

    headers: Message
    size: int
    path: Path | None = None
    data: bytes = b""

    @property
    def name(self) -> str | None:
        value = self.headers.get_param("name", header="content-disposition")
        return value if isinstance(value, str) else None

    @property
    def filename(self) -> str | None:
        value = self.headers.get_filename()
        if value is None:
            return None
        # raw UTF-8 arrives as surrogate escapes; make it text again
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    @property
    def content_type(self) -> str | None:
        return self.headers.get_content_type() if self.headers.get("content-type") else None


def boundary_of(content_type: str) -> bytes:
    message = _HEADERS.parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    )
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MultipartError("multipart/form-data without a boundary")
    return boundary.encode("latin-1")


class _State(enum.Enum):
    PREAMBLE = "before the first delimiter"
    HEADERS = "after a delimiter, before the end of the part's headers"
    DATA = "inside a part's data"
    END = "after the closing delimiter"
    FAILED = "the body was rejected"


class MultipartReader:
    """A multipart/form-data body, fed chunk by chunk.

    Parts that name a file are written to a new file under `directory`; other fields
    (payload_json) are kept in memory. `feed` never raises: a malformed or oversized body
    is remembered, its files removed, and `finish` raises the error once the body is in.
    The caller owns the files of the parts and calls `discard` when done with them.
    """

    def __init__(self, boundary: bytes, directory: Path, max_bytes: int) -> None:
        self._first = b"--" + boundary
        self._delimiter = b"\r\n--" + boundary  # between parts the CRLF belongs to it
        self._directory = directory
        self._max_bytes = max_bytes
        self.received = 0
        self._state = _State.PREAMBLE
        self._error: Exception | None = None
        self._buffer = b""  # framing (delimiter line, headers) not yet complete
        self._tail = b""  # the last bytes of part data, held back: a delimiter may start there
        self._parts: list[Part] = []
        self._headers: Message | None = None
        self._size = 0
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._chunks: list[bytes] = []

    @classmethod
    def for_content_type(
        cls, content_type: str, directory: Path, max_bytes: int
    ) -> MultipartReader:
        """A reader for a body whose Content-Type header is `content_type`."""
        return cls(boundary_of(content_type), directory, max_bytes)

    def feed(self, data: bytes) -> None:
        """Take the next chunk of the body."""
        if self._state in (_State.END, _State.FAILED):
            return  # the epilogue, or the rest of a rejected body: ignored
        self.received += len(data)
        try:
            if self.received > self._max_bytes:
                raise BodyTooLarge(f"the body is over {self._max_bytes} bytes")
            while data and self._state is not _State.END:
                if self._state is _State.DATA:
                    data = self._part_data(data)
                else:
                    data = self._framing(self._buffer + data)
        except (MultipartError, BodyTooLarge, OSError) as e:  # OSError: the disk, not the client
            self._error = e
            self._state = _State.FAILED
            self.discard()

    def finish(self) -> list[Part]:
        """The parts, once the whole body was fed; raises what was wrong with it."""
        if self._error is not None:
            raise self._error
        if self._state is not _State.END:
            self.discard()
            if self._state is _State.PREAMBLE:
                raise MultipartError("the body has no part delimited by its boundary")
            if self._state is _State.HEADERS:
                raise MultipartError("a part's headers are not terminated")
            raise MultipartError("the last part is not closed by the boundary")
        return self._parts

    def discard(self) -> None:
        """Remove the files of all parts (those moved elsewhere meanwhile are left alone)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        paths = [p.path for p in self._parts] + [self._path]
        for path in paths:
            if path is not None:
                path.unlink(missing_ok=True)

    # -- the state machine ---------------------------------------------------------

    def _framing(self, buffer: bytes) -> bytes:
        """Consume delimiter lines and headers; what follows them is part data."""
        self._buffer = b""
        if self._state is _State.PREAMBLE:
            start = buffer.find(self._first)
            if start < 0:
                self._buffer = buffer[-(len(self._first) - 1) :]  # the preamble is ignored
                return b""
            buffer = buffer[start + len(self._first) :]
            self._state = _State.HEADERS
        if len(buffer) < 2:
            self._buffer = buffer
            return b""
        if buffer.startswith(b"--"):
            self._state = _State.END
            return b""
        line_end = buffer.find(b"\r\n")
        header_end = buffer.find(b"\r\n\r\n")
        if line_end < 0 or header_end < 0:
            if len(buffer) > HEADER_BLOCK_LIMIT:
                raise MultipartError("a part's headers are not terminated")
            self._buffer = buffer
            return b""
        self._open_part(_HEADERS.parsebytes(buffer[line_end + 2 : header_end + 4]))
        return buffer[header_end + 4 :]

    def _part_data(self, data: bytes) -> bytes:
        """Write part data up to the next delimiter; what follows the delimiter is framing."""
        delimiter = self._delimiter
        if self._tail:
            if len(data) < len(delimiter) - 1:
                data = self._tail + data  # both short: cheaper than telling the cases apart
            else:
                # a delimiter that starts in the held-back tail ends in this chunk's first
                # len(delimiter) - 1 bytes: look only there, not at the whole chunk joined
                joint = self._tail + data[: len(delimiter) - 1]
                at = joint.find(delimiter)
                if at >= 0:
                    after = at + len(delimiter) - len(self._tail)
                    self._write(joint[:at])
                    self._close_part()
                    return data[after:]
                self._write(self._tail)
            self._tail = b""
        at = data.find(delimiter)
        if at >= 0:
            self._write(memoryview(data)[:at])
            self._close_part()
            return data[at + len(delimiter) :]
        held = self._held_back(data)
        if held == len(data):
            self._write(data)  # the usual case: the whole chunk in one write
        else:
            self._write(memoryview(data)[:held])
            self._tail = data[held:]
        return b""

    def _held_back(self, data: bytes) -> int:
        """Where the end of `data` may begin a delimiter the next chunk completes."""
        # Every delimiter starts with CR, so only a CR near the end can begin one.
        at = data.find(b"\r", max(0, len(data) - len(self._delimiter) + 1))
        while at >= 0:
            if self._delimiter.startswith(data[at:]):
                return at
            at = data.find(b"\r", at + 1)
        return len(data)

    def _open_part(self, headers: Message) -> None:
        self._headers, self._size, self._tail = headers, 0, b""
        if headers.get_filename() is not None:
            fd, name = tempfile.mkstemp(dir=self._directory)
            self._path = Path(name)
            self._file = os.fdopen(fd, "wb")
        self._state = _State.DATA

    def _write(self, data: bytes | memoryview) -> None:
        if not data:
            return
        self._size += len(data)
        if self._file is not None:
            self._file.write(data)
        else:
            self._chunks.append(bytes(data))

    def _close_part(self) -> None:
        assert self._headers is not None
        part = Part(self._headers, self._size, self._path, b"".join(self._chunks))
        if self._file is not None:
            self._file.close()
        self._parts.append(part)
        self._headers, self._file, self._path, self._chunks, self._tail = None, None, None, [], b""
        self._state = _State.HEADERS
