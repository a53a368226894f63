"""How other components ask Discord I/O for a write: a journal row, then a bus nudge."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from sequenzia.discordio import journal

JOBS_TOPIC = "jobs.discordio"
"""A job was journalled: {job_id}. The io role listens."""
SETTLED_TOPIC = "jobs.discordio.settled"
"""A job ended: {job_id, kind, state} (done or failed). Any role may listen."""


async def _submit(
    database: Any,
    bus: Any,
    kind: str,
    payload: dict[str, Any],
    priority: int,
    idempotency_key: str | None,
) -> int:
    job_id = await database.runInteraction(
        "journal.enqueue",
        journal.enqueue,
        kind,
        payload,
        priority=priority,
        idempotency_key=idempotency_key,
    )
    # The row is the durable part; the nudge only saves the io role its next poll.
    await bus.publish(JOBS_TOPIC, {"job_id": job_id})
    return int(job_id)


def submit(
    database: Any,
    bus: Any,
    kind: str,
    payload: dict[str, Any],
    *,
    priority: int = journal.NORMAL,
    idempotency_key: str | None = None,
) -> defer.Deferred[int]:
    """Journal a Discord write (post, edit, delete, pin); fires with the job id."""
    return defer.ensureDeferred(_submit(database, bus, kind, payload, priority, idempotency_key))
