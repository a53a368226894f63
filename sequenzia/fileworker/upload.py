"""Uploading files through the resumable upload API, parts in parallel, resumable.

For each file: hash it (streaming), create an upload (or find the one an earlier run left,
through the resume store), send the parts the server does not have, complete, and look up
the record's `/f/` link. Parts go through one pool of `parallel` threads shared by all the
files in flight, and a part is read only when its thread sends it, so memory stays at
about part size × parallel whatever the file sizes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sequenzia.fileworker.client import ApiClient
from sequenzia.fileworker.errors import Cancelled, FileWorkerError, Refused, TransferFailed
from sequenzia.fileworker.progress import Progress
from sequenzia.fileworker.resume import ResumeEntry, ResumeStore, entry_key
from sequenzia.fileworker.throttle import RateLimit
from sequenzia.spans.hashing import new_hasher, xxh3_128_hex
from sequenzia.spans.plan import SpanPlan

READ_CHUNK = 1024 * 1024
SEND_CHUNK = 256 * 1024
COMPLETE_WAIT_S = 60
LIVE = ("receiving", "storing", "stored")  # upload states worth resuming


@dataclass(frozen=True)
class UploadItem:
    """One file to upload: where it is, where it goes, and how messages name it."""

    path: Path
    channel_id: str
    shown: str
    content: str = ""

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Stored:
    """A file the server has stored as record `eid`."""

    item: UploadItem
    eid: int
    size: int
    xxh3_128: str
    url: str
    parts: int
    parts_resumed: int  # parts an earlier run had already sent

    def public(self) -> dict[str, Any]:
        """The `--json` line."""
        return {
            "eid": self.eid,
            "name": self.item.name,
            "size": self.size,
            "xxh3_128": self.xxh3_128,
            "url": self.url,
            "channel_id": self.item.channel_id,
            "path": str(self.item.path),
        }


def expand_paths(paths: Sequence[Path]) -> list[tuple[Path, str]]:
    """Files to upload, directories walked recursively: (path, how to show it)."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            for top, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    full = Path(top) / name
                    if full.is_file():
                        found.append((full, str(full)))
        elif path.is_file():
            found.append((path, str(path)))
        elif path.exists():
            raise TransferFailed(f"{path} is neither a file nor a directory")
        else:
            raise FileNotFoundError(str(path))
    return found


class _FileChanged(TransferFailed):
    pass


class Uploader:
    """Uploads files to one server; `run` takes a batch and reports each file's outcome."""

    def __init__(
        self,
        client: ApiClient,
        resume: ResumeStore,
        *,
        parallel: int = 4,
        progress: Progress | None = None,
        rate: RateLimit | None = None,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self._client = client
        self._resume = resume
        self._parallel = parallel
        self._progress = progress
        self._rate = rate
        self._warn = warn
        self._cancel = client.cancel

    # -- the batch

    def run(
        self,
        items: Sequence[UploadItem],
        on_stored: Callable[[Stored], None],
        on_failed: Callable[[UploadItem, FileWorkerError], None],
    ) -> None:
        """Upload `items`, several at once; call back for each as it ends.

        `on_stored` runs before the resume entry is dropped: if it raises (say, moving
        the file aside failed), a later run finds the upload stored instead of sending
        the file again. Ctrl-C (KeyboardInterrupt) stops every thread and is re-raised.
        """
        if not items:
            return
        self._resume.prune()
        if self._progress is not None:
            self._progress.add(sum(_size(item.path) for item in items), len(items))
        parts = ThreadPoolExecutor(self._parallel, thread_name_prefix="part")
        files = ThreadPoolExecutor(min(self._parallel, len(items)), thread_name_prefix="file")
        try:
            futures = {files.submit(self._one, item, parts, on_stored): item for item in items}
            pending: set[Future[None]] = set(futures)
            while pending:
                # a timeout keeps the main thread waking up, so Ctrl-C is seen at once
                done, pending = wait(pending, timeout=0.5)
                for future in done:
                    if future.cancelled():
                        continue
                    error = future.exception()
                    if isinstance(error, FileWorkerError) and not isinstance(error, Cancelled):
                        on_failed(futures[future], error)
                    elif isinstance(error, OSError):
                        on_failed(futures[future], TransferFailed(_os_error(error)))
                    elif isinstance(error, Exception):
                        # a reply we did not expect (or a bug): this file fails with a
                        # sentence naming it, the others go on, the user sees no traceback
                        on_failed(
                            futures[future],
                            TransferFailed(f"unexpected {type(error).__name__}: {error}"),
                        )
        except BaseException:
            self._cancel.set()
            raise
        finally:
            parts.shutdown(wait=False, cancel_futures=True)
            files.shutdown(wait=False, cancel_futures=True)

    # -- one file

    def _one(
        self, item: UploadItem, parts: ThreadPoolExecutor, on_stored: Callable[[Stored], None]
    ) -> None:
        stat = item.path.stat()
        size, mtime_ns = stat.st_size, stat.st_mtime_ns
        key = entry_key(self._client.access.url, item.path, size, mtime_ns)
        upload, digest = self._resumable(key, item)
        if upload is None:
            digest = self._hash(item, size, mtime_ns)
            # not idempotent: if the answer is lost, the retry makes a second upload and
            # the first one simply expires on the server
            _, body = self._client.call(
                "POST",
                "/uploads",
                {
                    "name": item.name,
                    "size": size,
                    "xxh3_128": digest,
                    "channel_id": item.channel_id,
                    "content": item.content,
                },
            )
            upload = body["upload"]
            entry = ResumeEntry(upload["id"], digest, item.channel_id, item.name, item.content)
            try:
                self._resume.save(key, entry)
            except OSError as e:
                self._warn(f"cannot keep resume state in {self._resume.root}: {_os_error(e)}")
        plan = SpanPlan(size, int(upload["part_size"]))
        if plan.count != int(upload["part_count"]):
            raise TransferFailed(
                f"the server plans {upload['part_count']} parts for {item.shown}, not {plan.count}"
            )
        received = {int(n) for n in upload["received"]}
        if self._progress is not None and received:
            self._progress.advance(sum(plan.part_range(n)[1] for n in received))
        try:
            if upload["state"] == "receiving":
                missing = [n for n in range(plan.count) if n not in received]
                self._send_parts(item, upload["id"], plan, missing, parts, (size, mtime_ns))
            eid = self._complete(item, upload["id"])
        except _FileChanged:
            # the parts sent are of a file that is no more: drop them on both sides
            self._forget(key)
            try:
                self._client.call("DELETE", f"/uploads/{upload['id']}")
            except FileWorkerError:
                pass  # it expires on the server anyway
            raise
        _, shown = self._client.call("GET", f"/records/{eid}")
        file = shown["record"].get("file") or {}
        stored = Stored(
            item,
            eid,
            size,
            digest,
            self._client.absolute(str(file.get("url") or f"/f/{eid}")),
            plan.count,
            len(received),
        )
        on_stored(stored)
        self._forget(key)
        if self._progress is not None:
            self._progress.file_done()

    def _forget(self, key: str) -> None:
        try:
            self._resume.forget(key)
        except OSError as e:
            self._warn(f"cannot remove resume state in {self._resume.root}: {_os_error(e)}")

    def _resumable(self, key: str, item: UploadItem) -> tuple[dict[str, Any] | None, str]:
        """The upload an earlier run left for this very file, if the server still has it."""
        entry = self._resume.load(key)
        if entry is None:
            return None, ""
        if (entry.channel_id, entry.name, entry.content) != (
            item.channel_id,
            item.name,
            item.content,
        ):
            self._forget(key)  # asked for something else this time: a new upload
            return None, ""
        try:
            _, body = self._client.call("GET", f"/uploads/{entry.upload_id}")
        except Refused as e:
            if e.status != 404:
                raise
            body = {}
        upload = body.get("upload")
        if upload is None or upload["state"] not in LIVE:
            self._forget(key)  # expired, aborted, failed, or another server's
            return None, ""
        return upload, entry.xxh3_128

    def _hash(self, item: UploadItem, size: int, mtime_ns: int) -> str:
        """The file's xxh3-128, read in bounded chunks."""
        hasher = new_hasher()
        if self._progress is not None:
            self._progress.advance(0, f"hashing {item.name}")
        with open(item.path, "rb") as f:
            while chunk := f.read(READ_CHUNK):
                if self._cancel.is_set():
                    raise Cancelled("interrupted")
                hasher.update(chunk)
        self._unchanged(item, (size, mtime_ns), "while it was being read")
        return str(hasher.hexdigest())

    def _unchanged(self, item: UploadItem, seen: tuple[int, int], when: str) -> None:
        stat = item.path.stat()
        if (stat.st_size, stat.st_mtime_ns) != seen:
            raise _FileChanged(f"{item.shown} changed {when}; upload it again once it is complete")

    # -- parts

    def _send_parts(
        self,
        item: UploadItem,
        upload_id: str,
        plan: SpanPlan,
        indexes: list[int],
        pool: ThreadPoolExecutor,
        seen: tuple[int, int],
    ) -> None:
        fd = os.open(item.path, os.O_RDONLY)
        try:
            futures = [pool.submit(self._send_part, item, upload_id, plan, n, fd) for n in indexes]
            pending: set[Future[None]] = set(futures)
            while pending and not self._cancel.is_set():
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
                if any(not f.cancelled() and f.exception() for f in done):
                    break
            if pending or self._cancel.is_set():
                for future in futures:
                    future.cancel()
                # a cancelled future never counts as done in wait(); the running ones must
                # end before fd is closed under them
                wait([f for f in futures if not f.cancelled()])
            for future in futures:
                if not future.cancelled() and future.exception():
                    raise future.exception()  # type: ignore[misc]
            if any(f.cancelled() for f in futures):
                raise Cancelled("interrupted")
        finally:
            os.close(fd)
        self._unchanged(item, seen, "while it was being uploaded")

    def _send_part(
        self, item: UploadItem, upload_id: str, plan: SpanPlan, index: int, fd: int
    ) -> None:
        if self._cancel.is_set():
            raise Cancelled("interrupted")
        offset, length = plan.part_range(index)
        data = os.pread(fd, length, offset)
        if len(data) != length:
            raise _FileChanged(f"{item.shown} got shorter while it was being uploaded")
        counted = 0

        def body() -> Iterator[bytes]:
            nonlocal counted
            # a retry sends the part again: take back what the failed attempt counted
            self._count(-counted, item.name)
            counted = 0
            for start in range(0, length, SEND_CHUNK):
                if self._cancel.is_set():
                    raise Cancelled("interrupted")
                chunk = data[start : start + SEND_CHUNK]
                if self._rate is not None:
                    self._client.sleep(self._rate.delay_for(len(chunk)))
                yield chunk
                counted += len(chunk)
                self._count(len(chunk), item.name)

        self._client.request(
            "PUT",
            f"/api/v1/uploads/{upload_id}/parts/{index}",
            body,
            {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(length),
                "X-Xxh3-128": xxh3_128_hex(data),
            },
        )

    def _count(self, n: int, label: str) -> None:
        if self._progress is not None:
            self._progress.advance(n, label)

    # -- completion

    def _complete(self, item: UploadItem, upload_id: str) -> int:
        """Hand the upload to Discord I/O and wait for its record; its eid."""
        self._count(0, f"storing {item.name}")
        try:
            status, body = self._client.call(
                "POST", f"/uploads/{upload_id}/complete?wait={COMPLETE_WAIT_S}"
            )
        except Refused as e:
            if e.status == 409 and "xxh3-128" in str(e):
                raise _FileChanged(
                    f"{item.shown} changed while it was being uploaded ({e}); upload it again"
                ) from None
            raise
        job = body["job"]
        while job["state"] not in ("done", "failed"):
            # Discord I/O is busy or retrying: the upload stays resumable meanwhile
            self._client.sleep(1.0)
            _, answer = self._client.call("GET", f"/jobs/{job['id']}")
            job = answer["job"]
        if job["state"] == "failed":
            raise TransferFailed(
                f"the server could not store {item.shown}: {job.get('last_error') or 'job failed'}"
            )
        eid = (job.get("result") or {}).get("eid") or body["upload"].get("eid")
        if not eid:
            _, answer = self._client.call("GET", f"/uploads/{upload_id}")
            eid = answer["upload"].get("eid")
        if not eid:
            raise TransferFailed(f"the server stored {item.shown} but named no record for it")
        return int(eid)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # gone already: its upload will say so


def _os_error(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{(error.strerror or str(error)).lower()}"
