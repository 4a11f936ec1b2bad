"""bench/updates' driver (issue 13 "Measure"): it must tap the Submit button the bot really sent, and a run
is only valid when every conversation filed exactly one ticket and was told its number.

The bot's messages travel the real way here: an aiogram Bot serialises them to the stand-in Telegram over
HTTP, whose recorded reply markup is what the driver reads.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import select

from bench.requests.run import SCRIPT, make_ctx
from bench.updates.run import SUBMIT_PREFIX, Answers, MissingSubmit, next_update, problems
from bot.app import build_dispatcher
from bot.routers.fault import Act, FaultCallback
from core.demo import load_demo
from core.inbox import DONE, WORKING
from db.enums import OutboxStatus
from db.models import Ticket
from tests.e2e.standin import TOKEN, StandInTelegram


@pytest.fixture
async def standin() -> AsyncIterator[tuple[StandInTelegram, Answers, Bot]]:
    tg = StandInTelegram().start()
    answers = Answers(asyncio.get_running_loop())
    tg.on_answer = answers
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base)),
              default=DefaultBotProperties(parse_mode="HTML"))
    try:
        yield tg, answers, bot
    finally:
        await bot.session.close()
        tg.stop()


async def test_driver_taps_the_submit_button_the_bot_sent(standin: Any) -> None:
    _tg, answers, bot = standin
    kb = InlineKeyboardBuilder()
    kb.button(text="✅", callback_data=FaultCallback(act=Act.submit, v="k-7f3a"))
    kb.button(text="✖️", callback_data="rqn:f:c")
    await bot.send_message(42, "summary", reply_markup=kb.as_markup())
    raw = await next_update(42, "submit", "", answers)
    assert raw["callback_query"]["data"] == FaultCallback(act=Act.submit, v="k-7f3a").pack()


async def test_driver_refuses_to_tap_a_placeholder(standin: Any) -> None:
    _tg, answers, bot = standin
    await bot.send_message(43, "no summary here")
    with pytest.raises(MissingSubmit):
        await answers.submit_button(43, timeout=0.3)
    # The echo baseline sends no summary: its taps never leave a Submit behind for the next configuration.
    raw = await next_update(44, "submit", "", answers, product=False)
    assert raw["callback_query"]["data"].startswith(SUBMIT_PREFIX) and not answers.submit


async def test_whole_conversation_through_the_dispatcher_files_one_ticket(standin: Any) -> None:
    tg, answers, bot = standin
    with tempfile.TemporaryDirectory() as tmp:
        ctx = await make_ctx(f"sqlite+aiosqlite:///{tmp}/drv.db")
        try:
            async with ctx.sessionmaker() as s:
                await load_demo(s, now=ctx.clock.now())
            ctx.settings.flood_burst = 10**6
            dp: Dispatcher = build_dispatcher(ctx, storage=MemoryStorage())
            uid = 7_000_001
            for kind, value in SCRIPT:
                await dp.feed_raw_update(bot, await next_update(uid, kind, value, answers))
            async with ctx.sessionmaker() as s:
                numbers = list(await s.scalars(select(Ticket.number).where(Ticket.resident_id == uid)))
        finally:
            await ctx.close()
    assert len(numbers) == 1
    assert problems([uid], {uid: numbers}, 1, {DONE: 9}, {}, tg.replies_to) == []


def test_problems_names_every_way_a_run_can_go_wrong() -> None:
    def told(uid: int) -> list[str]:
        return {1: ["✅ Number: <b>T-1</b>"], 3: ["T-3a"]}.get(uid, [])

    found = problems([1, 2, 3, 4], {1: ["T-1"], 3: ["T-3a", "T-3b"], 4: ["T-4"]}, 4,
                     {DONE: 30, WORKING: 1}, {OutboxStatus.sent.value: 2, OutboxStatus.pending.value: 1}, told)
    text = "\n".join(found)
    assert "2 conversations did not file exactly one ticket: {2: 0, 3: 2}" in text
    assert "1 residents never got their ticket number: [4]" in text
    assert "inbox not all done" in text and "outbox not all sent" in text
    assert "4 new tickets" not in text  # the total alone matches: only the per-conversation check catches it
    assert problems([1], {1: ["T-1"]}, 1, {DONE: 9}, {OutboxStatus.sent.value: 1}, told) == []
