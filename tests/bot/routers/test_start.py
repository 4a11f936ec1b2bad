"""Dispatcher-level tests of first contact, language, menu, /help, /cancel and unknown input."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup

from bot.callbacks import GuidedOffer, GuidedOfferCallback, Lang, LanguageCallback
from bot.routers import get_routers
from bot.routers.fallback import router as fallback_router
from db.models import Resident
from tests import updates


async def _feed(dp, bot, update):
    await dp.feed_update(bot, update)


async def test_first_contact_asks_language_then_shows_menu(dp, bot, session) -> None:
    await _feed(dp, bot, updates.text("/start"))
    first = bot.sent()[-1]
    assert "请选择语言" in first.text and "choose your language" in first.text
    assert isinstance(first.reply_markup, InlineKeyboardMarkup)
    resident = await session.get(Resident, updates.RESIDENT)
    assert resident is not None and resident.language is None

    bot.clear()
    await _feed(dp, bot, updates.callback(LanguageCallback(code=Lang.en).pack()))
    texts = bot.texts()
    assert any("Onestop assistant" in t for t in texts)
    menus = [m for m in bot.sent() if isinstance(m.reply_markup, ReplyKeyboardMarkup)]
    assert menus, "main menu keyboard not shown"
    labels = [b.text for row in menus[-1].reply_markup.keyboard for b in row]
    assert "📚 Guides & checklists" in labels and "👩‍💼 Talk to a person" in labels and "⚙️ Settings" in labels
    assert any("simple mode" in t for t in texts), "guided mode must be offered at first contact"
    session.expire_all()
    assert (await session.get(Resident, updates.RESIDENT)).language == "en"


async def test_chinese_is_default_and_menu_is_translated(dp, bot) -> None:
    await _feed(dp, bot, updates.text("/start"))
    await _feed(dp, bot, updates.callback(LanguageCallback(code=Lang.zh).pack()))
    menus = [m for m in bot.sent() if isinstance(m.reply_markup, ReplyKeyboardMarkup)]
    labels = [b.text for row in menus[-1].reply_markup.keyboard for b in row]
    assert "📚 办事指南" in labels and "👩‍💼 人工服务" in labels


async def test_guided_offer_accepted_turns_mode_on(dp, bot, session) -> None:
    await _feed(dp, bot, updates.text("/start"))
    await _feed(dp, bot, updates.callback(LanguageCallback(code=Lang.zh).pack()))
    await _feed(dp, bot, updates.callback(GuidedOfferCallback(choice=GuidedOffer.on).pack(), message_id=77))
    session.expire_all()
    assert (await session.get(Resident, updates.RESIDENT)).guided_mode is True


async def test_returning_resident_gets_menu_not_language(dp, bot) -> None:
    await _feed(dp, bot, updates.text("/start"))
    await _feed(dp, bot, updates.callback(LanguageCallback(code=Lang.en).pack()))
    bot.clear()
    await _feed(dp, bot, updates.text("/start"))
    assert "Welcome back" in bot.sent()[-1].text


async def test_menu_help_and_cancel(dp, bot) -> None:
    await _feed(dp, bot, updates.text("/start"))
    await _feed(dp, bot, updates.callback(LanguageCallback(code=Lang.en).pack()))
    bot.clear()
    await _feed(dp, bot, updates.text("/menu"))
    assert isinstance(bot.sent()[-1].reply_markup, ReplyKeyboardMarkup)
    await _feed(dp, bot, updates.text("/help"))
    assert any("What I can do" in t for t in bot.texts())
    bot.clear()
    await _feed(dp, bot, updates.text("/cancel"))
    assert "nothing to cancel" in bot.sent()[-1].text


async def test_cancel_leaves_a_form(dp, bot) -> None:
    from aiogram.fsm.state import State, StatesGroup

    class Form(StatesGroup):
        step = State()

    await _feed(dp, bot, updates.text("/start"))
    await _feed(dp, bot, updates.callback(LanguageCallback(code=Lang.en).pack()))
    state = dp.fsm.get_context(bot, chat_id=updates.RESIDENT, user_id=updates.RESIDENT)
    await state.set_state(Form.step)
    await _feed(dp, bot, updates.text("/cancel"))
    assert "Cancelled" in bot.sent()[-1].text
    assert await state.get_state() is None


async def test_menu_button_escapes_an_unfinished_form(dp, bot) -> None:
    from aiogram.fsm.state import State, StatesGroup

    class Form(StatesGroup):
        step = State()

    await _feed(dp, bot, updates.text("/start"))
    await _feed(dp, bot, updates.callback(LanguageCallback(code=Lang.en).pack()))
    state = dp.fsm.get_context(bot, chat_id=updates.RESIDENT, user_id=updates.RESIDENT)
    await state.set_state(Form.step)
    await state.update_data(kept="no")
    await _feed(dp, bot, updates.text("⚙️ Settings"))
    assert await state.get_state() is None
    assert "Settings" in bot.sent()[-1].text


async def test_unknown_text_unsupported_type_and_stale_callback_change_nothing(dp, bot, session) -> None:
    await _feed(dp, bot, updates.text("/start"))
    await _feed(dp, bot, updates.callback(LanguageCallback(code=Lang.en).pack()))
    before = (await session.get(Resident, updates.RESIDENT)).language
    bot.clear()
    await _feed(dp, bot, updates.sticker_like())
    assert "cannot read this kind of message" in bot.sent()[-1].text
    bot.clear()
    await _feed(dp, bot, updates.callback("zz:forged:data"))
    answers = bot.sent("AnswerCallbackQuery")
    assert answers and "no longer active" in answers[-1].text and answers[-1].show_alert
    bot.clear()
    await _feed(dp, bot, updates.callback("lang:klingon"))  # right prefix, invalid value
    assert bot.sent("AnswerCallbackQuery")
    session.expire_all()
    assert (await session.get(Resident, updates.RESIDENT)).language == before


async def test_huge_message_gets_polite_answer(dp, bot) -> None:
    await _feed(dp, bot, updates.text("/start"))
    await _feed(dp, bot, updates.callback(LanguageCallback(code=Lang.en).pack()))
    bot.clear()
    await _feed(dp, bot, updates.text("啊" * 20000))
    assert bot.sent(), "no answer to a huge message"
    assert all(len(m.text) <= 4096 for m in bot.sent())


def test_fallback_router_is_last() -> None:
    routers = get_routers()
    assert routers[-1] is fallback_router
    assert fallback_router not in routers[:-1]
