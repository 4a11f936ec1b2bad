"""Fault reports through the real dispatcher (R8, R20): gas leak first aid, tickets, duplicates, outages, bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.enums import Priority, TicketKind, TicketStatus
from db.models import Ticket, TicketEvent
from tests import updates
from tests.support.chat import Chat, buttons, location, photo
from tests.support.demo import WANG, set_language


async def _tickets(ctx) -> list[Ticket]:
    async with ctx.sessionmaker() as session:
        return list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars())


async def test_gas_leak_safety_first_then_emergency_ticket(ctx, dp, bot, demo_town) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("🛠 Report a fault")
    # R20: even the first question is preceded by what to do about a gas smell, with the emergency line.
    first = chat.last()
    assert first.index("0000-9600119") < first.index("What is the problem") and "No flames" not in first
    assert "no flames" in first
    mark = chat.mark()
    await chat.press("I smell gas")
    texts = chat.texts_since(mark)
    # R20: the very first thing after choosing "gas leak" is the safety advice with the hotline.
    assert "do this first" in texts[0] and "0000-9600119" in texts[0] and "No flames" in texts[0]
    assert any("Where is the problem" in t for t in texts[1:])
    await chat.press("城东区")  # the linked gas account's address
    assert chat.said("How can the crew reach you")
    await chat.update(updates.contact("+86 138 0000 0001", user_id=WANG))
    assert chat.said("Please check your report") and chat.said("138****0001")
    await chat.press("Submit")
    (ticket,) = await _tickets(ctx)
    assert ticket.kind is TicketKind.fault and ticket.category == "gas_leak"
    assert ticket.priority is Priority.emergency and ticket.status is TicketStatus.new
    assert ticket.number.startswith("BX-20261123-") and ticket.number in chat.last()
    assert ticket.contact_phone == "13800000001" and ticket.district == "城东区" and ticket.account_id
    # R7: emergency repair orders within 1 working day: end of Tuesday 24 November.
    assert ticket.deadline_at.astimezone().date().isoformat() in ("2026-11-24", "2026-11-25")


async def test_full_water_report_with_bad_input_along_the_way(ctx, dp, bot, demo_town) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("🛠 Report a fault")
    await chat.press("Water")
    await chat.press("Water leak or burst pipe")
    await chat.update(photo(WANG))  # a photo where the address is expected
    assert "type the address as text" in chat.last()
    await chat.send("城西区建设路 8号 2单元301")  # a typed address with a known district
    assert chat.said("How far does the problem reach")
    await chat.press("The whole building")
    await chat.send("水" * 20_000)  # R: a huge description is refused, nothing entered is lost
    assert "20000 characters" in chat.last() and "2000" in chat.last()
    await chat.send("Water is coming through the ceiling since 8am")
    assert chat.said("Photos help the crew")
    await chat.update(photo(WANG, "ph-1"))
    await chat.update(photo(WANG, "ph-2"))
    assert "2 of 5" in chat.last()
    await chat.press("Done")
    await chat.send("13800abc001")  # letters in the phone number
    assert "does not look like a phone number" in chat.last()
    await chat.send("0512-65231234")
    summary = chat.last()
    assert "Water leak or burst pipe" in summary and "城西区建设路 8号 2单元301" in summary
    assert "The whole building" in summary and "ceiling" in summary and "Photos: 2" in summary
    await chat.press("Submit")
    (ticket,) = await _tickets(ctx)
    assert ticket.priority is Priority.normal and ticket.category == "water_leak" and ticket.district == "城西区"
    assert ticket.attachments == ["ph-1", "ph-2"] and ticket.contact_phone == "0512-65231234"
    assert ticket.extent == "building" and ticket.description.startswith("Water is coming")
    assert ticket.number in chat.last() and "please keep it" in chat.last()


async def test_double_submit_and_stale_submit_file_one_ticket(ctx, dp, bot, demo_town) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("🛠 Report a fault")
    await chat.press("Power")
    await chat.press("Power cut")
    await chat.press("城东区")
    await chat.press("Only my home")
    await chat.send("No power since noon")
    await chat.press("Skip")
    await chat.press("Use the number on file")
    submit = next(data for text, data in buttons(bot) if "Submit" in text)
    await chat.tap(submit)
    await dp.feed_update(bot, updates.callback(submit, user_id=WANG, message_id=999))  # another device
    assert len(await _tickets(ctx)) == 1
    assert any("Already submitted" in a for a in chat.alerts())


async def test_cancel_at_any_step_submits_nothing(ctx, dp, bot, demo_town) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("🛠 Report a fault")
    await chat.press("Gas")
    await chat.press("No gas")
    await chat.press("Cancel")
    assert "Nothing was submitted" in chat.last()
    await chat.send("🛠 Report a fault")
    await chat.press("Gas")
    await chat.press("No gas")
    await chat.send("/cancel")
    assert "Nothing was submitted" in chat.last()
    await chat.send("🛠 Report a fault")
    await chat.press("Gas")
    await chat.press("No gas")
    await chat.send("Cancel")  # the reply-keyboard button
    assert "Nothing was submitted" in chat.last()
    assert await _tickets(ctx) == []


async def test_duplicate_report_is_linked(ctx, dp, bot, demo_town) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    for _round in range(2):
        await chat.send("🛠 Report a fault")
        await chat.press("Gas")
        await chat.press("No gas")
        await chat.press("城东区")
        await chat.press("Only my home")
        await chat.send("Stove will not light")
        await chat.press("Skip")
        await chat.press("Use the number on file")
        await chat.press("Submit")
    (ticket,) = await _tickets(ctx)
    assert "already reported this problem" in chat.last() and ticket.number in chat.last()
    async with ctx.sessionmaker() as session:
        reports = (await session.execute(select(TicketEvent).where(TicketEvent.kind == "report"))).scalars().all()
    assert len(reports) == 1


async def test_known_outage_is_explained_instead_of_a_new_ticket(ctx, dp, bot, demo_town, clock) -> None:
    from datetime import timedelta

    from db.enums import OutageKind, OutageStatus, Utility
    from db.models import OutageNotice

    async with ctx.sessionmaker() as session:
        session.add(OutageNotice(
            number="TD-20261123-0001", utility=Utility.water, kind=OutageKind.emergency,
            status=OutageStatus.announced, reason_zh="主管道爆裂抢修", reason_en="Repairing a burst main",
            area={"districts": ["城东区"]}, starts_at=clock.now() - timedelta(hours=1),
            restore_at=clock.now() + timedelta(hours=5), created_at=clock.now(), announced_at=clock.now()))
        await session.commit()
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("🛠 Report a fault")
    await chat.press("Water")
    await chat.press("No water")
    await chat.press("城东区")  # the linked water account
    assert chat.said("Repairing a burst main") and chat.said("known outage")
    await chat.press("that explains it")
    assert "No new report was filed" in chat.last()
    assert await _tickets(ctx) == []
    # A different problem at the same place can still be reported.
    await chat.send("🛠 Report a fault")
    await chat.press("Water")
    await chat.press("No water")
    await chat.press("城东区")
    await chat.press("different problem")
    assert chat.said("How far does the problem reach")


async def test_stale_form_does_not_trap_the_resident(ctx, dp, bot, demo_town, clock) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("🛠 Report a fault")
    await chat.press("Water")
    await chat.press("No water")
    clock.advance(days=3)  # comes back days later and asks something else
    await chat.send("how do I pay my water bill")
    assert chat.said("unfinished form from earlier has been closed")
    state = dp.fsm.get_context(bot, chat_id=WANG, user_id=WANG)
    assert await state.get_state() is None
    assert await _tickets(ctx) == []


async def test_forged_account_button_is_refused(ctx, dp, bot, demo_town) -> None:
    from bot.routers.fault import Act, FaultCallback

    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("🛠 Report a fault")
    await chat.press("Gas")
    await chat.press("No gas")
    await chat.tap(FaultCallback(act=Act.account, v="7").pack())  # account 7 belongs to someone else
    assert any("no longer active" in a for a in chat.alerts())
    state = dp.fsm.get_context(bot, chat_id=WANG, user_id=WANG)
    assert (await state.get_state()).endswith("location")


@pytest.mark.redis
async def test_fault_form_state_survives_in_redis(ctx, bot, demo_town, redis_url) -> None:
    """Production keeps forms in Redis: everything the form stores must round-trip through JSON."""
    import uuid

    from aiogram.fsm.storage.base import DefaultKeyBuilder
    from aiogram.fsm.storage.redis import RedisStorage

    from bot.app import build_dispatcher

    prefix = f"t-{uuid.uuid4().hex[:10]}"  # other test runs may share this Redis database
    storage = RedisStorage.from_url(redis_url, key_builder=DefaultKeyBuilder(prefix=prefix))
    try:
        dp = build_dispatcher(ctx, storage=storage)
        await set_language(ctx, WANG, "en")
        chat = Chat(dp, bot, WANG)
        await chat.send("🛠 Report a fault")
        await chat.press("Water")
        await chat.press("Low water pressure")
        await chat.update(location(WANG, 31.30, 120.58))
        await chat.press("城西区")
        await chat.press("The street or the whole area")
        await chat.send("Weak flow on every tap")
        await chat.update(photo(WANG, "r-1"))
        await chat.press("Done")
        await chat.send("13912345678")
        await chat.press("Submit")
        (ticket,) = await _tickets(ctx)
        assert (ticket.latitude, ticket.longitude, ticket.district) == (31.30, 120.58, "城西区")
        assert ticket.attachments == ["r-1"] and ticket.contact_phone == "13912345678"
    finally:
        keys = [k async for k in storage.redis.scan_iter(f"{prefix}:*")]
        if keys:
            await storage.redis.delete(*keys)
        await storage.close()


async def test_gas_leak_typed_instead_of_tapped_goes_straight_to_safety(ctx, dp, bot, demo_town) -> None:
    chat = Chat(dp, bot, WANG)  # Chinese
    await chat.send("🛠 故障报修")
    mark = chat.mark()
    await chat.send("家里有很重的煤气味")
    texts = chat.texts_since(mark)
    assert "燃气泄漏：请先这样做" in texts[0] and "0000-9600119" in texts[0]
    await chat.press("城东区")
    await chat.send("13812345678")
    await chat.press("提交")
    (ticket,) = await _tickets(ctx)
    assert ticket.category == "gas_leak" and ticket.priority is Priority.emergency
    # any other typed text at the first question is a polite request to use the buttons, and files nothing
    await chat.send("🛠 故障报修")
    await chat.send("不知道怎么选")
    assert "请用上方按钮选择" in chat.last()
    assert len(await _tickets(ctx)) == 1


async def test_refused_submit_keeps_the_answers(ctx, dp, bot, demo_town, monkeypatch) -> None:
    """If the service refuses the report, nothing entered is lost: the summary comes back to be sent again."""
    from core import tickets

    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("🛠 Report a fault")
    await chat.press("I smell gas")
    await chat.press("城东区")
    await chat.send("13812345678")
    real = tickets.file_fault_report

    async def refuse_once(*a, **kw):
        monkeypatch.setattr(tickets, "file_fault_report", real)
        raise tickets.InvalidInput("refused")

    monkeypatch.setattr(tickets, "file_fault_report", refuse_once)
    await chat.press("Submit")
    assert chat.said("could not register the report") and "Please check your report" in chat.last()
    assert await _tickets(ctx) == []
    await chat.press("Submit")
    (ticket,) = await _tickets(ctx)
    assert ticket.category == "gas_leak" and ticket.contact_phone == "13812345678"
