"""The durable inbox (issue 13, item 2): each guarantee on SQLite and on the real PostgreSQL.

The workers here feed a small real aiogram Dispatcher whose handler records what it handled, so the
tests look at the inbox's promises (once, not lost, in order per chat, parallel across chats, parked
never dropped, pruned) rather than at any feature.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from aiogram import Dispatcher, Router
from aiogram.types import Message
from sqlalchemy import func, select

from bot.delivery import InboxWorker
from core import inbox
from core.context import AppContext
from db.models import InboundUpdate, OutboxNotification, Resident
from tests.mocked_bot import MockedBot


def raw_text(update_id: int, user_id: int, text: str) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000, "text": text,
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "R"}}}


class Recorder:
    def __init__(self, delay: float = 0.0, fail: set[str] | None = None) -> None:
        self.seen: list[tuple[int, str]] = []
        self.delay, self.fail = delay, fail or set()
        self.active = 0
        self.max_active = 0

    def dispatcher(self) -> Dispatcher:
        router = Router()

        @router.message()
        async def handle(message: Message) -> None:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            try:
                if self.delay:
                    await asyncio.sleep(self.delay)
                if message.text in self.fail:
                    raise RuntimeError(f"handler broke on {message.text}")
                self.seen.append((message.chat.id, message.text))
            finally:
                self.active -= 1

        dp = Dispatcher()
        dp.include_router(router)
        return dp


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_ctx(request) -> AppContext:
    ctx = request.getfixturevalue("ctx" if request.param == "sqlite" else "pg_ctx")
    ctx.settings.inbox.poll_interval = 0.05
    return ctx


async def _store(ctx: AppContext, updates: list[dict]) -> int:
    async with ctx.sessionmaker() as s:
        return await inbox.store(s, updates, now=ctx.clock.now())


async def _statuses(ctx: AppContext) -> dict[str, int]:
    async with ctx.sessionmaker() as s:
        rows = await s.execute(select(InboundUpdate.status, func.count()).group_by(InboundUpdate.status))
        return dict(rows.all())


async def _drain(ctx: AppContext, *workers: InboxWorker, timeout: float = 20.0) -> None:
    tasks = [asyncio.create_task(w.run()) for w in workers]
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            st = await _statuses(ctx)
            if not st.get(inbox.WAITING) and not st.get(inbox.WORKING):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"inbox not drained: {await _statuses(ctx)}")
    finally:
        for w in workers:
            await w.stop(1)
        await asyncio.gather(*tasks)


async def test_an_update_delivered_twice_is_stored_and_handled_once(any_ctx: AppContext) -> None:
    rec = Recorder()
    assert await _store(any_ctx, [raw_text(1, 501, "hello")]) == 1
    assert await _store(any_ctx, [raw_text(1, 501, "hello"), raw_text(2, 501, "again")]) == 1  # 1 is a repeat
    await _drain(any_ctx, InboxWorker(any_ctx, MockedBot(), rec.dispatcher()))
    assert rec.seen == [(501, "hello"), (501, "again")]
    assert await _store(any_ctx, [raw_text(1, 501, "hello")]) == 0  # still known once handled
    await _drain(any_ctx, InboxWorker(any_ctx, MockedBot(), rec.dispatcher()))
    assert len(rec.seen) == 2


async def test_a_claim_of_a_dead_worker_is_taken_over_after_its_lease(any_ctx: AppContext) -> None:
    await _store(any_ctx, [raw_text(10, 502, "lost?")])
    now = any_ctx.clock.now()
    async with any_ctx.sessionmaker() as s:  # the worker that took it is then killed: nobody marks it
        taken = await inbox.claim(s, worker="dead", now=now, limit=10, lease_seconds=30)
    assert [c.update_id for c in taken] == [10]
    async with any_ctx.sessionmaker() as s:
        assert await inbox.claim(s, worker="alive", now=now + timedelta(seconds=29), limit=10,
                                 lease_seconds=30) == []
    any_ctx.clock.advance(seconds=31)
    rec = Recorder()
    await _drain(any_ctx, InboxWorker(any_ctx, MockedBot(), rec.dispatcher(), worker="alive"))
    assert rec.seen == [(502, "lost?")]
    async with any_ctx.sessionmaker() as s:  # the dead worker's late "done" cannot touch it any more
        assert not await inbox.mark_done(s, 10, worker="dead", now=now)


async def test_a_working_lease_is_renewed_so_a_slow_handler_is_not_taken_over(any_ctx: AppContext) -> None:
    await _store(any_ctx, [raw_text(11, 503, "slow")])
    now = any_ctx.clock.now()
    async with any_ctx.sessionmaker() as s:
        await inbox.claim(s, worker="slow", now=now, limit=1, lease_seconds=30)
        await inbox.renew(s, worker="slow", update_ids=[11], now=now + timedelta(seconds=25), lease_seconds=30)
        assert await inbox.claim(s, worker="other", now=now + timedelta(seconds=40), limit=1,
                                 lease_seconds=30) == []


async def test_one_chats_updates_in_order_different_chats_in_parallel(any_ctx: AppContext) -> None:
    chats = list(range(600, 610))
    updates, uid = [], 100
    for n in range(3):
        for chat in chats:
            uid += 1
            updates.append(raw_text(uid, chat, f"{chat}-{n}"))
    await _store(any_ctx, updates)
    async with any_ctx.sessionmaker() as s:  # only each chat's earliest update is claimable
        first = await inbox.claim(s, worker="w", now=any_ctx.clock.now(), limit=100, lease_seconds=30)
        await inbox.release(s, [c.update_id for c in first], worker="w")
    assert sorted(c.payload["message"]["text"] for c in first) == sorted(f"{c}-0" for c in chats)

    rec = Recorder(delay=0.2)
    started = time.monotonic()
    await _drain(any_ctx, InboxWorker(any_ctx, MockedBot(), rec.dispatcher()))
    elapsed = time.monotonic() - started
    for chat in chats:
        assert [t for c, t in rec.seen if c == chat] == [f"{chat}-0", f"{chat}-1", f"{chat}-2"]
    assert rec.max_active >= 5  # ten chats at once, not one after another
    assert elapsed < 30 * 0.2  # serial would take 6 s


async def test_a_failing_update_is_retried_then_parked_and_the_resident_told(any_ctx: AppContext) -> None:
    any_ctx.settings.inbox.max_attempts = 3
    any_ctx.settings.inbox.retry_base_seconds = 0.01
    async with any_ctx.sessionmaker() as s:
        s.add(Resident(id=504, first_name="R", language="en", created_at=any_ctx.clock.now()))
        await s.commit()
    await _store(any_ctx, [raw_text(20, 504, "boom"), raw_text(21, 504, "after"), raw_text(22, 505, "other")])
    rec = Recorder(fail={"boom"})
    worker = InboxWorker(any_ctx, MockedBot(), rec.dispatcher())
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(3):  # backoff: the retry is due only once the clock passed not_before
            await asyncio.sleep(0.3)
            any_ctx.clock.advance(seconds=1)
            worker._wake.set()
        await _drain(any_ctx)
    finally:
        await worker.stop(1)
        await task
    assert (504, "after") in rec.seen and (505, "other") in rec.seen  # the chat moves on after parking
    async with any_ctx.sessionmaker() as s:
        row = await s.get(InboundUpdate, 20)
        notice = (await s.execute(select(OutboxNotification).where(OutboxNotification.kind == "inbox.parked")
                                  )).scalars().all()
        st = await inbox.stats(s, now=any_ctx.clock.now())
        listed = await inbox.parked(s)
    assert row.status == inbox.PARKED and row.attempts == 3
    assert "RuntimeError: handler broke on boom" in row.last_error
    assert row.payload["message"]["text"] == "boom"  # kept for staff, not dropped
    assert [n.resident_id for n in notice] == [504]
    assert "received your message" in notice[0].payload["text"]
    assert (st.parked, st.waiting, st.in_progress) == (1, 0, 0)
    assert [r.update_id for r in listed] == [20]

    async with any_ctx.sessionmaker() as s:  # staff retry: back in the queue, handled once fixed
        assert await inbox.retry_parked(s, 20, now=any_ctx.clock.now())
        await s.commit()
    rec.fail.clear()
    await _drain(any_ctx, InboxWorker(any_ctx, MockedBot(), rec.dispatcher()))
    assert (504, "boom") in rec.seen


async def test_handled_updates_are_pruned_after_the_retention_period(any_ctx: AppContext) -> None:
    await _store(any_ctx, [raw_text(30, 506, "old"), raw_text(31, 507, "kept")])
    now = any_ctx.clock.now()
    async with any_ctx.sessionmaker() as s:
        await inbox.claim(s, worker="w", now=now, limit=10, lease_seconds=30)
        await inbox.mark_done(s, 30, worker="w", now=now)
        await inbox.mark_failed(s, 31, worker="w", now=now, error="x", attempts=9, max_attempts=3,
                                retry_base_seconds=1)
        await s.commit()
        assert await inbox.prune(s, now=now + timedelta(hours=71), retention_hours=72) == 0
        assert await inbox.prune(s, now=now + timedelta(hours=73), retention_hours=72) == 1
    assert await _statuses(any_ctx) == {inbox.PARKED: 1}  # parked rows wait for staff, whatever their age


@pytest.mark.postgres
async def test_two_workers_on_postgresql_share_the_work_without_doubles(pg_ctx: AppContext) -> None:
    pg_ctx.settings.inbox.poll_interval = 0.02
    updates = [raw_text(1000 + i, 700 + i % 25, f"m{i}") for i in range(300)]
    await _store(pg_ctx, updates)
    rec = Recorder(delay=0.005)
    dp = rec.dispatcher()
    a, b = InboxWorker(pg_ctx, MockedBot(), dp, worker="a"), InboxWorker(pg_ctx, MockedBot(), dp, worker="b")
    await _drain(pg_ctx, a, b)
    assert sorted(t for _, t in rec.seen) == sorted(f"m{i}" for i in range(300))  # each exactly once
    assert a.handled > 0 and b.handled > 0 and a.handled + b.handled == 300
    for chat in range(700, 725):
        got = [int(t[1:]) for c, t in rec.seen if c == chat]
        assert got == sorted(got)


def test_chat_key_and_validation_read_plain_json() -> None:
    assert inbox.chat_key(raw_text(1, 42, "x")) == 42
    assert inbox.chat_key({"update_id": 2, "callback_query": {"id": "c", "from": {"id": 43}, "data": "d"}}) == 43
    assert inbox.chat_key({"update_id": 3, "my_chat_member": {"chat": {"id": -5}, "from": {"id": 44}}}) == 44
    assert inbox.chat_key({"update_id": 4}) is None
    assert inbox.valid_update({"update_id": 5})
    for bad in ([], {"update_id": "5"}, {"update_id": True}, {"update_id": -1}, {"update_id": 2**63}, {}):
        assert not inbox.valid_update(bad)


async def test_leases_are_still_renewed_while_a_stop_waits_for_the_updates_in_hand(ctx: AppContext,
                                                                                   monkeypatch) -> None:
    """SIGTERM gives the updates in hand a grace period; their leases must not lapse meanwhile, or another
    process would take them over and handle them a second time (the renewer used to stop with the loop)."""
    ctx.settings.inbox.poll_interval = 0.05
    ctx.settings.inbox.lease_seconds = 0.3  # renewed every 0.1 s
    renewed: list[list[int]] = []
    real_renew = inbox.renew

    async def recording_renew(session, *, worker, update_ids, now, lease_seconds):
        renewed.append(list(update_ids))
        return await real_renew(session, worker=worker, update_ids=update_ids, now=now,
                                lease_seconds=lease_seconds)

    monkeypatch.setattr(inbox, "renew", recording_renew)
    rec = Recorder(delay=1.0)
    worker = InboxWorker(ctx, MockedBot(), rec.dispatcher())
    await _store(ctx, [raw_text(900, 950, "slow one")])
    run = asyncio.create_task(worker.run())
    while not worker.in_hand:  # noqa: ASYNC110  (the worker exposes a dict, not an event)
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    renewed.clear()
    await worker.stop(5)  # the handler needs ~1 s more: the stop waits for it
    await run
    assert rec.seen == [(950, "slow one")]
    assert [900] in renewed  # its lease was renewed during the grace period
