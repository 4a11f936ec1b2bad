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

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core import alerts, inbox, outages, repairs, requests_jobs
from core.context import AppContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[AppContext], Awaitable[object]]


def default_jobs() -> list[Job]:
    """All periodic jobs of the product. Features append theirs here."""
    return [
        Job("requests.escalate", 300, requests_jobs.escalate),  # complaint and callback deadlines
        Job("requests.remind", 600, requests_jobs.remind),  # visit reminders
        Job("outage-reminders", 300, outages.send_due_reminders),  # R9
        Job("account-alerts", 1800, alerts.run_alerts),  # low credit, R11
        Job("inbox-prune", 3600, inbox.prune_job),  # retention of handled updates
        Job("repair-callbacks", 600, repairs.ensure_callbacks),  # R7
    ]


LEADER_LOCK = 0x4F4E4553_0001  # PostgreSQL advisory lock id of the scheduler ("ONES", 1)


class Leadership:
    """Exactly one scheduler across processes (issue 13): on PostgreSQL the one holding a session-level
    advisory lock on a connection it keeps open; the lock goes when that process or connection dies, and
    another process's next tick takes it. SQLite is a single-host database: every scheduler leads there
    (jobs are idempotent anyway)."""

    def __init__(self, ctx: AppContext) -> None:
        self.engine = ctx.engine
        self.conn: AsyncConnection | None = None

    async def lead(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        try:
            if self.conn is not None:
                await self.conn.execute(text("SELECT 1"))  # still connected, so still holding the lock
                await self.conn.commit()
                return True
            self.conn = await self.engine.connect()
            got = bool((await self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                                {"k": LEADER_LOCK})).scalar())
            await self.conn.commit()
            if not got:
                await self.release()
            return got
        except Exception as e:  # connection lost: the lock is gone with it; try again next tick
            log.warning("scheduler leadership check failed (%s)", type(e).__name__)
            await self.release()
            return False

    async def release(self) -> None:
        if self.conn is None:
            return
        conn, self.conn = self.conn, None
        try:
            # A pooled connection outlives close(): unlock explicitly, or another process never leads.
            await conn.execute(text("SELECT pg_advisory_unlock_all()"))
            await conn.commit()
            await conn.close()
        except Exception:
            with contextlib.suppress(Exception):
                await conn.invalidate()  # drop the DBAPI connection; the server frees its locks
                await conn.close()


async def run_scheduler(ctx: AppContext, jobs: list[Job] | None = None, stop: asyncio.Event | None = None,
                        tick: float = 5.0) -> None:
    jobs = default_jobs() if jobs is None else jobs
    stop = stop or asyncio.Event()
    last: dict[str, float] = {}
    leadership = Leadership(ctx)
    try:
        while not stop.is_set():
            if await leadership.lead():
                await _run_due(ctx, jobs, last)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick)
    finally:
        await leadership.release()


async def _run_due(ctx: AppContext, jobs: list[Job], last: dict[str, float]) -> None:
    now = time.monotonic()
    for job in jobs:
        if now - last.get(job.name, -1e9) >= job.every_seconds:
            last[job.name] = now
            try:
                await job.run(ctx)
            except Exception:
                log.exception("job %s failed", job.name)
