"""R20 gas leak, in full: all five safety steps, in order, before any question (both languages), and a
top-priority repair order (emergency priority, 1-working-day deadline, first in the desk and supervisor queue)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import tickets
from db.enums import Priority, TicketKind, TicketStatus
from db.models import Ticket
from tests import updates
from tests.support.chat import Chat
from tests.support.demo import WANG, outbox_rows, set_language

# R20's five steps, as each language's safety text says them, in the order they must be given.
STEPS = {
    "en": [("no flames", "No flames"), ("no switches", "Do not switch lights or appliances"),
           ("open windows", "Open doors and windows"),
           ("close the meter valve", "Close the valve before the gas meter"),
           ("leave and call from outside", "From a safe place outside, call the gas emergency line")],
    "zh_Hans": [("no flames", "不要点火"), ("no switches", "不要开关电灯、电器"), ("open windows", "打开门窗"),
                ("close the meter valve", "关闭燃气表前阀门"),
                ("leave and call from outside", "到室外安全的地方，拨打燃气抢修电话")],
}
LABELS = {"en": ("🛠 Report a fault", "I smell gas", "Submit"), "zh_Hans": ("🛠 故障报修", "闻到燃气味", "提交")}


async def _older_normal_ticket(ctx) -> Ticket:
    """A water fault filed before the leak: the leak must still come first."""
    async with ctx.sessionmaker() as session:
        return await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, subject="Dripping tap",
                                           resident=None, category="water_leak", district="城西区")


@pytest.mark.parametrize("lang", ["en", "zh_Hans"])
async def test_r20_gas_leak_gives_all_five_safety_steps_then_a_top_priority_order(ctx, dp, bot, demo_town,
                                                                                  lang) -> None:
    older = await _older_normal_ticket(ctx)
    await set_language(ctx, WANG, lang)
    chat = Chat(dp, bot, WANG)
    report, leak, submit = LABELS[lang]
    await chat.send(report)
    mark = chat.mark()
    await chat.press(leak)
    texts = chat.texts_since(mark)
    safety = texts[0]
    positions = []
    for name, phrase in STEPS[lang]:
        assert phrase in safety, f"R20 step missing ({lang}): {name}"
        positions.append(safety.index(phrase))
    assert positions == sorted(positions), "R20 steps out of order"
    assert "0000-9600119" in safety  # the emergency line, in the same message
    assert len(texts) > 1  # only then the questions
    await chat.press("城东区")
    await chat.update(updates.contact("+86 138 0000 0001", user_id=WANG))
    await chat.press(submit)

    async with ctx.sessionmaker() as session:
        leak_ticket = (await session.execute(select(Ticket).where(Ticket.category == "gas_leak"))).scalar_one()
        now = ctx.clock.now()
        # A top-priority repair order: emergency priority, due within 1 working day (R7), ahead of older work.
        assert leak_ticket.priority is Priority.emergency and leak_ticket.status is TicketStatus.new
        assert leak_ticket.deadline_at <= ctx.calendar.deadline(now, 1) < older.deadline_at
        desk = await tickets.list_tickets(session, tickets.TicketFilters(), now=now, sort="deadline")
        assert desk.items[0].id == leak_ticket.id
        queue = await tickets.supervisor_queue(session, now=now)
        assert queue.tickets[0].id == leak_ticket.id
        assert tickets.supervisor_reason(queue.tickets[0], now) == "emergency"
    # The resident's confirmation jumps the outbox queue as well.
    confirmations = [r for r in await outbox_rows(ctx, WANG) if leak_ticket.number in str(r.payload)]
    assert all(r.priority > 0 for r in confirmations)
