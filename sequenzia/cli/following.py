"""Journalling a job for the io role from the command line, and following it to its end."""

from __future__ import annotations

import sys
import time
from typing import Any

from sequenzia.cli.errors import CommandFailed
from sequenzia.db.direct import run_interaction
from sequenzia.db.url import DatabaseURL
from sequenzia.discordio import journal


def journal_job(url: DatabaseURL, kind: str, payload: dict[str, Any]) -> int:
    try:
        return int(run_interaction(url, journal.enqueue, kind, payload, priority=journal.BACKLOG))
    except Exception as e:
        raise CommandFailed(f"cannot journal the {kind} job: {e}") from None


def follow(url: DatabaseURL, job_id: int, kind: str, timeout: float) -> dict[str, Any]:
    """Wait for the job to be done (its result) or failed (CommandFailed)."""
    print(
        f"{kind} journalled as job {job_id}; waiting for the io role (twistd sequenzia) to run it",
        file=sys.stderr,
    )
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        job = run_interaction(url, journal.get, job_id)
        if job is None:
            raise CommandFailed(f"job {job_id} disappeared")
        if job.state == "done":
            return job.result or {}
        if job.state == "failed":
            raise CommandFailed(f"{kind} job {job_id} failed: {job.last_error}")
        if deadline is not None and time.monotonic() > deadline:
            raise CommandFailed(
                f"{kind} job {job_id} still {job.state} after {timeout:g} s; it stays journalled"
            )
        time.sleep(0.5)
