"""Flood protection with the real limits: a burst beyond 20 updates in 10 s is dropped with one polite notice."""

from aiogram.fsm.storage.memory import MemoryStorage

from bot.app import build_dispatcher
from tests import updates


async def test_a_flood_is_dropped_with_one_notice_and_others_are_unaffected(ctx, bot) -> None:
    ctx.settings.flood_burst, ctx.settings.flood_window = 20, 10.0
    dp = build_dispatcher(ctx, storage=MemoryStorage())
    await dp.feed_update(bot, updates.text("/start", user_id=4242))
    for n in range(19):
        await dp.feed_update(bot, updates.text(f"/help {n}", user_id=4242))
    answered = len(bot.sent())
    bot.clear()
    for n in range(5):  # updates 21–25 of the burst
        await dp.feed_update(bot, updates.text(f"/help {n}", user_id=4242))
    [notice] = bot.texts()
    assert "very quickly" in notice or "太快" in notice or "稍等" in notice
    assert answered >= 20
    # Another resident is not affected.
    bot.clear()
    await dp.feed_update(bot, updates.text("/help", user_id=4343))
    assert bot.sent()
