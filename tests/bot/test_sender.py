"""The outbox sender: limits, 429, blocked users, retries, pause/resume/cancel, and a flaky Bot API."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from aiogram import methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import ResponseParameters
from sqlalchemy import select

from bench.broadcast.standin import StandIn
from bot.app import build_bot
from bot.sender import RateLimiter, Sender, shared_limiter
from core import broadcasts, outbox
from db.enums import BroadcastStatus, OutboxStatus, StaffRole
from db.models import OutboxNotification, Resident, SendGate
from tests.support.outages import real_clock_ctx, seed_broadcast

pytestmark = pytest.mark.usefixtures("compiled_catalogs")


async def _resident(session, rid: int, now, *, blocked: bool = False) -> None:
    session.add(Resident(id=rid, first_name="r", language="zh_Hans", guided_mode=False, blocked=blocked,
                         link_failures=0, misses=0, created_at=now))
    await session.commit()


async def _row(session, row_id: int) -> OutboxNotification:
    return await session.get(OutboxNotification, row_id, populate_existing=True)


async def _enqueue(session, now, rid: int, text: str = "hi", **kw) -> int:
    row = outbox.enqueue(session, resident_id=rid, kind="test", payload=outbox.message_payload(text), now=now, **kw)
    await session.commit()
    return row.id


async def test_sends_due_rows_and_marks_them(ctx, session, bot, clock) -> None:
    now = clock.now()
    ids = [await _enqueue(session, now, rid) for rid in (1, 2, 3)]
    later = await _enqueue(session, now, 4, not_before=now + timedelta(hours=1))
    sender = Sender(ctx, bot, worker_id="w")
    assert await sender.run_once() == 3
    assert sorted(r.chat_id for r in bot.sent()) == [1, 2, 3]
    for i in ids:
        row = await _row(session, i)
        assert row.status is OutboxStatus.sent and row.telegram_message_id and row.locked_until is None
    assert (await _row(session, later)).status is OutboxStatus.pending
    assert await sender.run_once() == 0


async def test_429_pauses_every_sender_of_the_process_and_retries_without_counting(ctx, session, bot, clock) -> None:
    now = clock.now()
    row_id = await _enqueue(session, now, 1)
    bot.add_result_for(methods.SendMessage, ok=False, error_code=429, description="Too Many Requests: retry after 1",
                       parameters=ResponseParameters(retry_after=1))
    sender = Sender(ctx, bot, worker_id="a")
    other = Sender(ctx, bot, worker_id="b")
    assert other.limiter is sender.limiter is shared_limiter(ctx)
    await sender.run_once()
    row = await _row(session, row_id)
    assert row.status is OutboxStatus.pending and row.attempts == 0 and row.last_error == "429"
    assert row.not_before == now + timedelta(seconds=1)
    assert sender.limiter.paused_until > time.monotonic()
    gate = await session.get(SendGate, "telegram", populate_existing=True)
    assert gate.paused_until is not None  # other sender processes see the pause too
    started = time.monotonic()
    await other.limiter.acquire()
    assert time.monotonic() - started > 0.5  # the other sender waited out retry_after
    assert await sender.run_once() == 0  # not due before retry_after
    clock.advance(seconds=1)
    assert await sender.run_once() == 1
    assert (await _row(session, row_id)).status is OutboxStatus.sent


async def test_blocked_resident_is_marked_and_skipped(ctx, session, bot, clock) -> None:
    now = clock.now()
    await _resident(session, 5, now)
    first = await _enqueue(session, now, 5, "one")
    second = await _enqueue(session, now, 5, "two")
    bot.add_result_for(methods.SendMessage, ok=False, error_code=403,
                       description="Forbidden: bot was blocked by the user")
    await Sender(ctx, bot, worker_id="w").run_once()
    assert (await _row(session, first)).status is OutboxStatus.blocked
    assert (await _row(session, second)).status is OutboxStatus.blocked
    assert (await session.get(Resident, 5, populate_existing=True)).blocked is True
    # Later rows for a resident known to have blocked us are not even tried.
    third = await _enqueue(session, now, 5, "three")
    bot.clear()
    await Sender(ctx, bot, worker_id="w").run_once()
    assert bot.sent() == [] and (await _row(session, third)).status is OutboxStatus.blocked


async def test_bad_request_fails_and_server_error_backs_off(ctx, session, bot, clock) -> None:
    now = clock.now()
    bad = await _enqueue(session, now, 1)
    flaky = await _enqueue(session, now, 2)
    bot.add_result_for(methods.SendMessage, ok=False, error_code=400, description="Bad Request: chat not found")
    bot.add_result_for(methods.SendMessage, ok=False, error_code=502, description="Bad Gateway")
    await Sender(ctx, bot, worker_id="w").run_once()
    row = await _row(session, bad)
    assert row.status is OutboxStatus.failed and "chat not found" in row.last_error
    row = await _row(session, flaky)
    assert row.status is OutboxStatus.pending and row.attempts == 1
    assert row.not_before > now  # backoff


async def test_gives_up_after_max_attempts(ctx, session, bot, clock) -> None:
    row_id = await _enqueue(session, clock.now(), 1)
    sender = Sender(ctx, bot, worker_id="w")
    for _ in range(ctx.settings.sender.max_attempts):
        bot.add_result_for(methods.SendMessage, ok=False, error_code=500, description="Internal Server Error")
        await sender.run_once()
        clock.advance(seconds=400)
    row = await _row(session, row_id)
    assert row.status is OutboxStatus.failed and row.attempts == ctx.settings.sender.max_attempts


async def test_malformed_payload_fails_without_stopping_the_batch(ctx, session, bot, clock) -> None:
    now = clock.now()
    broken = outbox.enqueue(session, resident_id=1, kind="t", payload={"no_text": True}, now=now)
    unknown = outbox.enqueue(session, resident_id=2, kind="t", payload={"text": "x"}, now=now, method="sendSticker")
    fine = outbox.enqueue(session, resident_id=3, kind="t", payload={"text": "ok"}, now=now)
    await session.commit()
    await Sender(ctx, bot, worker_id="w").run_once()
    assert (await _row(session, broken.id)).status is OutboxStatus.failed
    assert (await _row(session, unknown.id)).status is OutboxStatus.failed
    assert (await _row(session, fine.id)).status is OutboxStatus.sent


async def test_one_message_per_chat_per_batch_and_individual_notices_first(ctx, session, bot, clock) -> None:
    now = clock.now()
    bid = await seed_broadcast(ctx, 3, now=now, first=100)
    a = await _enqueue(session, now, 100, "ticket update 1")
    b = await _enqueue(session, now, 100, "ticket update 2")
    sender = Sender(ctx, bot, worker_id="w")
    sender.per_chat = 0.05  # keep the test fast; the spacing itself is the same code path
    await sender.run_once()
    first_batch = [(r.chat_id, r.text) for r in bot.sent()]
    assert first_batch[0] == (100, "ticket update 1")  # priority 0 beats the broadcast's -10
    assert [c for c, _ in first_batch].count(100) == 1
    assert (await _row(session, b)).status is OutboxStatus.pending
    while await sender.run_once():
        pass
    assert (await _row(session, a)).status is OutboxStatus.sent and (await _row(session, b)).status is OutboxStatus.sent
    p = await broadcasts.progress(session, bid, now=clock.now())
    assert p.sent == 3 and p.pending == 0 and p.status is BroadcastStatus.done and p.finished_at is not None


async def test_pause_resume_cancel(ctx, session, bot, clock) -> None:
    from tests.support.outages import build_town

    town = await build_town(session, clock.now())
    op = town.staff[StaffRole.operator]
    bid = await seed_broadcast(ctx, 5, first=200)
    await broadcasts.pause(session, broadcast_id=bid, staff=op, now=clock.now())
    sender = Sender(ctx, bot, worker_id="w")
    assert await sender.run_once() == 0 and bot.sent() == []
    p = await broadcasts.progress(session, bid, now=clock.now())
    assert p.status is BroadcastStatus.paused and p.pending == 5
    await broadcasts.resume(session, broadcast_id=bid, staff=op, now=clock.now())
    sender.batch_size = 2
    assert await sender.run_once() == 2
    await broadcasts.cancel(session, broadcast_id=bid, staff=op, now=clock.now())
    assert await sender.run_once() == 0
    p = await broadcasts.progress(session, bid, now=clock.now())
    assert (p.sent, p.cancelled, p.pending, p.status) == (2, 3, 0, BroadcastStatus.cancelled)
    try:
        await broadcasts.resume(session, broadcast_id=bid, staff=op, now=clock.now())
    except broadcasts.BroadcastError:
        pass
    else:
        raise AssertionError("a cancelled broadcast cannot be resumed")


async def test_leases_of_a_live_sender_are_respected_and_a_restart_takes_its_own_back(ctx, session, clock) -> None:
    await seed_broadcast(ctx, 4, first=300)
    async with ctx.sessionmaker() as s:
        mine = await outbox.claim_due(s, now=clock.now(), worker="dead", limit=3)
    async with ctx.sessionmaker() as s:
        others = await outbox.claim_due(s, now=clock.now(), worker="other", limit=10)
    assert len(mine) == 3 and len(others) == 1 and not {c.id for c in mine} & {c.id for c in others}
    async with ctx.sessionmaker() as s:
        assert await outbox.release_worker(s, "dead") == 3
    async with ctx.sessionmaker() as s:
        again = await outbox.claim_due(s, now=clock.now(), worker="fresh", limit=10)
    assert {c.id for c in again} == {c.id for c in mine}


class VirtualTime:
    """A monotonic clock and a sleep for RateLimiter that only move when the limiter sleeps; ``late`` makes
    every sleep overshoot (a busy event loop), ``stall`` adds a one-off gap before the next grant."""

    def __init__(self, late: float = 0.0) -> None:
        self.t = 100.0
        self.late = late
        self.grants: list[float] = []

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds) + self.late

    async def take(self, limiter: RateLimiter, n: int) -> None:
        for _ in range(n):
            await limiter.acquire()
            self.grants.append(self.t)

    def max_in_one_second(self) -> int:
        g = self.grants
        return max(sum(1 for t in g[i:] if t - start < 1.0) for i, start in enumerate(g))


async def test_rate_limiter_keeps_an_even_pace_without_an_initial_burst() -> None:
    vt = VirtualTime()
    limiter = RateLimiter(50, clock=vt.clock, sleep=vt.sleep)
    await vt.take(limiter, 101)
    gaps = {round(b - a, 9) for a, b in zip(vt.grants, vt.grants[1:], strict=False)}
    assert gaps == {0.02}  # even intervals of 20 ms from the first grant on
    assert vt.max_in_one_second() == 50


async def test_rate_limiter_makes_up_for_late_wakeups_without_crossing_the_limit() -> None:
    # Every sleep wakes 6 ms late (a loaded machine): a naive bucket would run at 1 / (1/28 + 0.006) ≈ 24/s.
    vt = VirtualTime(late=0.006)
    limiter = RateLimiter(28, clock=vt.clock, sleep=vt.sleep)
    await vt.take(limiter, 840)
    rate = (len(vt.grants) - 1) / (vt.grants[-1] - vt.grants[0])
    assert rate > 27.5, rate
    assert vt.max_in_one_second() <= 28


async def test_rate_limiter_forgives_a_long_stall_instead_of_bursting() -> None:
    vt = VirtualTime()
    limiter = RateLimiter(25, clock=vt.clock, sleep=vt.sleep)
    await vt.take(limiter, 50)
    vt.t += 3.0  # the process was descheduled for 3 s
    resumed = len(vt.grants)
    await vt.take(limiter, 50)
    catch_up = sum(1 for t in vt.grants[resumed:] if t == vt.grants[resumed])
    assert catch_up <= limiter.burst + 1  # a fifth of a second's worth at most, not 3 s worth
    assert vt.max_in_one_second() <= 25


async def test_rate_limiter_pause_holds_every_grant_until_retry_after() -> None:
    vt = VirtualTime()
    limiter = RateLimiter(25, clock=vt.clock, sleep=vt.sleep)
    await vt.take(limiter, 5)
    paused_at = vt.t
    limiter.pause(2.0)
    await vt.take(limiter, 5)
    assert vt.grants[5] >= paused_at + 2.0
    assert vt.max_in_one_second() <= 25


async def test_flaky_bot_api_still_delivers_every_message_exactly_once(tmp_path) -> None:
    """5 % of calls fail at random (500s and dropped connections): retries deliver everything, once."""
    standin = StandIn(global_rate=400, chat_interval=1.0, failure_rate=0.05, seed=7)
    base = await standin.start()
    ctx = await real_clock_ctx(f"sqlite+aiosqlite:///{tmp_path}/flaky.db", rate_per_second=300.0)
    ctx.settings.telegram_api_base = base
    bot = build_bot(ctx.settings, AiohttpSession(api=TelegramAPIServer.from_base(base)))
    try:
        bid = await seed_broadcast(ctx, 400)
        sender = Sender(ctx, bot, worker_id="flaky")
        deadline = time.monotonic() + 240  # generous: a loaded machine is slow, never wrong
        while time.monotonic() < deadline:
            await sender.run_once()
            async with ctx.sessionmaker() as s:
                if await outbox.pending_count(s) == 0:
                    break
        stats = standin.stats()
        assert stats["failures"] > 5, "the stand-in should have failed some calls"
        assert stats["chats"] == 400 and stats["duplicates"] == 0
        async with ctx.sessionmaker() as s:
            statuses = (await s.execute(select(OutboxNotification.status))).scalars().all()
            p = await broadcasts.progress(s, bid, now=ctx.clock.now())
        assert set(statuses) == {OutboxStatus.sent} and p.status is BroadcastStatus.done
        assert sender.stats["retried"] == stats["failures"]
    finally:
        await bot.session.close()
        await standin.stop()
        await ctx.close()


async def test_paid_broadcast_mode_raises_the_rate_and_flags_each_message(ctx, session, bot, clock) -> None:
    ctx.settings.sender.paid_broadcast = True
    await _enqueue(session, clock.now(), 1)
    sender = Sender(ctx, bot, worker_id="paid")
    assert sender.rate == ctx.settings.sender.paid_rate_per_second == 1000
    await sender.run_once()
    assert bot.sent()[0].allow_paid_broadcast is True


def test_the_day_before_reminder_is_a_scheduled_job() -> None:
    from core.outages import send_due_reminders
    from core.scheduler import default_jobs

    assert any(job.run is send_due_reminders for job in default_jobs())


async def test_a_commit_that_enqueues_wakes_the_sender_at_once(ctx) -> None:
    """Relay latency: an agent's reply must not wait for the sender's next poll."""
    import asyncio

    from core import outbox

    woken = asyncio.Event()
    unregister = outbox.on_commit_wake(woken.set)
    try:
        async with ctx.sessionmaker() as session:
            await session.commit()  # a commit without outbox rows wakes nobody
            assert not woken.is_set()
            outbox.enqueue(session, resident_id=1, kind="test", payload={"chat_id": 1, "text": "hi"},
                           now=ctx.clock.now())
            await session.commit()
        assert woken.is_set()
    finally:
        unregister()
