"""Dispatcher tests of the water bill calculator (R13): free text, the button flow, and the topic buttons."""

from __future__ import annotations

from bot.keyboards.guides import TopicActionCallback, topic_index
from bot.routers.tariff import TariffAction, TariffCallback
from core import ledger, tariffs
from knowledge.models import Action
from tests import updates
from tests.support.demo import LINA, WANG


def tar(action: TariffAction, household: int = 0, volume: int = 0) -> str:
    return TariffCallback(action=action, household=household, volume=volume).pack()


async def test_free_text_question_is_answered_with_the_tiers(demo_town_en, dp, bot) -> None:
    await dp.feed_update(bot, updates.text("6口人一年用250方水多少钱", user_id=WANG))
    answer = bot.sent()[-1].text
    quote = tariffs.quote_water(250_000, 6)
    # 6 people: boundaries 216 + 2×54 = 324 and 300 + 108 = 408 m³, so all 250 m³ are in tier 1 at ¥3.41.
    assert quote.boundaries[:2] == (324, 408) and quote.total_fen == 250 * 341
    assert ledger.format_fen(quote.total_fen, "zh_Hans") in answer  # ¥852.50
    assert "¥852.50" in answer and "324" in answer and "408" in answer


async def test_free_text_in_english_and_the_household_assumption(demo_town_en, dp, bot) -> None:
    await dp.feed_update(bot, updates.text("how much is 300 m3 of water a year?", user_id=LINA))
    answer = bot.sent()[-1].text
    quote = tariffs.quote_water(300_000, 4)
    assert quote.total_fen == 216 * 341 + 84 * 434
    assert ledger.format_fen(quote.total_fen, "en") in answer and "household of up to 4" in answer


async def test_button_flow(demo_town_en, dp, bot) -> None:
    await dp.feed_update(bot, updates.text("/tariff", user_id=LINA))
    assert "How many people" in bot.sent()[-1].text
    await dp.feed_update(bot, updates.callback(tar(TariffAction.type_household), user_id=LINA))
    await dp.feed_update(bot, updates.text("seven", user_id=LINA))  # not a number: asked again
    assert "from 1 to" in bot.sent()[-1].text
    await dp.feed_update(bot, updates.text("7", user_id=LINA))
    assert "How much water" in bot.sent()[-1].text
    await dp.feed_update(bot, updates.text("30 a month", user_id=LINA))
    answer = bot.sent()[-1].text
    quote = tariffs.quote_water(360_000, 7)
    assert ledger.format_fen(quote.total_fen, "en") in answer and "monthly use × 12" in answer
    bot.clear()
    await dp.feed_update(bot, updates.callback(tar(TariffAction.quote, 5, 400), user_id=LINA))
    assert ledger.format_fen(tariffs.quote_water(400_000, 5).total_fen, "en") in bot.sent()[-1].text
    bot.clear()
    await dp.feed_update(bot, updates.callback(tar(TariffAction.quote, 99, 400), user_id=LINA))  # forged
    assert bot.sent() == [] and bot.sent("AnswerCallbackQuery")[-1].show_alert


async def test_the_water_topics_link_to_the_calculator(demo_town_en, dp, bot) -> None:
    for slug in ("water.tariff", "water.tiered-household"):
        topic = demo_town_en.catalogue.get(slug)
        assert Action.tariff_calculator in topic.actions
        bot.clear()
        data = TopicActionCallback(action=Action.tariff_calculator, t=topic_index(demo_town_en.catalogue, slug)).pack()
        await dp.feed_update(bot, updates.callback(data, user_id=WANG))
        assert "阶梯水费计算" in bot.sent()[-1].text and "户籍人口" in bot.sent()[-1].text
