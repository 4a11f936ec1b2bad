"""Several senders sharing one broadcast on PostgreSQL, and a sender killed with SIGKILL mid-broadcast.

Both run against the stand-in Bot API (loopback), which counts every delivery per chat.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func, select

from bench.broadcast.standin import StandIn
from bot.app import build_bot
from bot.sender import Sender
from core import broadcasts, outbox
from core.settings import ROOT
from db.enums import BroadcastStatus, OutboxStatus
from db.models import OutboxNotification
from tests.support.outages import real_clock_ctx, seed_broadcast

pytestmark = pytest.mark.usefixtures("compiled_catalogs")


@pytest.mark.postgres
async def test_concurrent_claims_never_overlap(pg_url: str) -> None:
    ctx = await real_clock_ctx(pg_url)
    try:
        await seed_broadcast(ctx, 500)

        async def claim(worker: str) -> list[int]:
            got: list[int] = []
            while True:
                async with ctx.sessionmaker() as s:
                    batch = await outbox.claim_due(s, now=ctx.clock.now(), worker=worker, limit=20)
                if not batch:
                    return got
                got += [c.id for c in batch]

        results = await asyncio.gather(*(claim(f"w{i}") for i in range(8)))
        flat = [i for r in results for i in r]
        assert len(flat) == len(set(flat)) == 500
        assert sum(1 for r in results if r) >= 2, "the claims should have been shared"
    finally:
        await ctx.close()


@pytest.mark.postgres
async def test_several_senders_share_a_broadcast_without_duplicates(pg_url: str) -> None:
    standin = StandIn(global_rate=1000, chat_interval=1.0)
    base = await standin.start()
    contexts = [await real_clock_ctx(pg_url, rate_per_second=400.0, batch_size=25) for _ in range(4)]
    bots = [build_bot(c.settings, AiohttpSession(api=TelegramAPIServer.from_base(base))) for c in contexts]
    try:
        bid = await seed_broadcast(contexts[0], 800)
        # Separate contexts = separate engines and limiters, as separate processes would have.
        senders = [Sender(c, b, worker_id=f"s{i}") for i, (c, b) in enumerate(zip(contexts, bots, strict=True))]
        tasks = [asyncio.create_task(s.run(idle_sleep=0.05)) for s in senders]
        deadline = time.monotonic() + 240  # generous: a loaded machine is slow, never wrong
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            async with contexts[0].sessionmaker() as s:
                if await outbox.pending_count(s) == 0:
                    break
        for s in senders:
            s.stop()
        await asyncio.gather(*tasks)
        stats = standin.stats()
        assert stats["chats"] == 800 and stats["duplicates"] == 0 and stats["delivered"] == 800
        assert sum(1 for s in senders if s.stats["sent"] > 0) >= 2, [s.stats for s in senders]
        async with contexts[0].sessionmaker() as s:
            p = await broadcasts.progress(s, bid, now=contexts[0].clock.now())
        assert p.sent == 800 and p.status is BroadcastStatus.done
        # The shared gate kept the four senders together near one global rate (400/s), not 4 × 400.
        assert stats["rate"] < 600, stats
    finally:
        for b in bots:
            await b.session.close()
        for c in contexts:
            await c.close()
        await standin.stop()


def _sender_process(db: str, api: str, worker: str, *, until_idle: bool, rate: float, batch: int,
                    lease: float, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.broadcast.sender_proc", "--db", db, "--api", api, "--worker-id", worker,
           "--rate", str(rate), "--batch", str(batch), "--lease", str(lease)]
    if until_idle:
        cmd.append("--until-idle")
    # Output to a file, never an unread pipe: a full pipe would block the child's logging.
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


async def _until(condition, what: str, *, proc: subprocess.Popen | None = None, log: Path | None = None,
                 timeout: float = 300.0) -> None:
    """Poll an observable condition (never a fixed sleep); generous timeout for a loaded machine."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"sender exited ({proc.returncode}) while waiting for {what}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}" + (f":\n{_tail(log)}" if log else ""))
        await asyncio.sleep(0.05)


async def _count(session, *where) -> int:
    return (await session.execute(select(func.count()).select_from(OutboxNotification).where(*where))).scalar_one()


def _returned(proc: subprocess.Popen):
    async def check() -> bool:
        return proc.poll() is not None
    return check


async def test_sigkill_mid_broadcast_sqlite(tmp_path) -> None:
    await _sigkill_scenario(f"sqlite+aiosqlite:///{tmp_path}/kill.db", tmp_path)


@pytest.mark.postgres
async def test_sigkill_mid_broadcast_postgres(pg_url: str, tmp_path) -> None:
    await _sigkill_scenario(pg_url, tmp_path)


async def _sigkill_scenario(shared_db: str, tmp_path: Path) -> None:
    """Kill -9 a sender mid-broadcast, start another: no resident skipped, duplicates at most one batch.

    Deterministic on a loaded machine: the stand-in answers the first third of the messages and then keeps
    delivering but holds its answers back, so the sender stalls with messages accepted by "Telegram" and not
    yet marked sent — the in-flight window — whatever the machine's speed. It is killed there.
    """
    n, batch, rate = 600, 50, 100.0
    standin = StandIn(global_rate=1000, chat_interval=1.0, hold_after=n // 3)
    base = await standin.start()
    ctx = await real_clock_ctx(shared_db)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = second = None
    try:
        await seed_broadcast(ctx, n)
        first = _sender_process(shared_db, base, "first", until_idle=False, rate=rate, batch=batch, lease=15.0,
                                log=first_log)

        async def stalled_in_flight() -> bool:
            # The answered third is marked sent, and a few more messages are accepted but unanswered.
            if standin.stats()["held"] < 5:
                return False
            async with ctx.sessionmaker() as s:
                return await _count(s, OutboxNotification.status == OutboxStatus.sent) == n // 3

        await _until(stalled_in_flight, "messages in flight", proc=first, log=first_log)
        os.kill(first.pid, signal.SIGKILL)  # accepted by the API, not yet marked sent
        await asyncio.to_thread(first.wait, 60)
        at_kill = standin.stats()
        standin.release()
        assert at_kill["delivered"] == n // 3 + at_kill["held"] < n
        assert at_kill["held"] <= batch, "more than one batch in flight"
        async with ctx.sessionmaker() as s:
            leased = await _count(s, OutboxNotification.status == OutboxStatus.pending,
                                  OutboxNotification.locked_by == "first", OutboxNotification.locked_until.is_not(None))
        # In flight (at most one batch) plus the batches claimed ahead, which were never sent.
        assert at_kill["held"] <= leased <= 3 * batch

        # A different worker id: it has to wait for the dead sender's lease to expire, as in production.
        second = _sender_process(shared_db, base, "second", until_idle=True, rate=rate, batch=batch, lease=15.0,
                                 log=second_log)
        await _until(_returned(second), "the second sender to finish", log=second_log)
        assert second.returncode == 0, _tail(second_log)
        stats = standin.stats()
        assert stats["chats"] == n, "a resident was skipped"
        # Exactly the messages in flight at the kill were sent twice, nothing else.
        assert stats["duplicates"] == at_kill["held"], stats
        assert stats["delivered"] == n + at_kill["held"]
        async with ctx.sessionmaker() as s:
            statuses = (await s.execute(select(OutboxNotification.status))).scalars().all()
        assert len(statuses) == n and set(statuses) == {OutboxStatus.sent}
        print(f"SIGKILL: delivered at kill {at_kill['delivered']}, in flight {at_kill['held']}, leased {leased}, "
              f"duplicates {stats['duplicates']}")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        await standin.stop()
        await ctx.close()
