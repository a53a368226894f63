"""The job journal on both dialects: priorities, idempotency, backoff, parking, recovery."""

from __future__ import annotations

import pytest
import pytest_twisted

from sequenzia.db.pool import Database
from sequenzia.discordio import journal
from sequenzia.discordio.journal import BACKLOG, INTERACTIVE, NORMAL


@pytest_twisted.ensureDeferred
async def test_claims_most_urgent_first_and_only_due_jobs(database: Database) -> None:
    run = database.runInteraction
    backlog = await run("e", journal.enqueue, "post", {"n": 1}, priority=BACKLOG, now=1000)
    normal = await run("e", journal.enqueue, "post", {"n": 2}, priority=NORMAL, now=1000)
    urgent = await run("e", journal.enqueue, "post", {"n": 3}, priority=INTERACTIVE, now=1000)
    claimed = await run("c", journal.claim, "io-1", 2, now=1000)
    assert [j.id for j in claimed] == [urgent, normal]
    assert all(j.state == "running" and j.attempts == 1 for j in claimed)
    assert [j.id for j in await run("c", journal.claim, "io-1", 10, now=1000)] == [backlog]
    assert await run("c", journal.claim, "io-1", 10, now=1000) == []


@pytest_twisted.ensureDeferred
async def test_idempotency_key_returns_the_same_job(database: Database) -> None:
    run = database.runInteraction
    first = await run("e", journal.enqueue, "post", {"a": 1}, idempotency_key="upload-x-part-3")
    again = await run("e", journal.enqueue, "post", {"a": 1}, idempotency_key="upload-x-part-3")
    other = await run("e", journal.enqueue, "post", {"a": 1}, idempotency_key="upload-x-part-4")
    assert first == again != other
    assert (await run("n", journal.counts))["queued"] == 2


@pytest_twisted.ensureDeferred
async def test_failures_back_off_then_park_and_admin_retry(database: Database) -> None:
    run = database.runInteraction
    job_id = await run("e", journal.enqueue, "post", {}, max_attempts=2, now=0)
    (job,) = await run("c", journal.claim, "io", 5, now=0)
    assert await run("f", journal.fail, job.id, "HTTP 503", now=0) == "queued"
    assert await run("c", journal.claim, "io", 5, now=500) == [], "not due before its backoff"
    (job,) = await run("c", journal.claim, "io", 5, now=1000)
    assert job.attempts == 2
    assert await run("f", journal.fail, job.id, "HTTP 503 again", now=1000) == "failed"
    parked = await run("g", journal.get, job_id)
    assert parked.state == "failed" and parked.last_error == "HTTP 503 again"
    assert [j.id for j in await run("l", journal.list_jobs, "failed")] == [job_id]
    assert await run("r", journal.retry, job_id) is True
    assert await run("r", journal.retry, job_id) is False, "only parked jobs are retried"
    (job,) = await run("c", journal.claim, "io", 5)
    assert job.attempts == 1
    await run("d", journal.complete, job.id, {"message_id": "42"})
    done = await run("g", journal.get, job_id)
    assert done.state == "done" and done.result == {"message_id": "42"} and done.last_error is None


@pytest_twisted.ensureDeferred
async def test_permanent_failure_parks_at_once(database: Database) -> None:
    run = database.runInteraction
    job_id = await run("e", journal.enqueue, "post", {"channel_id": 1})
    await run("c", journal.claim, "io", 1)
    assert await run("f", journal.fail, job_id, "unknown channel 1", permanent=True) == "failed"


@pytest_twisted.ensureDeferred
async def test_running_jobs_of_a_dead_process_are_requeued(database: Database) -> None:
    run = database.runInteraction
    for n in range(3):
        await run("e", journal.enqueue, "post", {"n": n})
    await run("c", journal.claim, "dead-io", 2)
    assert await run("r", journal.requeue_interrupted) == 2
    assert (await run("n", journal.counts)) == {"queued": 3, "running": 0, "done": 0, "failed": 0}


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown priority"):
        journal.enqueue(None, "post", {}, priority=7)
    with pytest.raises(ValueError, match="unknown job state"):
        journal.list_jobs(None, "exploded")
    assert [journal.backoff_ms(n) for n in (1, 2, 3)] == [1000, 2000, 4000]
    assert journal.backoff_ms(30) == 5 * 60 * 1000
