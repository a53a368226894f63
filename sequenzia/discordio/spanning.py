"""Storing a staged upload in Discord: one attachment, or a spanned file (parts + header).

The `store_upload` job (DESIGN §5):

- a file that fits one part becomes an ordinary attachment in the target channel;
- a larger one is cut into parts of the job's part size; each part is read and hashed off
  the reactor thread, posted to the least busy data channel of the server with its
  machine-readable caption, and indexed (`file_parts`); then the header goes to the target
  channel, naming the file, its size, part count and whole-file xxh3-128;
- when Discord refuses a part as too large (413 / 40005: the server's limit is lower than
  we thought), the part size halves, the server remembers it (`servers.upload_limit`), the
  parts already posted are deleted and the file is cut again.

A re-run after a crash skips the parts the index already holds with the right size and
hash (and posts the rest with nonces that let Discord recognise a repeat), so nothing is
posted twice and nothing is lost. Memory: at most one part per data channel in flight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.python.failure import Failure

from sequenzia.discordio import journal, operations
from sequenzia.discordio.indexing import index_message
from sequenzia.discordio.journal import Job
from sequenzia.discordio.payload import BadJob, job_int, job_text
from sequenzia.junefs import store
from sequenzia.spans import store as spans
from sequenzia.spans.captions import header_caption, part_caption
from sequenzia.spans.hashing import xxh3_128_hex
from sequenzia.spans.plan import SpanPlan
from sequenzia.spans.preview import make_preview
from sequenzia.uploads import staging
from sequenzia.uploads import store as uploads

log = Logger()

SMALLEST_PART = 256 * 1024


class TooLarge(Exception):
    """Discord refused a part as too large for this server."""


def _too_large(error: Exception) -> bool:
    return getattr(error, "status", None) == 413 or getattr(error, "code", None) == 40005


def _read_part(path: Path, offset: int, length: int) -> tuple[bytes, str]:
    data = staging.read_range(path, offset, length)
    return data, xxh3_128_hex(data)


class Spanner:
    def __init__(self, database: Any, bridge: Any, pick: Any) -> None:
        self._db = database
        self._bridge = bridge
        self._pick = pick

    async def store_upload(self, job: Job) -> dict[str, Any]:
        p = job.payload
        upload_id = p.get("upload_id")
        if not isinstance(upload_id, str) or not upload_id:
            raise BadJob("'upload_id' must name an upload")
        upload = await self._db.runInteraction("upload", uploads.get, upload_id)
        if upload is None:
            raise BadJob(f"there is no upload {upload_id}")
        path = Path(str(p.get("path")))
        if not path.is_file():
            raise BadJob(f"the staged file of upload {upload_id} is gone ({path})")
        channel_id, server_id = job_int(p, "channel_id"), job_int(p, "server_id")
        part_size = job_int(p, "part_size")
        name = str(upload["name"])
        plan = SpanPlan(int(upload["size"]), part_size)
        try:
            if plan.spanned:
                eid = await self._store_spanned(job, upload, path, plan, server_id)
            else:
                eid = await self._store_single(job, upload, path, channel_id, server_id)
        except BadJob as e:
            await self._db.runInteraction(
                "upload.failed", uploads.set_state, upload_id, "failed", error=str(e), job_id=job.id
            )
            raise
        result = {"eid": eid, "upload_id": upload_id, "name": name}

        def commit(txn: Any) -> None:
            uploads.set_state(txn, upload_id, "stored", eid=eid, job_id=job.id)
            journal.complete(txn, job.id, result)

        await self._db.runInteraction("upload.stored", commit)
        await threads.deferToThread(path.unlink, True)
        return result

    async def _store_single(
        self, job: Job, upload: dict[str, Any], path: Path, channel_id: int, server_id: int
    ) -> int:
        data, digest = await threads.deferToThread(_read_part, path, 0, int(upload["size"]))
        if digest != upload["xxh3_128"]:
            raise BadJob(f"the staged file does not match its hash (got {digest})")
        content = job_text({"content": upload["content"]}, "content")
        message = await self._bridge.call(
            operations.send_message,
            channel_id,
            content,
            [operations.OutgoingFile(str(path), str(upload["name"]), data)],
            f"sq{job.id}",
        )

        def index(txn: Any) -> int:
            eid = index_message(txn, message, server_id)
            store.set_record_hash(txn, eid, digest)
            return eid

        return int(await self._db.runInteraction("index", index))

    async def _store_spanned(
        self, job: Job, upload: dict[str, Any], path: Path, plan: SpanPlan, server_id: int
    ) -> int:
        pool = await self._db.runInteraction("pool", store.data_channels, server_id)
        if not pool:
            raise BadJob(f"server {server_id} has no data channels for the parts")
        file_id = str(upload["id"])
        while True:
            try:
                await self._post_parts(job, file_id, path, plan, pool, server_id)
                break
            except TooLarge:
                smaller = plan.part_size // 2
                if smaller < SMALLEST_PART:
                    raise BadJob("Discord refuses even small parts as too large") from None
                log.warn(
                    "server {server} refused a {size}-byte part as too large; re-cutting "
                    "file {file} into {smaller}-byte parts",
                    server=server_id,
                    size=plan.part_size,
                    file=file_id,
                    smaller=smaller,
                )
                await self._db.runInteraction(
                    "server.limit", _lower_server_limit, server_id, smaller
                )
                payload = {**job.payload, "part_size": smaller}
                await self._db.runInteraction("journal.remember", journal.remember, job.id, payload)
                job.payload.update(payload)
                await self._forget_parts(file_id)
                plan = SpanPlan(plan.size, smaller)
        caption = header_caption(
            file_id,
            str(upload["name"]),
            plan.count,
            plan.size,
            str(upload["xxh3_128"]),
            note=str(upload["content"] or ""),
        )
        preview = await threads.deferToThread(make_preview, path, str(upload["name"]))
        files = [operations.OutgoingFile("", "preview.jpg", preview)] if preview else []
        message = await self._bridge.call(
            operations.send_message,
            job_int(job.payload, "channel_id"),
            caption,
            files,
            f"sq{job.id}h",
        )
        return int(await self._db.runInteraction("index", index_message, message, server_id))

    async def _post_parts(
        self,
        job: Job,
        file_id: str,
        path: Path,
        plan: SpanPlan,
        pool: list[int],
        server_id: int,
    ) -> None:
        indexed = {
            int(part["idx"]): part
            for part in await self._db.runInteraction("parts", spans.parts_of, file_id)
        }
        gate = defer.DeferredSemaphore(len(pool))

        async def one(index: int) -> None:
            offset, length = plan.part_range(index)
            data, digest = await threads.deferToThread(_read_part, path, offset, length)
            known = indexed.get(index)
            if known is not None:
                if int(known["size"]) == length and known["xxh3_128"] == digest:
                    return  # posted by an earlier run
                await self._bridge.call(
                    operations.delete_message, int(known["channel_id"]), int(known["message_id"])
                )
            caption = part_caption(file_id, index, plan.count, length, digest)
            try:
                message = await self._bridge.call(
                    operations.send_message,
                    self._pick(pool),
                    caption,
                    [operations.OutgoingFile(str(path), f"{file_id}.{index:05d}", data)],
                    f"sq{job.id}s{plan.part_size // 1024}p{index}"[:25],
                )
            except Exception as e:
                if _too_large(e):
                    raise TooLarge() from e
                raise
            await self._db.runInteraction("index.part", index_message, message, server_id)

        async def gated(index: int) -> None:
            await gate.acquire()
            try:
                await one(index)
            finally:
                gate.release()

        results = await defer.DeferredList(
            [defer.ensureDeferred(gated(i)) for i in range(plan.count)], consumeErrors=True
        )
        failures = [cast(Failure, r) for ok, r in results if not ok]
        for failure in failures:
            if failure.check(TooLarge):
                failure.raiseException()
        if failures:
            failures[0].raiseException()

    async def _forget_parts(self, file_id: str) -> None:
        """The parts of an abandoned cut: their messages and their rows."""
        parts = await self._db.runInteraction("parts", spans.parts_of, file_id)
        for part in parts:
            await self._bridge.call(
                operations.delete_message, int(part["channel_id"]), int(part["message_id"])
            )

        def forget(txn: Any) -> None:
            store.delete_records(txn, [int(part["message_id"]) for part in parts])
            spans.forget_file(txn, file_id)

        await self._db.runInteraction("spans.forget", forget)


def _lower_server_limit(txn: Any, server_id: int, limit: int) -> None:
    txn.execute(
        "UPDATE servers SET upload_limit = ? WHERE id = ? AND (upload_limit IS NULL OR upload_limit > ?)",
        (limit, server_id, limit),
    )
