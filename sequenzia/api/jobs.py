"""Discord I/O jobs through the API: submit and wait, look, list, and an admin's retry."""

from __future__ import annotations

from typing import Any

from twisted.internet import task

from sequenzia.api.router import ApiError, Call, Route
from sequenzia.discordio import journal
from sequenzia.discordio.submit import JOBS_TOPIC, submit

MAX_WAIT_S = 60


class JobsApi:
    def __init__(self, database: Any, bus: Any, clock: Any) -> None:
        self._db = database
        self._bus = bus
        self._clock = clock

    async def submit(
        self,
        call: Call,
        kind: str,
        payload: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> tuple[int, Any]:
        """Journal a job for the caller; 202 with it, or (with ?wait=S) its outcome."""
        call.query_int("wait", 0, 0, MAX_WAIT_S)  # refuse a bad value before journalling
        key = call.request.getHeader("idempotency-key")
        if key is not None and not 0 < len(key) <= 100:
            raise ApiError(400, "the Idempotency-Key header must be 1 to 100 characters")
        job_id = await submit(
            self._db,
            self._bus,
            kind,
            payload,
            priority=journal.INTERACTIVE,
            idempotency_key=idempotency_key or (f"api:{key}" if key else None),
        )
        return await self.wait_for(call, job_id)

    async def wait_for(self, call: Call, job_id: int) -> tuple[int, Any]:
        """The job, once settled or when ?wait=S runs out: 200 settled, 202 not yet."""
        wait = call.query_int("wait", 0, 0, MAX_WAIT_S)
        job = await self._db.runInteraction("journal.get", journal.get, job_id)
        deadline = self._clock.seconds() + wait
        while job.state not in ("done", "failed") and self._clock.seconds() < deadline:
            await task.deferLater(self._clock, 0.1, lambda: None)
            job = await self._db.runInteraction("journal.get", journal.get, job_id)
        call.response_headers["Location"] = f"/api/v1/jobs/{job_id}"
        settled = job.state in ("done", "failed")
        return (200 if settled else 202), {"job": job.public()}

    async def get(self, call: Call) -> tuple[int, Any]:
        job = await self._db.runInteraction("journal.get", journal.get, call.param_id("job_id"))
        if job is None:
            raise ApiError(404, f"there is no job {call.params['job_id']}")
        return 200, {"job": job.public()}

    async def list_jobs(self, call: Call) -> tuple[int, Any]:
        state = call.query("state")
        if state is not None and state not in journal.STATES:
            raise ApiError(
                400, f"query parameter 'state' must be one of {', '.join(journal.STATES)}"
            )
        limit = call.query_int("limit", 50, 1, 500)
        before = call.query_int("before", 0, 0, 2**62) or None
        jobs = await self._db.runInteraction(
            "journal.list", journal.list_jobs, state, limit, before
        )
        counts = await self._db.runInteraction("journal.counts", journal.counts)
        page: dict[str, Any] = {"jobs": [j.public() for j in jobs], "counts": counts}
        if len(jobs) == limit:
            page["next"] = f"/api/v1/jobs?limit={limit}&before={jobs[-1].id}" + (
                f"&state={state}" if state else ""
            )
        return 200, page

    async def retry(self, call: Call) -> tuple[int, Any]:
        job_id = call.param_id("job_id")
        if not await self._db.runInteraction("journal.retry", journal.retry, job_id):
            job = await self._db.runInteraction("journal.get", journal.get, job_id)
            if job is None:
                raise ApiError(404, f"there is no job {job_id}")
            raise ApiError(409, f"job {job_id} is {job.state}; only a failed job can be retried")
        await self._bus.publish(JOBS_TOPIC, {"job_id": job_id})
        job = await self._db.runInteraction("journal.get", journal.get, job_id)
        return 200, {"job": job.public()}

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/jobs", self.list_jobs, "admin", "List Discord I/O jobs, newest first (filter by state; page with before)"),
            Route("GET", "/jobs/{job_id}", self.get, "read", "One Discord I/O job: its state, error and result"),
            Route("POST", "/jobs/{job_id}/retry", self.retry, "admin", "Queue a failed (parked) job again with a fresh attempt budget"),
        ]  # fmt: skip
