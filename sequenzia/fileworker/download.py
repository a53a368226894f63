"""Downloading a record's file: stream it beside the target, verify every byte, rename.

The bytes go to a hidden temporary file in the target's directory; only once its size
and whole-file xxh3-128 (when the record knows it) match does it take the target's name,
so a target path never holds a wrong or partial file. A lost connection carries on from
where it stopped with a Range request, and so does a later run that finds the temporary
file. A mismatch is an error that names the file, the expected and the received value.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sequenzia.fileworker.client import ApiClient, TransientError
from sequenzia.fileworker.errors import (
    Cancelled,
    FileWorkerError,
    IntegrityFailed,
    TransferFailed,
)
from sequenzia.fileworker.progress import Progress
from sequenzia.fileworker.throttle import RateLimit
from sequenzia.spans.hashing import new_hasher

CHUNK = 256 * 1024


@dataclass(frozen=True)
class RemoteFile:
    """What the record says about its file."""

    eid: int
    name: str
    size: int
    xxh3_128: str | None  # None for files Sequenzia did not upload itself
    url: str  # server path: /f/<eid>/<name>

    @classmethod
    def from_record(cls, eid: int, record: dict[str, Any]) -> RemoteFile:
        file = record.get("file")
        if not file:
            raise TransferFailed(
                f"record {eid} has no file to download (it is a {record.get('kind')})"
            )
        return cls(
            eid, str(file["name"]), int(file["size"]), file.get("xxh3_128"), str(file["url"])
        )


@dataclass(frozen=True)
class Downloaded:
    file: RemoteFile
    path: Path
    verified: bool  # the whole-file hash was checked (not only the size)
    resumed_at: int  # where the last Range request continued (0: fetched in one go)

    def public(self) -> dict[str, Any]:
        """The `--json` line."""
        return {
            "eid": self.file.eid,
            "name": self.file.name,
            "size": self.file.size,
            "xxh3_128": self.file.xxh3_128,
            "path": str(self.path),
            "verified": self.verified,
        }


def fetch_file_info(client: ApiClient, eid: int) -> RemoteFile:
    _, body = client.call("GET", f"/records/{eid}")
    return RemoteFile.from_record(eid, body["record"])


def target_path(file: RemoteFile, output: Path | None) -> Path:
    """Where the file goes: `output`, or the record's file name inside `output` if it is a directory."""
    name = Path(file.name).name  # the name is one component on the server; be sure here too
    if name in ("", ".", ".."):
        name = f"record-{file.eid}"
    if output is None:
        return Path(name)
    if output.is_dir():
        return output / name
    return output


def temporary_path(target: Path, eid: int) -> Path:
    """The partial download: hidden, beside the target, named for the record (resumable)."""
    return target.with_name(f".{target.name}.{eid}.sequenzia-partial")


class _Restart(Exception):
    """The server sends the file from its start: drop what is there and take it whole."""


class Downloader:
    """Downloads records' files from one server."""

    def __init__(
        self,
        client: ApiClient,
        *,
        progress_for: Callable[[RemoteFile], Progress | None] = lambda f: None,
        rate: RateLimit | None = None,
    ) -> None:
        self._client = client
        self._progress_for = progress_for
        self._rate = rate
        self._resumed_at = 0

    def download(self, eid: int, output: Path | None) -> Downloaded:
        """Fetch record `eid`'s file to `output` (a path or a directory), verified."""
        file = fetch_file_info(self._client, eid)
        target = target_path(file, output)
        if target.is_dir():
            raise TransferFailed(f"{target} is a directory; it cannot be replaced by the file")
        temp = temporary_path(target, eid)
        progress = self._progress_for(file)
        self._resumed_at = 0
        try:
            verified = self._fetch_verified(file, temp, progress)
        except FileWorkerError as e:
            if not isinstance(e, IntegrityFailed):
                if temp.exists() and temp.stat().st_size == 0:
                    temp.unlink()  # nothing worth resuming: leave no empty hidden file
                raise
            temp.unlink(missing_ok=True)
            if self._resumed_at == 0:
                raise
            # the bytes from before the resume may be what was wrong (the file changed
            # since, or they were damaged): take the whole file once more, all verified
            self._resumed_at = 0
            verified = self._fetch_verified(file, temp, progress)
        os.replace(temp, target)
        return Downloaded(file, target, verified, self._resumed_at)

    def _fetch_verified(self, file: RemoteFile, temp: Path, progress: Progress | None) -> bool:
        hasher = self._client.retrying(
            f"downloading {file.name}", lambda: self._attempt(file, temp, progress)
        )
        size = temp.stat().st_size
        if size != file.size:
            temp.unlink(missing_ok=True)
            raise IntegrityFailed(
                f"{file.name} (record {file.eid}) came as {size} bytes, not the {file.size} "
                "the record says; nothing was saved"
            )
        if file.xxh3_128 is None:
            return False
        got = hasher.hexdigest()
        if got != file.xxh3_128:
            temp.unlink(missing_ok=True)
            raise IntegrityFailed(
                f"{file.name} (record {file.eid}) came with xxh3-128 {got}, not the "
                f"{file.xxh3_128} the record says; nothing was saved"
            )
        return True

    def _attempt(self, file: RemoteFile, temp: Path, progress: Progress | None) -> Any:
        """One request: continue the temporary file from its end; the hasher of all of it."""
        try:
            return self._continue(file, temp, progress)
        except _Restart:
            temp.unlink(missing_ok=True)
            return self._continue(file, temp, progress)

    def _continue(self, file: RemoteFile, temp: Path, progress: Progress | None) -> Any:
        with open(temp, "ab+") as out:
            hasher = _hash_prefix(out, file.size)
            offset = out.tell()
            if progress is not None:
                progress.restart_at(offset)
            if offset >= file.size and offset > 0:
                self._resumed_at = offset
                return hasher  # all there already (a run stopped just before the rename)
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            with self._client.open(file.url, headers) as stream:
                expected = self._check_start(file, stream.status, stream.headers, offset)
                if offset:
                    self._resumed_at = offset
                received = 0
                while True:
                    if self._client.cancel.is_set():
                        raise Cancelled("interrupted")
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    if offset + received + len(chunk) > file.size:
                        raise IntegrityFailed(
                            f"{file.name} (record {file.eid}) came longer than the "
                            f"{file.size} bytes the record says; nothing was saved"
                        )
                    out.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress.advance(len(chunk))
                    if self._rate is not None:
                        self._client.sleep(self._rate.delay_for(len(chunk)))
                out.flush()
                if expected is not None and received < expected:
                    # the connection closed early; http.client reports it this way at times
                    raise TransientError(f"connection lost after {received} of {expected} bytes")
            os.fsync(out.fileno())
        return hasher

    def _check_start(self, file: RemoteFile, status: int, headers: Any, offset: int) -> int | None:
        """Bytes the response promises; _Restart if it does not continue at `offset`."""
        length = headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if status == 200:
            if offset:
                raise _Restart()
            return expected
        if status == 206:
            content_range = headers.get("Content-Range") or ""
            if not content_range.startswith(f"bytes {offset}-"):
                raise _Restart()
            return expected
        if status == 416:  # our partial file is longer than the file: take it anew
            raise _Restart()
        raise TransferFailed(f"the server answered HTTP {status} for {file.url}")


def _hash_prefix(out: BinaryIO, limit: int) -> Any:
    """A hasher fed with what the file already holds (its end is where we continue)."""
    hasher = new_hasher()
    out.seek(0, os.SEEK_END)
    size = out.tell()
    if size > limit:  # longer than the file can be: not ours to continue
        out.truncate(0)
        return hasher
    out.seek(0)
    while chunk := out.read(CHUNK):
        hasher.update(chunk)
    out.seek(0, os.SEEK_END)
    return hasher
