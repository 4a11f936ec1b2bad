"""Several processes and stopping (issue 13, items 2, 3 and 5) at the level of the parts:
the polling loop confirms only what is stored, the scheduler leads in one process only, and a worker
stopping hands back what it could not finish."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from pydantic import SecretStr
from sqlalchemy import text

from bot.app import build_bot
from bot.delivery import InboxWorker, PollingReceiver
from core import inbox
from core.context import AppContext
from core.scheduler import Job, run_scheduler
from db.models import InboundUpdate
from tests.core.test_inbox import Recorder, raw_text
from tests.e2e.standin import TOKEN, StandInTelegram
from tests.mocked_bot import MockedBot


@pytest.fixture
def standin():
    s = StandInTelegram().start()
    yield s
    s.stop()


async def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_polling_confirms_an_update_only_after_it_is_stored(ctx: AppContext, standin) -> None:
    ctx.settings.telegram_bot_token = SecretStr(TOKEN)
    bot = build_bot(ctx.settings, AiohttpSession(api=TelegramAPIServer.from_base(standin.base)))
    receiver = PollingReceiver(ctx, bot, ["message"])
    async with ctx.engine.begin() as conn:  # the database refuses writes: nothing may be confirmed
        await conn.execute(text("ALTER TABLE inbound_update RENAME TO inbound_update_away"))
    stop = asyncio.Event()
    task = asyncio.create_task(receiver.run(stop))
    try:
        first = standin.push_text(901, "hello")
        await _wait(lambda: _true(standin.calls["getUpdates"] >= 2))
        await asyncio.sleep(0.3)
        assert standin.acknowledged == [] and first in standin.pending  # Telegram still holds it
        async with ctx.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE inbound_update_away RENAME TO inbound_update"))

        async def stored() -> bool:
            async with ctx.sessionmaker() as s:
                return await s.get(InboundUpdate, first) is not None

        await _wait(stored, 15)
        standin.push_text(902, "next")  # the next poll confirms the stored one
        await _wait(lambda: _true(first in standin.acknowledged), 15)
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bot.session.close()


async def _true(value: bool) -> bool:
    return value


async def test_stop_finishes_in_hand_updates_within_the_grace_and_hands_back_the_rest(ctx: AppContext) -> None:
    ctx.settings.inbox.poll_interval = 0.05
    async with ctx.sessionmaker() as s:
        await inbox.store(s, [raw_text(1, 951, "quick"), raw_text(2, 952, "stuck")], now=ctx.clock.now())
    rec = Recorder()
    router_dp = rec.dispatcher()
    release = asyncio.Event()  # never set
    orig = router_dp.feed_raw_update

    async def feed(bot, update, **kw):
        if update["message"]["text"] == "stuck":
            await release.wait()  # a handler that outlives the grace
        return await orig(bot, update, **kw)

    router_dp.feed_raw_update = feed  # type: ignore[method-assign]
    worker = InboxWorker(ctx, MockedBot(), router_dp, worker="w1")
    task = asyncio.create_task(worker.run())
    await _wait(lambda: _true(len(worker.in_hand) == 1 and (951, "quick") in rec.seen))
    started = time.monotonic()
    await worker.stop(0.3)
    await task
    assert time.monotonic() - started < 2
    async with ctx.sessionmaker() as s:
        stuck = await s.get(InboundUpdate, 2)
        quick = await s.get(InboundUpdate, 1)
    assert quick.status == inbox.DONE
    assert stuck.status == inbox.WAITING and stuck.locked_by is None and stuck.attempts == 0  # handed back


@pytest.mark.postgres
async def test_scheduled_jobs_run_in_one_process_only_and_move_when_it_stops(pg_ctx: AppContext) -> None:
    runs: list[str] = []

    def job(name: str) -> Job:
        async def run(_ctx: AppContext) -> None:
            runs.append(name)
        return Job("tick", 0, run)

    other = AppContext.create(pg_ctx.settings, clock=pg_ctx.clock)  # a second process: its own pool
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(run_scheduler(pg_ctx, [job("a")], stop=stop_a, tick=0.05))
    await asyncio.sleep(0.3)
    b = asyncio.create_task(run_scheduler(other, [job("b")], stop=stop_b, tick=0.05))
    await asyncio.sleep(0.6)
    assert "a" in runs and "b" not in runs
    stop_a.set()
    await a
    runs.clear()
    await _wait(lambda: _true("b" in runs), 5)  # the lock went with the leader; the other takes over
    assert "a" not in runs
    stop_b.set()
    await b
    await other.close()


async def test_on_sqlite_the_scheduler_simply_runs(ctx: AppContext) -> None:
    runs: list[int] = []

    async def run(_ctx: AppContext) -> None:
        runs.append(1)

    stop = asyncio.Event()
    task = asyncio.create_task(run_scheduler(ctx, [Job("tick", 0, run)], stop=stop, tick=0.05))
    await _wait(lambda: _true(len(runs) >= 2))
    stop.set()
    await task


async def test_the_worker_starts_the_dispatcher_like_polling_did(ctx: AppContext) -> None:
    """Routers' start-up hooks (the knowledge index in ask.py) run before the first update."""
    rec = Recorder()
    dp = rec.dispatcher()
    events: list[str] = []

    @dp.startup()
    async def up(dispatcher, bot) -> None:
        events.append(f"up:{dispatcher is dp}")

    @dp.shutdown()
    async def down() -> None:
        events.append("down")

    worker = InboxWorker(ctx, MockedBot(), dp)
    task = asyncio.create_task(worker.run())
    await _wait(lambda: _true(events == ["up:True"]))
    await worker.stop(1)
    await task
    assert events == ["up:True", "down"]


async def test_a_database_hiccup_when_marking_done_is_retried_not_left_to_a_second_handling(
        ctx: AppContext, monkeypatch) -> None:
    """Seen in bench/updates with 4 processes: PostgreSQL out of connections at the moment of "done"."""
    ctx.settings.inbox.poll_interval = 0.05
    async with ctx.sessionmaker() as s:
        await inbox.store(s, [raw_text(3, 961, "once")], now=ctx.clock.now())
    real = inbox.mark_done
    calls = []

    async def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("sorry, too many clients already")
        return await real(*a, **kw)

    monkeypatch.setattr(inbox, "mark_done", flaky)
    rec = Recorder()
    worker = InboxWorker(ctx, MockedBot(), rec.dispatcher())
    task = asyncio.create_task(worker.run())

    async def done() -> bool:
        async with ctx.sessionmaker() as s:
            return (await s.get(InboundUpdate, 3)).status == inbox.DONE

    await _wait(done)
    await worker.stop(1)
    await task
    assert rec.seen == [(961, "once")] and len(calls) == 2
