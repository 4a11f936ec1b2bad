"""Periodic jobs (reminders, escalations, alerts) run by ``onestop run`` / ``onestop worker``.

Each feature contributes jobs in ``default_jobs``; a job is an async function of the context that
must be idempotent, because two workers may run it at the same time and a crash may repeat it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.context import AppContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[AppContext], Awaitable[object]]


def default_jobs() -> list[Job]:
    """All periodic jobs of the product. Features append theirs here."""
    jobs: list[Job] = []
    from core import requests_jobs  # service requests (issue 5)
    jobs.extend(requests_jobs.jobs())
    jobs.append(Job("outage-reminders", 300, __import__("core.outages").outages.send_due_reminders))  # R9, issue 7
    jobs.append(Job("account-alerts", 1800, __import__("core.alerts").alerts.run_alerts))  # low credit, R11, issue 4
    jobs.append(Job("repair-callbacks", 600, __import__("core.repairs").repairs.ensure_callbacks))  # R7, issue 15
    return jobs


async def run_scheduler(ctx: AppContext, jobs: list[Job] | None = None, stop: asyncio.Event | None = None) -> None:
    jobs = default_jobs() if jobs is None else jobs
    stop = stop or asyncio.Event()
    last: dict[str, float] = {}
    while not stop.is_set():
        now = time.monotonic()
        for job in jobs:
            if now - last.get(job.name, -1e9) >= job.every_seconds:
                last[job.name] = now
                try:
                    await job.run(ctx)
                except Exception:
                    log.exception("job %s failed", job.name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5)
