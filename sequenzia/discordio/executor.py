"""Running journal jobs against Discord, while (and only while) this process holds the lease.

Each job: validate its payload → run the Discord operation through the bridge → in ONE
transaction, mark the job done and mirror what Discord answered (so the index never
says "posted" without the record, nor the reverse). Posts carry a nonce made from the
job id, and Discord (enforce_nonce) answers a repeated nonce with the first message, so
a job re-run after a crash cannot post twice.

Failures: Discord's 4xx answers other than 429 are the job's own fault (unknown channel,
too large, invalid form) and park it at once with Discord's message; anything else is
retried with backoff until its attempts run out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from twisted.internet import defer, task, threads
from twisted.logger import Logger

from cds.cache import SpanCache
from sequenzia.discordio import journal, operations
from sequenzia.discordio.breaker import InvalidRequestBreaker
from sequenzia.discordio.indexing import index_message
from sequenzia.discordio.journal import Job
from sequenzia.discordio.payload import BadJob, job_files, job_int, job_text
from sequenzia.discordio.refresher import refresh_rows
from sequenzia.discordio.relocate import Relocator
from sequenzia.discordio.spanning import Spanner
from sequenzia.discordio.sweep import sweep_orphans
from sequenzia.junefs import store
from sequenzia.spans import store as spans

Operation = Callable[[Job], Awaitable[dict[str, Any]]]


def _indexable_channels(txn: Any) -> list[int]:
    txn.execute(
        "SELECT id FROM channels WHERE deleted = 0 AND kind IN ('text', 'news', 'thread') ORDER BY id"
    )
    return [int(r[0]) for r in txn.fetchall()]


def _index_page(txn: Any, page: list[dict[str, Any]]) -> None:
    for message in page:
        index_message(txn, message)


def _prune_channel(txn: Any, channel_id: int, seen: list[int]) -> int:
    """Records of `channel_id` whose messages Discord no longer has."""
    txn.execute("SELECT message_id FROM records WHERE channel_id = ?", (channel_id,))
    still_there = set(seen)
    gone = [int(r[0]) for r in txn.fetchall() if int(r[0]) not in still_there]
    return store.delete_records(txn, gone)


class JobExecutor:
    """Claims due jobs and runs up to `concurrency` at a time."""

    log = Logger()

    def __init__(
        self,
        database: Any,
        bridge: Any,
        clock: Any,
        *,
        holder: str,
        may_write: Callable[[], bool],
        concurrency: int = 4,
        poll_s: float = 1.0,
        breaker: InvalidRequestBreaker | None = None,
        staging_dir: Path,
        cache_dir: Path | None = None,
        on_settled: Callable[[Job, str], None] | None = None,
    ) -> None:
        self._db = database
        self._bridge = bridge
        self._clock = clock
        self._holder = holder
        self._may_write = may_write
        self._concurrency = concurrency
        self._poll_s = poll_s
        self._running: dict[int, defer.Deferred[None]] = {}
        # data-channel pool use: posts in flight and last use per channel
        self._in_flight: dict[int, int] = {}
        self._last_used: dict[int, float] = {}
        # One post at a time per channel: when requests to a bucket overlap, discord.py
        # miscounts its tokens (an answer's X-RateLimit-Remaining cannot count the
        # posts still on the wire) and can send one too many, which Discord answers
        # with a 429.
        self._posting: dict[int, defer.DeferredLock] = {}
        self.breaker = breaker or InvalidRequestBreaker(clock.seconds)
        self._loop: task.LoopingCall | None = None
        self._claiming = False
        self._cache_dir = cache_dir
        self._wake_again = False
        self._on_settled = on_settled or (lambda job, state: None)
        relocator = Relocator(database, bridge, staging_dir, self._pick)
        self.operations: dict[str, Operation] = {
            "post": self._post,
            "edit": self._edit,
            "delete": self._delete,
            "pin": self._pin,
            "move": relocator.move,
            "rename": relocator.rename,
            "archive": relocator.archive,
            "rotate": relocator.rotate,
            "store_upload": Spanner(database, bridge, self._pick).store_upload,
            "reindex": self._reindex,
            "refresh": self._refresh,
            "gc": self._gc,
        }

    def start(self) -> None:
        self._loop = task.LoopingCall(self.wake)
        self._loop.clock = self._clock
        self._loop.start(self._poll_s, now=True)

    def wake(self) -> None:
        """Look for due jobs now (a bus nudge, the poll, or a finished job)."""
        if self._claiming:
            # the claim under way counted free slots before this wake-up's reason (a job
            # that just finished): look again when it is done, not at the next poll
            self._wake_again = True
            return
        if not self._may_write() or self.breaker.open:
            return
        free = self._concurrency - len(self._running)
        if free <= 0:
            return
        self._claiming = True
        d = self._db.runInteraction("journal.claim", journal.claim, self._holder, free)
        d.addCallback(self._start_jobs)
        d.addErrback(
            lambda f: self.log.warn("claiming jobs failed: {error}", error=f.getErrorMessage())
        )
        d.addBoth(self._claimed)

    def _claimed(self, _: Any) -> None:
        self._claiming = False
        if self._wake_again:
            self._wake_again = False
            self.wake()

    def _start_jobs(self, jobs: list[Job]) -> None:
        for job in jobs:
            d = defer.ensureDeferred(self._run(job))
            self._running[job.id] = d
            d.addBoth(self._finished, job.id)

    def _finished(self, _: Any, job_id: int) -> None:
        self._running.pop(job_id, None)
        self.wake()

    async def _run(self, job: Job) -> None:
        operation = self.operations.get(job.kind)
        try:
            if operation is None:
                raise BadJob(f"unknown job kind {job.kind!r}; known: {', '.join(self.operations)}")
            if not self._may_write():
                raise RuntimeError("this process no longer holds the Discord I/O lease")
            await operation(job)
            self._on_settled(job, "done")
        except BadJob as e:
            await self._fail(job, str(e), permanent=True)
        except Exception as e:
            status = getattr(e, "status", None)
            self.breaker.record(status)
            permanent = isinstance(status, int) and 400 <= status < 500 and status != 429
            detail = getattr(e, "text", None) or str(e) or type(e).__name__
            await self._fail(
                job,
                f"Discord answered {status}: {detail}" if status else detail,
                permanent=permanent,
            )

    async def _fail(self, job: Job, error: str, *, permanent: bool) -> None:
        state = await self._db.runInteraction(
            "journal.fail", journal.fail, job.id, error, permanent=permanent
        )
        if state == "failed":
            self._on_settled(job, state)
        level = self.log.error if state == "failed" else self.log.warn
        level(
            "job {id} ({kind}) {outcome}: {error}",
            id=job.id,
            kind=job.kind,
            outcome="parked" if state == "failed" else "will retry",
            error=error,
        )

    async def _complete_with_message(self, job: Job, message: dict[str, Any]) -> None:
        def commit(txn: Any) -> None:
            index_message(txn, message)
            journal.complete(
                txn, job.id, {"message_id": message["id"], "channel_id": message["channel_id"]}
            )

        await self._db.runInteraction("journal.complete", commit)

    # -- operations ------------------------------------------------------------------

    def _pick(self, pool: list[int]) -> int:
        """The pool channel with the least in flight, then the least recently used.

        Each channel has its own rate-limit bucket (5 messages per 5 s), so spreading
        parts over the pool multiplies throughput.
        """
        return min(pool, key=lambda c: (self._in_flight.get(c, 0), self._last_used.get(c, 0.0)))

    async def _post(self, job: Job) -> dict[str, Any]:
        p = job.payload
        pick = "channel_ids" in p and "channel_id" not in p
        if pick:
            pool = p["channel_ids"]
            if not isinstance(pool, list) or not pool:
                raise BadJob("'channel_ids' must be a non-empty list of channel ids")
            channel_id = self._pick([job_int({"channel_id": c}, "channel_id") for c in pool])
        else:
            channel_id = job_int(p, "channel_id")
        # counted from the pick on, so that jobs starting together spread over the pool
        self._in_flight[channel_id] = self._in_flight.get(channel_id, 0) + 1
        self._last_used[channel_id] = self._clock.seconds()
        posting = self._posting.setdefault(channel_id, defer.DeferredLock())
        try:
            await posting.acquire()
            try:
                message = await self._send(job, channel_id, remember=pick)
            finally:
                posting.release()
        finally:
            self._in_flight[channel_id] -= 1
        await self._complete_with_message(job, message)
        return message

    async def _message_of(self, payload: dict[str, Any]) -> tuple[int, int]:
        """(channel, message) a job acts on: named directly, or a record's by eid."""
        if "eid" in payload:
            eid = job_int(payload, "eid")
            record = await self._db.runInteraction("record", store.record_by_eid, eid)
            if record is None:
                raise BadJob(f"there is no record with eid {eid}")
            return int(record["channel_id"]), int(record["message_id"])
        return job_int(payload, "channel_id"), job_int(payload, "message_id")

    async def _send(self, job: Job, channel_id: int, *, remember: bool) -> dict[str, Any]:
        p = job.payload
        content, files = job_text(p, "content"), job_files(p)
        if not content and not files:
            raise BadJob("a post needs 'content' or 'files'")
        if remember:
            # a re-run must post to the same channel, where Discord's nonce check can
            # recognise the first attempt
            p = {**p, "channel_id": channel_id}
            await self._db.runInteraction("journal.remember", journal.remember, job.id, p)
            job.payload.update(p)
        nonce = f"sq{job.id}"
        if job.attempts > 1:
            # a re-run: the first attempt may have landed (and been mirrored) before a crash;
            # Discord's own nonce check only looks back a few minutes
            landed = await self._db.runInteraction("nonce", store.message_by_nonce, nonce)
            if landed is not None:
                message = await self._bridge.call(operations.get_message, *landed)
                if message is not None:
                    return dict(message)
        return dict(
            await self._bridge.call(operations.send_message, channel_id, content, files, nonce)
        )

    async def _edit(self, job: Job) -> dict[str, Any]:
        content = job_text(job.payload, "content", required=True)
        channel_id, message_id = await self._message_of(job.payload)
        message = await self._bridge.call(operations.edit_content, channel_id, message_id, content)
        await self._complete_with_message(job, message)
        return message

    async def _delete(self, job: Job) -> dict[str, Any]:
        """Delete a message, or a record by eid (a spanned file: its parts, then its header)."""
        p = job.payload
        if "eid" in p:
            eid = job_int(p, "eid")
            record = await self._db.runInteraction("record", store.record_by_eid, eid)
            if record is None:
                await self._db.runInteraction(
                    "journal.complete", journal.complete, job.id, {"eid": eid, "gone": True}
                )
                return {}  # deleted by an earlier run, or by someone else: the effect we wanted
            channel_id, message_id = int(record["channel_id"]), int(record["message_id"])
            if record["kind"] == "spanned" and record["file_id"]:
                await self._delete_parts(str(record["file_id"]))
        else:
            channel_id, message_id = job_int(p, "channel_id"), job_int(p, "message_id")
        await self._bridge.call(operations.delete_message, channel_id, message_id)

        def commit(txn: Any) -> None:
            store.delete_records(txn, [message_id])
            journal.complete(txn, job.id, {"deleted": str(message_id)})

        await self._db.runInteraction("journal.complete", commit)
        return {}

    async def _delete_parts(self, file_id: str) -> None:
        """Every part of a spanned file, in bulk per data channel, then its rows."""
        parts = await self._db.runInteraction("parts", spans.parts_of, file_id)
        by_channel: dict[int, list[int]] = {}
        for part in parts:
            by_channel.setdefault(int(part["channel_id"]), []).append(int(part["message_id"]))
        for channel_id, message_ids in by_channel.items():
            for start in range(0, len(message_ids), 100):
                batch = message_ids[start : start + 100]
                try:
                    await self._bridge.call(operations.delete_messages, channel_id, batch)
                except Exception as e:
                    # bulk delete refuses messages older than two weeks: one by one then
                    self.log.debug("bulk delete refused ({error}); deleting one by one", error=e)
                    for message_id in batch:
                        await self._bridge.call(operations.delete_message, channel_id, message_id)

        def forget(txn: Any) -> None:
            store.delete_records(txn, [int(part["message_id"]) for part in parts])
            spans.forget_file(txn, file_id)

        await self._db.runInteraction("spans.forget", forget)
        if self._cache_dir is not None:
            # the shared span cache: a deleted file must not stay readable there
            cache = SpanCache(self._cache_dir, budget_bytes=0)
            await threads.deferToThread(cache.remove, file_id)

    async def _pin(self, job: Job) -> dict[str, Any]:
        p = job.payload
        pinned = p.get("pinned", True)
        if not isinstance(pinned, bool):
            raise BadJob(f"'pinned' must be true or false, not {pinned!r}")
        channel_id, message_id = await self._message_of(p)
        await self._bridge.call(operations.pin, channel_id, message_id, pinned)
        message = await self._bridge.call(operations.get_message, channel_id, message_id)
        if message is None:
            raise BadJob(f"message {message_id} is gone")
        await self._complete_with_message(job, message)
        return message

    async def _reindex(self, job: Job) -> dict[str, Any]:
        """Rebuild the index of channels from their Discord history alone."""
        p = job.payload
        if p.get("all") is True:
            channel_ids = await self._db.runInteraction("reindex.channels", _indexable_channels)
        else:
            raw = p.get("channel_ids")
            if not isinstance(raw, list) or not raw:
                raise BadJob("a reindex needs 'all': true or a non-empty 'channel_ids' list")
            channel_ids = [job_int({"channel_id": c}, "channel_id") for c in raw]
        messages = removed = 0
        for channel_id in channel_ids:
            seen: list[int] = []
            before: int | None = None
            while True:
                page = await self._bridge.call(
                    operations.history, channel_id, limit=100, before=before
                )
                if not page:
                    break
                await self._db.runInteraction("reindex.page", _index_page, page)
                seen.extend(int(m["id"]) for m in page)
                before = min(int(m["id"]) for m in page)
                if len(page) < 100:
                    break
            messages += len(seen)
            removed += await self._db.runInteraction(
                "reindex.prune", _prune_channel, channel_id, seen
            )
        result = {"channels": len(channel_ids), "messages": messages, "removed": removed}
        await self._db.runInteraction("journal.complete", journal.complete, job.id, result)
        return result

    async def _refresh(self, job: Job) -> dict[str, Any]:
        """Fresh signed URLs for one record (`eid`) or one spanned file (`file_id`)."""
        p = job.payload
        if "eid" in p:
            done = await refresh_rows(self._db, self._bridge, eid=job_int(p, "eid"))
        elif isinstance(p.get("file_id"), str):
            done = await refresh_rows(self._db, self._bridge, file_id=p["file_id"])
        else:
            raise BadJob("a refresh needs 'eid' or 'file_id'")
        result = {"refreshed": done}
        await self._db.runInteraction("journal.complete", journal.complete, job.id, result)
        return result

    async def _gc(self, job: Job) -> dict[str, Any]:
        """Orphan parts in the data channels: reported, and deleted with 'apply'."""
        p = job.payload
        apply, min_age = p.get("apply", False), p.get("min_age_s", 3600)
        if not isinstance(apply, bool):
            raise BadJob(f"'apply' must be true or false, not {apply!r}")
        if isinstance(min_age, bool) or not isinstance(min_age, int | float) or min_age < 0:
            raise BadJob(f"'min_age_s' must be a number of seconds >= 0, not {min_age!r}")
        result = await sweep_orphans(self._db, self._bridge, min_age_s=min_age, apply=apply)
        await self._db.runInteraction("journal.complete", journal.complete, job.id, result)
        return result

    async def _stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        # finish what is in flight (each ends in the journal as done, retry or failed)
        if self._running:
            await defer.DeferredList(list(self._running.values()), consumeErrors=True)

    def stop(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._stop())
