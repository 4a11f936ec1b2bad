"""Issue 13, item 4: synchronous filters run on the event loop, not through aiogram's ``asyncio.to_thread``
(a thread hand-off per filter check, ~14 per cheap update in the profile), with the same answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Message

from bot.inline_filters import run_sync_filters_inline
from tests import updates


@pytest.fixture
def thread_hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    real = asyncio.to_thread

    async def counting(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        calls.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    return calls


async def test_cheap_updates_and_a_form_step_make_no_thread_hand_off(dp, bot, thread_hand_offs) -> None:
    for update in (updates.text("/menu"), updates.callback("zz:stale"), updates.text("🛠 故障报修"),
                   updates.callback("flt:u:water")):
        bot.clear()
        await dp.feed_update(bot, update)
        assert bot.requests, update  # every one still answered
    assert thread_hand_offs == []
    # The magic filter F.act == Act.utility still matched: the water categories came back.
    assert any("flt:c:water." in str(r.reply_markup) for r in bot.requests if getattr(r, "reply_markup", None))


async def test_sync_filters_keep_their_answers_and_their_kwargs(bot, thread_hand_offs) -> None:
    router = Router()
    seen: list[str] = []

    def tariff_like(message: Message) -> bool | dict[str, Any]:
        return {"volume": int(message.text)} if (message.text or "").isdigit() else False

    @router.message(F.text.startswith("/"))
    async def command(message: Message) -> None:
        seen.append(f"command {message.text}")

    @router.message(tariff_like)
    async def number(message: Message, volume: int) -> None:
        seen.append(f"number {volume}")

    @router.message()
    async def other(message: Message) -> None:
        seen.append(f"other {message.text}")

    dp = Dispatcher(storage=MemoryStorage())
    dp.include_router(router)
    assert run_sync_filters_inline(dp) == 2
    assert run_sync_filters_inline(dp) == 0  # idempotent
    for text in ("/x", "250", "abc"):
        await dp.feed_update(bot, updates.text(text))
    assert seen == ["command /x", "number 250", "other abc"]
    assert thread_hand_offs == []
