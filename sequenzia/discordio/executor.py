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

from twisted.internet import defer, task
from twisted.logger import Logger

from sequenzia.discordio import journal, operations
from sequenzia.discordio.breaker import InvalidRequestBreaker
from sequenzia.discordio.indexing import index_message
from sequenzia.discordio.journal import Job
from sequenzia.junefs import store


class BadJob(Exception):
    """A job whose payload can never succeed; it is parked with this message."""


def _int(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BadJob(f"'{key}' must be a Discord id (a whole number), not {value!r}")
    return int(value)


def _text(payload: dict[str, Any], key: str, *, required: bool = False, limit: int = 2000) -> str:
    value = payload.get(key, None)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadJob(f"'{key}' must be text, not {value!r}")
    if len(value) > limit:
        raise BadJob(f"'{key}' is {len(value)} characters; Discord allows {limit}")
    return value


def _files(payload: dict[str, Any]) -> list[operations.OutgoingFile]:
    files = payload.get("files", [])
    if not isinstance(files, list) or len(files) > 10:
        raise BadJob("'files' must be a list of at most 10 {path, filename} objects")
    out = []
    for n, f in enumerate(files):
        if (
            not isinstance(f, dict)
            or not isinstance(f.get("path"), str)
            or not isinstance(f.get("filename"), str)
        ):
            raise BadJob(f"files[{n}] must be an object with 'path' and 'filename'")
        if not Path(f["path"]).is_file():
            raise BadJob(f"files[{n}]: staged file {f['path']} does not exist")
        out.append(operations.OutgoingFile(f["path"], f["filename"]))
    return out


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
        self.breaker = breaker or InvalidRequestBreaker(clock.seconds)
        self._loop: task.LoopingCall | None = None
        self._claiming = False
        self.operations: dict[str, Operation] = {
            "post": self._post,
            "edit": self._edit,
            "delete": self._delete,
            "pin": self._pin,
            "reindex": self._reindex,
        }

    def start(self) -> None:
        self._loop = task.LoopingCall(self.wake)
        self._loop.clock = self._clock
        self._loop.start(self._poll_s, now=True)

    def wake(self) -> None:
        """Look for due jobs now (a bus nudge, the poll, or a finished job)."""
        if self._claiming or not self._may_write() or self.breaker.open:
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
        if "channel_ids" in p:
            pool = p["channel_ids"]
            if not isinstance(pool, list) or not pool:
                raise BadJob("'channel_ids' must be a non-empty list of channel ids")
            channel_id = self._pick([_int({"channel_id": c}, "channel_id") for c in pool])
        else:
            channel_id = _int(p, "channel_id")
        content, files = _text(p, "content"), _files(p)
        if not content and not files:
            raise BadJob("a post needs 'content' or 'files'")
        self._in_flight[channel_id] = self._in_flight.get(channel_id, 0) + 1
        self._last_used[channel_id] = self._clock.seconds()
        try:
            message = await self._bridge.call(
                operations.send_message, channel_id, content, files, f"sq{job.id}"
            )
        finally:
            self._in_flight[channel_id] -= 1
        await self._complete_with_message(job, message)
        return message

    async def _edit(self, job: Job) -> dict[str, Any]:
        p = job.payload
        message = await self._bridge.call(
            operations.edit_content,
            _int(p, "channel_id"),
            _int(p, "message_id"),
            _text(p, "content", required=True),
        )
        await self._complete_with_message(job, message)
        return message

    async def _delete(self, job: Job) -> dict[str, Any]:
        p = job.payload
        channel_id, message_id = _int(p, "channel_id"), _int(p, "message_id")
        await self._bridge.call(operations.delete_message, channel_id, message_id)

        def commit(txn: Any) -> None:
            store.delete_records(txn, [message_id])
            journal.complete(txn, job.id, {"deleted": str(message_id)})

        await self._db.runInteraction("journal.complete", commit)
        return {}

    async def _pin(self, job: Job) -> dict[str, Any]:
        p = job.payload
        pinned = p.get("pinned", True)
        if not isinstance(pinned, bool):
            raise BadJob(f"'pinned' must be true or false, not {pinned!r}")
        channel_id, message_id = _int(p, "channel_id"), _int(p, "message_id")
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
            channel_ids = [_int({"channel_id": c}, "channel_id") for c in raw]
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

    async def _stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        # finish what is in flight (each ends in the journal as done, retry or failed)
        if self._running:
            await defer.DeferredList(list(self._running.values()), consumeErrors=True)

    def stop(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._stop())
