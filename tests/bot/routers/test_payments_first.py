"""Issue 13: a payment is never swallowed. ``pre_checkout_query`` and ``successful_payment`` are handled first,
whatever the resident is doing: a chat with staff queued or active, the middle of a form (normal mode and simple
mode), a stale keyboard, a flood. An unmatched payment is kept for staff. All through the real Dispatcher."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from bot.views.topup import invoice_payload
from core import handoff
from db.enums import ConversationStatus
from db.models import AuditLog, Resident
from tests import updates
from tests.bot.routers.test_topup import paid, payments, pre_checkout, wang_accounts
from tests.support.demo import WANG

_charges = itertools.count(1)


async def _chat(session, ctx, status: ConversationStatus) -> None:
    resident = await session.get(Resident, WANG)
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason=handoff.Reason.button)
    conv.status = status
    await session.commit()


async def _fault_form(dp, bot, session, ctx) -> None:
    await dp.feed_update(bot, updates.text("🛠 故障报修", user_id=WANG))


async def _fault_form_in_chat(dp, bot, session, ctx) -> None:
    await _chat(session, ctx, ConversationStatus.active)
    await _fault_form(dp, bot, session, ctx)


async def _simple_mode(dp, bot, session, ctx) -> None:
    (await session.get(Resident, WANG)).guided_mode = True
    await session.commit()
    await dp.feed_update(bot, updates.text("/menu", user_id=WANG))


async def _stale_keyboard(dp, bot, session, ctx) -> None:
    await dp.feed_update(bot, updates.callback("flt:ok:999", user_id=WANG))


STATES = {
    "queued chat": lambda dp, bot, s, ctx: _chat(s, ctx, ConversationStatus.queued),
    "active chat": lambda dp, bot, s, ctx: _chat(s, ctx, ConversationStatus.active),
    "fault form": _fault_form,
    "fault form during a chat": _fault_form_in_chat,
    "simple mode": _simple_mode,
    "stale keyboard": _stale_keyboard,
}


@pytest.mark.parametrize("where", list(STATES))
async def test_a_payment_is_handled_first_in_every_state(where, demo_town_en, dp, bot, session, ctx) -> None:
    gas, _water = await wang_accounts(session)
    gas_id = gas.id
    before = await payments(session, gas_id)
    await STATES[where](dp, bot, session, ctx)
    bot.clear()
    await dp.feed_update(bot, pre_checkout(invoice_payload(gas_id, 10000), 10000))
    [answer] = bot.sent("AnswerPreCheckoutQuery")
    assert answer.ok is True
    charge = f"tg-first-{next(_charges)}"
    await dp.feed_update(bot, paid(invoice_payload(gas_id, 10000), 10000, charge))
    assert await payments(session, gas_id) == before + 1, where
    [receipt] = bot.sent()
    assert "已收到" in receipt.text or "成功" in receipt.text, receipt.text
    # An unmatched payment in the same state is kept for staff, with a reference for the resident.
    bot.clear()
    await dp.feed_update(bot, paid("not-ours", 5000, charge + "-x"))
    assert charge + "-x" in bot.sent()[-1].text
    rows = (await session.execute(select(AuditLog).where(AuditLog.action == "payment.unmatched"))).scalars()
    assert [r.target_id for r in rows] == [charge + "-x"]


async def test_payments_are_never_throttled(demo_town_en, ctx, bot, session) -> None:
    from aiogram.fsm.storage.memory import MemoryStorage

    from bot.app import build_dispatcher

    ctx.settings.flood_burst, ctx.settings.flood_window = 3, 60.0
    dp = build_dispatcher(ctx, storage=MemoryStorage())
    gas, _water = await wang_accounts(session)
    gas_id = gas.id
    before = await payments(session, gas_id)
    for n in range(6):
        await dp.feed_update(bot, updates.text(f"/help {n}", user_id=WANG))
    bot.clear()
    await dp.feed_update(bot, pre_checkout(invoice_payload(gas_id, 10000), 10000))
    assert [a.ok for a in bot.sent("AnswerPreCheckoutQuery")] == [True]
    await dp.feed_update(bot, paid(invoice_payload(gas_id, 10000), 10000, "tg-flood"))
    assert await payments(session, gas_id) == before + 1
