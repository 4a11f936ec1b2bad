"""Visit booking, complaints, My requests and the survey through the real dispatcher."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from bot.keyboards.calendar import DayCallback
from core import appointments, ignition, surveys, tickets
from db.enums import AppointmentStatus, ServiceType, StaffRole, TicketKind, TicketStatus
from db.models import Appointment, Resident, Survey, Ticket
from tests import updates
from tests.support.chat import Chat, buttons, photo
from tests.support.demo import LINA, WANG, set_language

READY = {i.value: True for i in ignition.ITEMS}  # R19: the resident confirmed every prerequisite


async def _appointments(ctx) -> list[Appointment]:
    async with ctx.sessionmaker() as session:
        return list((await session.execute(select(Appointment).order_by(Appointment.id))).scalars())


async def _tickets(ctx) -> list[Ticket]:
    async with ctx.sessionmaker() as session:
        return list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars())


async def test_book_a_safety_inspection(ctx, dp, bot, demo_town) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("📅 Book a visit")
    assert "within 1 working day" in chat.last()
    await chat.press("Gas safety inspection")
    await chat.press("城东区")
    assert "Only days with a free place" in chat.last()
    days = [t for t, d in buttons(bot, last=1) if d.startswith("apd:")]
    assert len(days) == 14 and "Sat" not in " ".join(days) and "Sun" not in " ".join(days)
    await chat.send("2026-11-20")  # a date in the past, typed
    assert "already passed" in chat.last()
    await chat.tap(DayCallback(d="20261128").pack())  # a Saturday, forged
    assert "no free visit time on that day" in "".join(chat.texts_since(0)[-2:])
    await chat.press("Tue")
    assert "choose a time window" in chat.last()
    await chat.press("09:00–12:00")
    await chat.update(updates.contact("13800000001", user_id=WANG))
    assert "Please check your visit request" in chat.last()
    await chat.press("Send the request")
    (appt,) = await _appointments(ctx)
    assert appt.service is ServiceType.safety_inspection and appt.day == date(2026, 11, 24)
    assert appt.window == "09-12" and appt.status is AppointmentStatus.requested
    assert appt.number in chat.last() and "We will confirm it by" in chat.last()


async def test_typed_address_needs_a_district_and_new_resident_can_book(ctx, dp, bot, demo_town) -> None:
    chat = Chat(dp, bot, LINA)
    await set_language(ctx, LINA, "en")
    await chat.send("📅 Book a visit")
    await chat.press("Meter check")
    await chat.send("Some street 5, flat 2")
    assert "Which district" in chat.last()
    await chat.press("城北区")
    await chat.send("11/24")  # typed date that is free
    assert "choose a time window" in chat.last()
    await chat.press("14:00–17:00")
    await chat.send("1380000000x")
    assert "does not look like a phone number" in chat.last()
    await chat.send("13800000002")
    await chat.press("Send the request")
    (appt,) = await _appointments(ctx)
    assert appt.district == "城北区" and appt.address == "Some street 5, flat 2" and appt.window == "14-17"


async def test_full_slot_is_not_offered_and_race_keeps_answers(ctx, dp, bot, demo_town, monkeypatch) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("📅 Book a visit")
    await chat.press("Gas safety inspection")
    await chat.press("城东区")
    await chat.press("Tue")
    await chat.press("09:00–12:00")
    await chat.press("Use the number on file")
    # Meanwhile four other residents take every place in that window.
    async with ctx.sessionmaker() as session:
        for i in range(4):
            await appointments.request_appointment(
                session, ctx=ctx, resident=None, service=ServiceType.meter_check, district="城东区", address="x 1",
                day=date(2026, 11, 24), window="09-12", idempotency_key=f"other-{i}")
    await chat.press("Send the request")
    assert "taken just now" in chat.last() and "Your other answers are kept" in chat.last()
    await chat.press("Tue")
    windows = [t for t, d in buttons(bot, last=1) if d.startswith("apw:")]
    assert windows == ["🕘 14:00–17:00"]
    await chat.press("14:00–17:00")
    assert "Please check your visit request" in chat.last()  # the phone given before is kept
    await chat.press("Send the request")
    mine = [a for a in await _appointments(ctx) if a.resident_id == WANG]
    assert len(mine) == 1 and mine[0].window == "14-17"


async def test_complaint_with_photo_and_no_phone(ctx, dp, bot, demo_town) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("📝 Complaint")
    assert "any time" in chat.last()
    await chat.update(updates.sticker_like(user_id=WANG))  # not text where text is expected
    assert "in text" in chat.last()
    await chat.send("x" * 2500)
    assert "2500 characters" in chat.last()
    await chat.send("The meter reader was rude to my mother on Friday.")
    await chat.update(photo(WANG, "cmp-1"))
    await chat.press("Done")
    await chat.press("Skip")
    assert "here in the chat" in chat.last()
    await chat.press("Submit the complaint")
    (t,) = await _tickets(ctx)
    assert t.kind is TicketKind.complaint and t.attachments == ["cmp-1"] and t.contact_phone is None
    assert t.number.startswith("TS-") and t.number in chat.last()
    assert "2026" in chat.last()  # the R3 date


async def test_my_requests_lists_and_cancels(ctx, dp, bot, staffers) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("📋 My requests")
    assert "no requests yet" in chat.last()
    async with ctx.sessionmaker() as session:
        wang = await session.get(Resident, WANG)
        t1 = await tickets.file_complaint(session, ctx=ctx, resident=wang, text="Bill too high this month")
        t2 = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=wang, subject="s",
                                         category="no_gas", notify=False)
        await tickets.change_status(session, ctx=ctx, ticket=t2, to="accepted", staff=staffers[StaffRole.agent])
        appt = await appointments.request_appointment(
            session, ctx=ctx, resident=wang, service=ServiceType.ignition, district="城东区", address="城东区人民路1号",
            day=date(2026, 11, 25), window="09-12", prerequisites=READY)
    await chat.send("📋 My requests")
    listing = chat.last()
    assert t1.number in listing and t2.number in listing and appt.number in listing
    assert "Accepted" in listing and "Waiting for confirmation" in listing and "due by" in listing
    labels = [t for t, _ in buttons(bot, last=1)]
    assert f"✖️ Withdraw {t1.number}" in labels and f"✖️ Withdraw {t2.number}" not in labels  # taken already
    await chat.press(f"Withdraw {t1.number}")
    await chat.press("Yes, withdraw it")
    assert "has been withdrawn" in chat.last()
    await chat.send("📋 My requests")
    await chat.press(f"Change {appt.number}")
    await chat.press("Thu")
    await chat.press("14:00–17:00")
    assert "moved to" in chat.last()
    await chat.send("📋 My requests")
    await chat.press(f"Cancel {appt.number}")
    await chat.press("Yes, cancel the visit")
    async with ctx.sessionmaker() as session:
        assert (await session.get(Ticket, t1.id)).status is TicketStatus.cancelled
        fresh = await session.get(Appointment, appt.id)
        assert fresh.status is AppointmentStatus.cancelled and fresh.day == date(2026, 11, 26)


async def test_forged_my_requests_buttons_change_nothing(ctx, dp, bot, demo_town) -> None:
    from bot.routers.my_requests import MyAct, MyRequestsCallback

    async with ctx.sessionmaker() as session:
        other = await session.get(Resident, LINA)
        t = await tickets.file_complaint(session, ctx=ctx, resident=other, text="Someone else's complaint")
    chat = Chat(dp, bot, WANG)
    await chat.tap(MyRequestsCallback(act=MyAct.withdraw_yes, id=t.id).pack())
    await chat.tap("myr:zz:1")
    assert (await _tickets(ctx))[0].status is TicketStatus.new
    assert len(chat.alerts()) == 2


async def test_survey_buttons_followup_and_comment(ctx, dp, bot, staffers, clock) -> None:
    from bot.routers.survey import SurveyCallback

    await set_language(ctx, WANG, "en")
    async with ctx.sessionmaker() as session:
        wang = await session.get(Resident, WANG)
        t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=wang, subject="leak",
                                        category="gas_leak", notify=False)
        await tickets.change_status(session, ctx=ctx, ticket=t, to="resolved", note="fixed",
                                    staff=staffers[StaffRole.agent])
        survey = (await session.execute(select(Survey))).scalar_one()
    clock.advance(days=4)  # R4: the survey reaches the resident 3–5 days after the repair
    # The outbox buttons are exactly what the bot's CallbackData packs.
    assert SurveyCallback(survey=survey.id, q=surveys.Question.attitude, score=3).pack() == \
        surveys.callback_data(survey.id, surveys.Question.attitude, 3)
    chat = Chat(dp, bot, WANG)
    await chat.tap(surveys.callback_data(survey.id, surveys.Question.ability, 8))  # out of order
    assert "attitude first" in chat.alerts()[-1]
    await chat.tap(surveys.callback_data(survey.id, surveys.Question.attitude, 3))
    edits = bot.sent("EditMessageText")
    assert "Professional ability" in edits[-1].text
    await chat.tap(surveys.callback_data(survey.id, surveys.Question.ability, 8))
    assert "supervisor will contact you" in bot.sent("EditMessageText")[-1].text
    await chat.send("The crew left a mess")
    assert "passed on" in chat.last()
    await chat.tap(surveys.callback_data(survey.id, surveys.Question.ability, 9))
    assert "already answered" in chat.alerts()[-1]
    followups = [x for x in await _tickets(ctx) if x.kind is TicketKind.followup]
    assert len(followups) == 1
    async with ctx.sessionmaker() as session:
        s = await session.get(Survey, survey.id)
        assert (s.attitude, s.ability, s.comment) == (3, 8, "The crew left a mess")
        assert (await surveys.satisfaction(session)).score == 5.5


async def test_proposal_buttons_match_and_accept(ctx, dp, bot, staffers) -> None:
    from bot.routers.appointment import ProposalCallback

    await set_language(ctx, WANG, "en")
    async with ctx.sessionmaker() as session:
        wang = await session.get(Resident, WANG)
        appt = await appointments.request_appointment(
            session, ctx=ctx, resident=wang, service=ServiceType.ignition, district="城东区", address="城东区人民路1号",
            day=date(2026, 11, 24), window="09-12", prerequisites=READY)
        await appointments.propose_slot(session, ctx=ctx, appt=appt, staff=staffers[StaffRole.agent],
                                        day=date(2026, 11, 26), window="14-17")
    assert ProposalCallback(id=appt.id, action=appointments.ProposalAction.accept).pack() == \
        appointments.proposal_callback(appt.id, appointments.ProposalAction.accept)
    chat = Chat(dp, bot, WANG)
    await chat.tap(appointments.proposal_callback(appt.id, appointments.ProposalAction.accept))
    assert "is confirmed for" in chat.last()
    (fresh,) = await _appointments(ctx)
    assert fresh.status is AppointmentStatus.confirmed and fresh.day == date(2026, 11, 26)
    again = appointments.proposal_callback(appt.id, appointments.ProposalAction.accept)
    await dp.feed_update(bot, updates.callback(again, user_id=WANG, message_id=7))  # a later tap
    assert "no longer active" in chat.alerts()[-1]


async def test_past_cutoff_cannot_be_changed_in_the_bot(ctx, dp, bot, demo_town, clock) -> None:
    async with ctx.sessionmaker() as session:
        wang = await session.get(Resident, WANG)
        appt = await appointments.request_appointment(
            session, ctx=ctx, resident=wang, service=ServiceType.ignition, district="城东区", address="城东区人民路1号",
            day=date(2026, 11, 24), window="09-12", prerequisites=READY)
    clock.set(datetime(2026, 11, 23, 18, 30))
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("📋 My requests")
    assert appt.number in chat.last()
    assert not [t for t, _ in buttons(bot, last=1) if appt.number in t]
    from bot.routers.my_requests import MyAct, MyRequestsCallback

    await chat.tap(MyRequestsCallback(act=MyAct.cancel_visit_yes, id=appt.id).pack())
    assert "no longer be changed" in chat.alerts()[-1]
    assert (await _appointments(ctx))[0].status is AppointmentStatus.requested
