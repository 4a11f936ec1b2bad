"""Issue 13, item 4: the callback guard answers every tap exactly once without copying the query.

``CallbackGuardMiddleware`` used to rebuild every CallbackQuery as a pydantic ``AnsweredOnce`` model on every
tap; now the handlers get the query aiogram parsed, and the answers are counted where they leave (a request
middleware on the Bot session). The copy is made only for an inaccessible message (a ``FreshMessage``).
"""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Dispatcher, Router
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import CallbackQuery
from pydantic import BaseModel

from bot.middlewares.guards import CallbackGuardMiddleware, FreshMessage
from tests import updates
from tests.bot.test_every_update_answered import inaccessible


def _dp(handler: Any) -> tuple[Dispatcher, list[Any]]:
    seen: list[Any] = []  # the query as aiogram passed it to the guard, then as the handler got it

    async def before(h: Any, event: Any, data: dict[str, Any]) -> Any:
        seen.append(event)
        return await h(event, data)

    router = Router()
    router.callback_query.register(handler)
    dp = Dispatcher(storage=MemoryStorage())
    dp.callback_query.outer_middleware(before)
    dp.callback_query.outer_middleware(CallbackGuardMiddleware())
    dp.include_router(router)
    return dp, seen


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    made: list[type] = []
    real = BaseModel.model_construct.__func__  # type: ignore[attr-defined]

    def counting(cls: type, *args: Any, **kwargs: Any) -> Any:
        made.append(cls)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(BaseModel, "model_construct", classmethod(counting))
    return made


async def test_the_handler_gets_the_query_itself_no_copy(bot, copies) -> None:
    got: list[CallbackQuery] = []

    async def tap(query: CallbackQuery) -> None:
        got.append(query)
        await query.answer("ok")

    dp, seen = _dp(tap)
    await dp.feed_update(bot, updates.callback("x:1"))
    assert got and got[0] is seen[0]  # the very object aiogram parsed (the old guard handed on a copy)
    assert [c for c in copies if issubclass(c, CallbackQuery)] == []
    [answer] = bot.sent("AnswerCallbackQuery")
    assert answer.text == "ok"


@pytest.mark.parametrize("how", ["twice", "never", "raises", "through the bot", "method then bot"])
async def test_every_tap_is_answered_exactly_once(bot, how) -> None:
    async def tap(query: CallbackQuery, bot: Any) -> None:
        if how == "twice":
            await query.answer("first")
            assert await query.answer("second") is True  # dropped, but the handler sees Telegram's "True"
        elif how == "raises":
            raise RuntimeError("boom")
        elif how == "through the bot":
            await bot.answer_callback_query(query.id, text="first")
        elif how == "method then bot":
            await query.answer("first")
            await bot.answer_callback_query(query.id, text="second")

    dp, _ = _dp(tap)
    if how == "raises":
        with pytest.raises(RuntimeError):
            await dp.feed_update(bot, updates.callback("x:1"))
    else:
        await dp.feed_update(bot, updates.callback("x:1"))
    answers = bot.sent("AnswerCallbackQuery")
    assert len(answers) == 1, answers
    assert answers[0].text == (None if how in ("never", "raises") else "first")
    # Outside a tap nothing is dropped.
    assert await bot.answer_callback_query("other", text="later") is True
    assert len(bot.sent("AnswerCallbackQuery")) == 2


async def test_two_taps_are_answered_independently(bot) -> None:
    async def tap(query: CallbackQuery) -> None:
        await query.answer(query.data)

    dp, _ = _dp(tap)
    await dp.feed_update(bot, updates.callback("a:1"))
    await dp.feed_update(bot, updates.callback("b:2"))
    assert [a.text for a in bot.sent("AnswerCallbackQuery")] == ["a:1", "b:2"]


async def test_an_inaccessible_message_still_becomes_a_fresh_message(bot) -> None:
    got: list[CallbackQuery] = []

    async def tap(query: CallbackQuery) -> None:
        got.append(query)
        assert query.message is not None
        await query.message.edit_text("again")  # becomes a new message
        await query.answer()
        await query.answer()

    dp, _ = _dp(tap)
    await dp.feed_update(bot, inaccessible("x:1"))
    assert isinstance(got[0].message, FreshMessage)
    assert len(bot.sent("AnswerCallbackQuery")) == 1
    assert [m.text for m in bot.sent()] == ["again"]
