"""Dispatcher tests of 💳 Balance & top-up: linking with proof, lock-out, balance view with chart, alerts, unlink."""

from __future__ import annotations

from aiogram.types import ReplyKeyboardMarkup

from bot.keyboards.proxy import ProxyAct, ProxyCallback
from bot.routers.accounts import AccountAction, AccountCallback
from core import account_numbers, accounts
from core.demo import bill_code
from db.enums import Utility
from db.models import AccountLink, Resident
from tests import updates
from tests.support.demo import LINA, WANG, lina_water

MENU_BALANCE_EN = "💳 Balance & top-up"
MENU_BALANCE_ZH = "💳 余额与充值"


def cb(action: AccountAction, account_id: int = 0) -> str:
    return AccountCallback(action=action, account_id=account_id).pack()


async def start_link(dp, bot, user_id: int, number: str, *, relative: bool = False) -> None:
    await dp.feed_update(bot, updates.callback(cb(AccountAction.link), user_id=user_id))
    action = AccountAction.relation_relative if relative else AccountAction.relation_self
    await dp.feed_update(bot, updates.callback(cb(action), user_id=user_id))
    if relative:  # R16: the relation and the documents come first (tests/bot/routers/test_proxy.py)
        for data in (ProxyCallback(act=ProxyAct.relation, v="child"), ProxyCallback(act=ProxyAct.done)):
            await dp.feed_update(bot, updates.callback(data.pack(), user_id=user_id))
    await dp.feed_update(bot, updates.text(number, user_id=user_id))


async def test_new_resident_sees_how_to_link(demo_town_en, dp, bot) -> None:
    await dp.feed_update(bot, updates.text(MENU_BALANCE_EN, user_id=LINA))
    [msg] = bot.sent()
    assert "not linked an account yet" in msg.text and "10-digit account number" in msg.text
    assert msg.reply_markup.inline_keyboard[-1][0].callback_data == cb(AccountAction.link)


async def test_link_by_sharing_own_contact_then_balance_with_chart(demo_town_en, dp, bot, session) -> None:
    water = await lina_water(session)
    await start_link(dp, bot, LINA, water.number[:4] + " " + water.number[4:])  # spaces are fine
    prompt = bot.sent()[-1]
    assert "prove the account is yours" in prompt.text
    assert water.holder_name not in prompt.text and "李*" not in prompt.text  # nothing revealed yet
    kb = prompt.reply_markup
    assert isinstance(kb, ReplyKeyboardMarkup) and kb.keyboard[0][0].request_contact
    bot.clear()
    await dp.feed_update(bot, updates.contact("+8613800000002", user_id=LINA))
    texts = bot.texts()
    assert any("Verified" in t for t in texts)
    photos = bot.sent("SendPhoto")
    assert len(photos) == 1 and "last 12 months" in photos[0].caption
    png = photos[0].photo.data
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    detail = bot.sent()[-1].text
    assert water.number in detail and "李*" in detail and "Address:" in detail and "Account state:" in detail
    assert "Last reading:" in detail and "Average use:" in detail
    assert [a.id for a in await accounts.linked_accounts(session, LINA)] == [water.id]
    # main menu is back after the form
    assert any(isinstance(m.reply_markup, ReplyKeyboardMarkup) and not m.reply_markup.keyboard[0][0].request_contact
               for m in bot.sent())


async def test_someone_elses_contact_is_refused_and_counts(demo_town_en, dp, bot, session) -> None:
    water = await lina_water(session)
    await start_link(dp, bot, LINA, water.number)
    bot.clear()
    # The right phone, but a contact card of another Telegram user (or none): not proof.
    await dp.feed_update(bot, updates.contact("13800000002", user_id=LINA, contact_user_id=999))
    texts = bot.texts()
    assert any("your own phone number" in t for t in texts)
    assert any("could not verify" in t and "Attempts left: 4" in t for t in texts)
    assert await accounts.linked_accounts(session, LINA) == []


async def test_unknown_number_and_wrong_code_get_the_same_answer_then_lock(demo_town_en, dp, bot, session) -> None:
    water = await lina_water(session)
    await start_link(dp, bot, LINA, account_numbers.make(Utility.water, 99_999))  # valid format, no such account
    bot.clear()
    await dp.feed_update(bot, updates.text("123456", user_id=LINA))
    unknown = bot.sent()[-1].text
    await dp.feed_update(bot, updates.callback(cb(AccountAction.link), user_id=LINA))
    await dp.feed_update(bot, updates.callback(cb(AccountAction.relation_self), user_id=LINA))
    await dp.feed_update(bot, updates.text(water.number, user_id=LINA))
    bot.clear()
    await dp.feed_update(bot, updates.text("654321", user_id=LINA))
    wrong = bot.sent()[-1].text
    assert unknown.replace("4", "N") == wrong.replace("3", "N")  # identical but for the count
    for _ in range(2):
        await dp.feed_update(bot, updates.text("000000", user_id=LINA))
    bot.clear()
    await dp.feed_update(bot, updates.text("111111", user_id=LINA))  # fifth failure
    assert "linking is paused" in bot.sent()[-1].text and "11:00" in bot.sent()[-1].text
    # Locked: the right code is not even tried.
    bot.clear()
    await start_link(dp, bot, LINA, water.number)
    assert any("linking is paused" in t for t in bot.texts())
    assert await accounts.linked_accounts(session, LINA) == []
    # An hour later it works.
    demo_town_en.clock.advance(hours=1, seconds=1)
    await start_link(dp, bot, LINA, water.number)
    await dp.feed_update(bot, updates.text(bill_code(water.number), user_id=LINA))
    assert [a.id for a in await accounts.linked_accounts(session, LINA)] == [water.id]


async def test_bad_input_in_the_form_changes_nothing(demo_town_en, dp, bot, session) -> None:
    await dp.feed_update(bot, updates.callback(cb(AccountAction.link), user_id=LINA))
    await dp.feed_update(bot, updates.callback(cb(AccountAction.relation_self), user_id=LINA))
    bot.clear()
    await dp.feed_update(bot, updates.text("1234567890", user_id=LINA))  # bad check digit
    assert "does not look like an account number" in bot.sent()[-1].text
    await dp.feed_update(bot, updates.text("啊" * 5000, user_id=LINA))
    assert "does not look like an account number" in bot.sent()[-1].text
    await dp.feed_update(bot, updates.sticker_like(user_id=LINA))
    assert "as text" in bot.sent()[-1].text
    water = await lina_water(session)
    await dp.feed_update(bot, updates.text(water.number, user_id=LINA))
    await dp.feed_update(bot, updates.text("12 34", user_id=LINA))  # not a 6-digit code: not counted
    assert "6-digit code" in bot.sent()[-1].text
    session.expire_all()
    assert (await session.get(Resident, LINA)).link_failures == 0
    await dp.feed_update(bot, updates.text("Cancel", user_id=LINA))
    assert "Cancelled" in bot.sent()[-1].text
    assert await accounts.linked_accounts(session, LINA) == []


async def test_relative_link_by_bill_code(demo_town_en, dp, bot, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]
    await start_link(dp, bot, LINA, gas.number, relative=True)
    assert any("6-digit verification code on their bill" in t for t in bot.texts())
    bot.clear()
    await dp.feed_update(bot, updates.text(bill_code(gas.number), user_id=LINA))
    assert "relative's account" in bot.sent()[-1].text
    link = await accounts.get_link(session, LINA, gas.id)
    assert link.relation == "relative"


async def test_list_view_toggle_alerts_and_unlink(demo_town_en, dp, bot, session) -> None:
    gas, water = await accounts.linked_accounts(session, WANG)
    await dp.feed_update(bot, updates.text(MENU_BALANCE_ZH, user_id=WANG))
    overview = bot.sent()[-1]
    assert "您的户号" in overview.text and gas.number in overview.text and water.number in overview.text
    assert "欠费 ¥51.40" in overview.text  # Babel-formatted, from the ledger
    bot.clear()
    await dp.feed_update(bot, updates.callback(cb(AccountAction.view, gas.id), user_id=WANG))
    detail = bot.sent()[-1].text
    assert "王*国" in detail and "IC卡" in detail and "余额预计可用" in detail and "年" in detail
    assert "🔔 提醒：已开启" in detail  # the demo links have alerts on
    bot.clear()
    await dp.feed_update(bot, updates.callback(cb(AccountAction.alerts_off, gas.id), user_id=WANG, message_id=5))
    assert (await accounts.get_link(session, WANG, gas.id)).alerts_enabled is False
    assert "🔕 提醒：已关闭" in bot.sent("EditMessageText")[-1].text
    # R11: turning alerts off stops only the low-credit alert; the resident is told payment notices still come.
    [answer] = bot.sent("AnswerCallbackQuery")
    assert "欠费缴费通知仍会发送给您" in answer.text and answer.show_alert
    bot.clear()
    await dp.feed_update(bot, updates.callback(cb(AccountAction.unlink, gas.id), user_id=WANG))
    assert "确定解除绑定" in bot.sent()[-1].text
    assert await accounts.get_link(session, WANG, gas.id) is not None  # asks first
    gas_id = gas.id
    await dp.feed_update(bot, updates.callback(cb(AccountAction.unlink_yes, gas_id), user_id=WANG, message_id=6))
    session.expire_all()
    assert await accounts.get_link(session, WANG, gas_id) is None


async def test_forged_callbacks_change_nothing(demo_town_en, dp, bot, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]
    for action in (AccountAction.view, AccountAction.alerts_off, AccountAction.unlink_yes):
        bot.clear()
        await dp.feed_update(bot, updates.callback(cb(action, gas.id), user_id=LINA))
        [answer] = bot.sent("AnswerCallbackQuery")
        assert "not linked to you" in answer.text and answer.show_alert
        assert not bot.sent("SendMessage") and not bot.sent("SendPhoto")
    bot.clear()
    await dp.feed_update(bot, updates.callback("acc:view:notanumber", user_id=LINA))
    assert bot.sent("AnswerCallbackQuery")
    gas_id = gas.id
    session.expire_all()
    link = await accounts.get_link(session, WANG, gas_id)
    assert link is not None and link.alerts_enabled
    assert (await session.get(AccountLink, link.id)) is not None


async def test_already_linked_number_goes_straight_to_the_account(demo_town_en, dp, bot, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]
    await start_link(dp, bot, WANG, gas.number)
    assert any("已与您绑定" in t for t in bot.texts())
