"""The Discord I/O job journal: every write to Discord is a row here before it happens.

States: queued → running → done, or back to queued with a later `not_before_ts` after a
failure, or failed (parked) after `max_attempts`; an admin can requeue a parked job.
A job found `running` when an io process takes the lease was cut off by a crash: it is
requeued, and the job's own idempotency (a nonce, and a look for its effect before
re-sending) keeps it from posting twice.

These functions run inside a database interaction (`runInteraction(desc, fn, ...)`):
`txn` is the pool's transaction wrapper.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

INTERACTIVE, NORMAL, BACKLOG = 0, 1, 2
PRIORITIES = {"interactive": INTERACTIVE, "normal": NORMAL, "backlog": BACKLOG}
STATES = ("queued", "running", "done", "failed")

_COLUMNS = (
    "id, kind, priority, state, payload, idempotency_key, attempts, max_attempts,"
    " not_before_ts, last_error, result, created_ts, updated_ts"
)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    priority: int
    state: str
    payload: dict[str, Any]
    idempotency_key: str | None
    attempts: int
    max_attempts: int
    not_before_ts: int
    last_error: str | None
    result: dict[str, Any] | None
    created_ts: int
    updated_ts: int

    def public(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "priority": {v: k for k, v in PRIORITIES.items()}.get(self.priority, self.priority),
            "state": self.state,
            "payload": self.payload,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "last_error": self.last_error,
            "result": self.result,
            "created_ts": self.created_ts,
            "updated_ts": self.updated_ts,
        }


def _job(row: tuple[Any, ...]) -> Job:
    return Job(
        id=int(row[0]),
        kind=row[1],
        priority=int(row[2]),
        state=row[3],
        payload=json.loads(row[4]),
        idempotency_key=row[5],
        attempts=int(row[6]),
        max_attempts=int(row[7]),
        not_before_ts=int(row[8]),
        last_error=row[9],
        result=json.loads(row[10]) if row[10] else None,
        created_ts=int(row[11]),
        updated_ts=int(row[12]),
    )


def enqueue(
    txn: Any,
    kind: str,
    payload: dict[str, Any],
    *,
    priority: int = NORMAL,
    idempotency_key: str | None = None,
    max_attempts: int = 8,
    now: int | None = None,
) -> int:
    """Add a job; with an idempotency key already known, return that job's id instead."""
    if priority not in PRIORITIES.values():
        raise ValueError(f"unknown priority {priority!r}")
    now = now_ms() if now is None else now
    if idempotency_key is not None:
        txn.execute("SELECT id FROM io_jobs WHERE idempotency_key = ?", (idempotency_key,))
        row = txn.fetchone()
        if row is not None:
            return int(row[0])
    txn.execute(
        "INSERT INTO io_jobs (kind, priority, state, payload, idempotency_key, attempts,"
        " max_attempts, not_before_ts, created_ts, updated_ts)"
        " VALUES (?, ?, 'queued', ?, ?, 0, ?, ?, ?, ?)",
        (kind, priority, json.dumps(payload), idempotency_key, max_attempts, now, now, now),
    )
    return int(txn.lastrowid)


def claim(txn: Any, holder: str, limit: int, now: int | None = None) -> list[Job]:
    """Take up to `limit` due jobs, most urgent first, and mark them running."""
    now = now_ms() if now is None else now
    txn.execute(
        f"SELECT {_COLUMNS} FROM io_jobs WHERE state = 'queued' AND not_before_ts <= ?"  # noqa: S608
        " ORDER BY priority, id LIMIT ?",
        (now, limit),
    )
    jobs = [_job(r) for r in txn.fetchall()]
    claimed = []
    for job in jobs:
        txn.execute(
            "UPDATE io_jobs SET state = 'running', attempts = attempts + 1, claimed_by = ?,"
            " updated_ts = ? WHERE id = ? AND state = 'queued'",
            (holder, now, job.id),
        )
        if txn.rowcount == 1:
            claimed.append(
                Job(
                    **{
                        **job.__dict__,
                        "state": "running",
                        "attempts": job.attempts + 1,
                        "updated_ts": now,
                    }
                )
            )
    return claimed


def complete(txn: Any, job_id: int, result: dict[str, Any], now: int | None = None) -> None:
    now = now_ms() if now is None else now
    txn.execute(
        "UPDATE io_jobs SET state = 'done', result = ?, last_error = NULL, updated_ts = ? WHERE id = ?",
        (json.dumps(result), now, job_id),
    )


def remember(txn: Any, job_id: int, payload: dict[str, Any], now: int | None = None) -> None:
    """Store what a running job learnt (its payload grows), so a re-run after a crash
    continues from the same facts instead of looking them up again."""
    now = now_ms() if now is None else now
    txn.execute(
        "UPDATE io_jobs SET payload = ?, updated_ts = ? WHERE id = ?",
        (json.dumps(payload), now, job_id),
    )


def backoff_ms(attempts: int, base_ms: int = 1000, cap_ms: int = 5 * 60 * 1000) -> int:
    """Exponential backoff: 1 s, 2 s, 4 s … capped at five minutes."""
    return min(cap_ms, base_ms * 2 ** max(0, attempts - 1))


def fail(
    txn: Any, job_id: int, error: str, *, permanent: bool = False, now: int | None = None
) -> str:
    """Record a failed attempt: requeue with backoff, or park it. Returns the new state."""
    now = now_ms() if now is None else now
    txn.execute("SELECT attempts, max_attempts FROM io_jobs WHERE id = ?", (job_id,))
    row = txn.fetchone()
    if row is None:
        raise KeyError(f"no job {job_id}")
    attempts, max_attempts = int(row[0]), int(row[1])
    state = "failed" if permanent or attempts >= max_attempts else "queued"
    txn.execute(
        "UPDATE io_jobs SET state = ?, last_error = ?, not_before_ts = ?, updated_ts = ? WHERE id = ?",
        (state, error[:2000], now + backoff_ms(attempts), now, job_id),
    )
    return state


def requeue_interrupted(txn: Any, now: int | None = None) -> int:
    """Jobs left running by a process that died: back to the queue. Returns how many."""
    now = now_ms() if now is None else now
    txn.execute(
        "UPDATE io_jobs SET state = 'queued', not_before_ts = ?, updated_ts = ? WHERE state = 'running'",
        (now, now),
    )
    return int(txn.rowcount)


def retry(txn: Any, job_id: int, now: int | None = None) -> bool:
    """An admin's retry of a parked job: queued again with a fresh attempt budget."""
    now = now_ms() if now is None else now
    txn.execute(
        "UPDATE io_jobs SET state = 'queued', attempts = 0, not_before_ts = ?, updated_ts = ?"
        " WHERE id = ? AND state = 'failed'",
        (now, now, job_id),
    )
    return txn.rowcount == 1


def get(txn: Any, job_id: int) -> Job | None:
    txn.execute(f"SELECT {_COLUMNS} FROM io_jobs WHERE id = ?", (job_id,))  # noqa: S608
    row = txn.fetchone()
    return _job(row) if row else None


def list_jobs(
    txn: Any, state: str | None = None, limit: int = 100, before_id: int | None = None
) -> list[Job]:
    """Newest first; filter by state; page with `before_id`."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown job state {state!r}; one of {', '.join(STATES)}")
    where: list[str] = []
    args: list[Any] = []
    if state is not None:
        where.append("state = ?")
        args.append(state)
    if before_id is not None:
        where.append("id < ?")
        args.append(before_id)
    sql = f"SELECT {_COLUMNS} FROM io_jobs"  # noqa: S608
    if where:
        sql += " WHERE " + " AND ".join(where)
    txn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
    return [_job(r) for r in txn.fetchall()]


def counts(txn: Any) -> dict[str, int]:
    txn.execute("SELECT state, COUNT(*) FROM io_jobs GROUP BY state")
    found = {row[0]: int(row[1]) for row in txn.fetchall()}
    return {s: found.get(s, 0) for s in STATES}
