"""Dispatcher tests of top-up: amount -> invoice -> pre-checkout -> successful_payment recorded exactly once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from aiogram.types import Chat, Message, PreCheckoutQuery, SuccessfulPayment, Update
from sqlalchemy import func, select

from bot.routers.topup import TopupAction, TopupCallback
from bot.views.topup import invoice_payload
from core import accounts, ledger
from db.enums import LedgerKind, MeterType, Utility
from db.models import AuditLog, LedgerEntry
from tests import updates
from tests.support.demo import LINA, WANG

_ids = itertools.count(900_000)


def top(action: TopupAction, account_id: int, amount_fen: int = 0) -> str:
    return TopupCallback(action=action, account_id=account_id, amount_fen=amount_fen).pack()


def pre_checkout(payload: str, amount: int, user_id: int = WANG, currency: str = "CNY") -> Update:
    q = PreCheckoutQuery(id=str(next(_ids)), from_user=updates.user(user_id), currency=currency,
                         total_amount=amount, invoice_payload=payload)
    return Update(update_id=next(_ids), pre_checkout_query=q)


def paid(payload: str, amount: int, charge_id: str, user_id: int = WANG) -> Update:
    sp = SuccessfulPayment(currency="CNY", total_amount=amount, invoice_payload=payload,
                           telegram_payment_charge_id=charge_id, provider_payment_charge_id="prov-" + charge_id)
    msg = Message(message_id=next(_ids), date=datetime.now(UTC), chat=Chat(id=user_id, type="private"),
                  from_user=updates.user(user_id), successful_payment=sp)
    return Update(update_id=next(_ids), message=msg)


async def wang_accounts(session):
    linked = await accounts.linked_accounts(session, WANG)
    gas = next(a for a in linked if a.utility is Utility.gas)
    water = next(a for a in linked if a.utility is Utility.water)
    assert gas.meter_type is MeterType.ic_card
    return gas, water


async def payments(session, account_id: int) -> int:
    q = select(func.count()).select_from(LedgerEntry).where(LedgerEntry.account_id == account_id,
                                                             LedgerEntry.kind == LedgerKind.payment)
    return (await session.execute(q)).scalar_one()


async def test_amount_choice_sends_an_invoice_and_the_ic_card_note(demo_town_en, dp, bot, session) -> None:
    gas, _water = await wang_accounts(session)
    await dp.feed_update(bot, updates.callback(top(TopupAction.start, gas.id), user_id=WANG))
    menu = bot.sent()[-1]
    assert "充值" in menu.text and gas.number in menu.text
    amounts = [b.text for row in menu.reply_markup.inline_keyboard for b in row]
    assert "¥100.00" in amounts
    bot.clear()
    await dp.feed_update(bot, updates.callback(top(TopupAction.amount, gas.id, 10000), user_id=WANG))
    [invoice] = bot.sent("SendInvoice")
    assert invoice.currency == "CNY" and [p.amount for p in invoice.prices] == [10000]
    assert invoice.payload == invoice_payload(gas.id, 10000)
    assert invoice.provider_token == demo_town_en.settings.payment_provider_token.get_secret_value()
    assert "王*国" in invoice.description and "王建国" not in invoice.description
    note = bot.sent()[-1].text
    assert "IC卡" in note and "营业厅" in note  # R1: credit must still be loaded onto the card, and where


async def test_typed_amounts(demo_town_en, dp, bot, session) -> None:
    _gas, water = await wang_accounts(session)
    await dp.feed_update(bot, updates.callback(top(TopupAction.other, water.id), user_id=WANG))
    bot.clear()
    await dp.feed_update(bot, updates.text("一百块", user_id=WANG))  # not an amount: asked again, no invoice
    assert bot.sent("SendInvoice") == [] and "150" in bot.sent()[-1].text
    await dp.feed_update(bot, updates.text("999999", user_id=WANG))  # above the limit: told the range
    assert bot.sent("SendInvoice") == [] and "¥" in bot.sent()[-1].text
    await dp.feed_update(bot, updates.text("￥88.50", user_id=WANG))
    [invoice] = bot.sent("SendInvoice")
    assert invoice.prices[0].amount == 8850 and invoice.payload == invoice_payload(water.id, 8850)


async def test_pre_checkout_rechecks_everything(demo_town_en, dp, bot, session) -> None:
    gas, _water = await wang_accounts(session)
    good = invoice_payload(gas.id, 10000)
    count = await payments(session, gas.id)
    cases = [
        (pre_checkout(good, 10000), True),
        (pre_checkout(good, 9000), False),  # amount differs from the invoice
        (pre_checkout(good, 10000, currency="USD"), False),
        (pre_checkout("garbage", 10000), False),
        (pre_checkout(good, 10000, user_id=LINA), False),  # not her account
        (pre_checkout(invoice_payload(gas.id, 10**9), 10**9), False),  # above the limit
    ]
    for update, ok in cases:
        bot.clear()
        await dp.feed_update(bot, update)
        [answer] = bot.sent("AnswerPreCheckoutQuery")
        assert answer.ok is ok, update.pre_checkout_query
        if not ok:
            assert answer.error_message
    assert await payments(session, gas.id) == count  # pre-checkout records nothing


async def test_successful_payment_is_recorded_once_with_a_receipt(demo_town_en, dp, bot, session) -> None:
    gas, _water = await wang_accounts(session)
    gas_id = gas.id
    before_balance = await ledger.balance_fen(session, gas.id)
    before_count = await payments(session, gas.id)
    update = paid(invoice_payload(gas.id, 10000), 10000, "tg-charge-1")
    await dp.feed_update(bot, update)
    receipt = bot.sent()[-1].text
    assert "已收到" in receipt or "成功" in receipt, receipt
    assert ledger.format_fen(before_balance + 10000, "zh_Hans") in receipt
    assert "IC卡" in receipt  # R1 again on the receipt
    bot.clear()
    for _ in range(2):  # Telegram redelivers the same payment
        await dp.feed_update(bot, paid(invoice_payload(gas.id, 10000), 10000, "tg-charge-1"))
    assert all(ledger.format_fen(before_balance + 10000, "zh_Hans") in t for t in bot.texts())
    assert await payments(session, gas_id) == before_count + 1
    assert await ledger.balance_fen(session, gas_id) == before_balance + 10000


async def test_unmatched_payment_is_kept_for_staff(demo_town_en, dp, bot, session) -> None:
    await dp.feed_update(bot, paid("not-ours", 5000, "tg-charge-x"))
    assert "tg-charge-x" in bot.sent()[-1].text
    q = select(AuditLog).where(AuditLog.action == "payment.unmatched")
    [row] = (await session.execute(q)).scalars()
    assert row.target_id == "tg-charge-x"


async def test_start_on_someone_elses_account_changes_nothing(demo_town_en, dp, bot, session) -> None:
    gas, _water = await wang_accounts(session)
    await dp.feed_update(bot, updates.callback(top(TopupAction.start, gas.id), user_id=LINA))
    await dp.feed_update(bot, updates.callback(top(TopupAction.amount, gas.id, 10000), user_id=LINA))
    assert bot.sent("SendInvoice") == []
    answers = bot.sent("AnswerCallbackQuery")
    assert answers and answers[0].show_alert
