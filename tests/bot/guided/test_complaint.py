"""Guided mode: a complaint by buttons (R5): topic, optional related request, plain confirmation, 3 working days."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core import tickets
from db.enums import TicketKind
from db.models import Resident, Ticket
from tests import updates
from tests.support.demo import GRANNY, LINA


async def complaints(ctx) -> list[Ticket]:
    async with ctx.sessionmaker() as s:
        return list((await s.execute(select(Ticket).where(Ticket.kind == TicketKind.complaint))).scalars())


async def add_fault(ctx, resident_id: int, key: str = "f1") -> Ticket:
    async with ctx.sessionmaker() as s:
        resident = await s.get(Resident, resident_id)
        return await tickets.create_ticket(s, ctx=ctx, kind=TicketKind.fault, resident=resident, subject="没有燃气",
                                           category="no_gas", idempotency_key=key)


async def test_complaint_about_a_recent_request_with_words_and_phone(granny, demo_town_guided) -> None:
    fault = await add_fault(demo_town_guided, GRANNY)
    await granny.start()
    await granny.tap("➕")
    topics = await granny.tap("📝")
    assert "3个工作日" in topics.text
    which = await granny.tap("⏳")
    assert any("没有燃气" in b for b in which.flat) and any("➖" in b for b in which.flat)
    confirm = await granny.tap("没有燃气")
    assert fault.number in confirm.text and "等太久" in confirm.text

    # Back keeps the choices: the topic and the request are marked, and the confirmation shows them again.
    which = await granny.back()
    assert any(b.startswith("1 ✅") and "没有燃气" in b for b in which.flat)
    topics = await granny.back()
    assert any("✅" in b and "⏳" in b for b in topics.flat)
    await granny.tap("⏳")
    confirm = await granny.tap("没有燃气")

    # Optional words, typed; somebody else's contact is refused; her own number is kept (masked on screen).
    await granny.tap("✏️")
    screen = await granny._feed(updates.text("师傅说下午来，等到晚上也没来", user_id=GRANNY))
    assert "晚上也没来" in screen.text
    screen = await granny.share_contact("13912345678", own=False)
    assert "本人" in screen.texts[0] and "1391" not in screen.text
    screen = await granny.share_contact("13800000003")
    assert "138****0003" in screen.text and not any("📞" in b for b in screen.flat)
    assert await complaints(demo_town_guided) == []  # nothing is filed before the confirmation

    done = await granny.tap("✅")
    [ticket] = await complaints(demo_town_guided)
    assert ticket.number in done.texts[0] and "书面答复" in done.texts[0]
    assert ticket.resident_id == GRANNY and ticket.contact_phone == "13800000003"
    assert "等待太久" in ticket.subject and fault.number in ticket.description
    assert "晚上也没来" in ticket.description and ticket.utility is None
    assert ticket.deadline_at == demo_town_guided.calendar.deadline(ticket.created_at, 3)  # R3: 3 working days
    # Back from the final screen goes home, never into the submitted form.
    assert any("➕" in b for b in (await granny.back()).flat)


async def test_complaint_without_typing_and_a_double_tap_files_one(lina, demo_town_guided) -> None:
    await lina.start()
    await lina.tap("➕")
    await lina.tap("📝")
    await lina.tap("➡️")  # five topics: the last two are on the second page
    confirm = await lina.tap("💴")
    assert "Bill or charges" in confirm.text and not any("➖" in b for b in confirm.flat)  # no requests to pick
    # A double tap on "Send" (two updates at once) files one complaint: the form has one idempotency key.
    label = confirm.find("✅")
    lina.bot.clear()
    await asyncio.gather(lina.dp.feed_update(lina.bot, updates.text(label, user_id=LINA)),
                         lina.dp.feed_update(lina.bot, updates.text(label, user_id=LINA)))
    [ticket] = await complaints(demo_town_guided)
    assert "账单收费" in ticket.subject and ticket.contact_phone is None
    assert sum(ticket.number in t for t in lina.bot.texts()) >= 1


async def test_typed_text_on_the_topic_screen_files_nothing(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("➕")
    await granny.tap("📝")
    screen = await granny._feed(updates.text("我要投诉你们", user_id=GRANNY))
    assert screen.flat and await complaints(demo_town_guided) == []
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.execute(select(func.count()).select_from(Ticket))).scalar_one() == 0
