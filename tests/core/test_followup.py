"""R4 follow-up: surveys go out 3–5 days after the work (not at once), at the R4 sampling rate of each kind of
work, plus one month after an installation's acceptance; never two open surveys for one resident; a low score
becomes a supervisor's review task."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from core import appointments, ignition, surveys, tickets
from core.clock import LOCAL_TZ, local
from db.enums import OutboxStatus, Priority, ServiceType, StaffRole, TicketKind
from db.models import OutboxNotification, Resident, Survey, Ticket
from tests.support.demo import WANG

ALL_READY = {i.value: True for i in ignition.ITEMS}

# (kind of work, how it is produced, R4 rate)
WORK = [
    ("leak_repair", ("ticket", "gas_leak", False), 1.0),
    ("paid_repair", ("ticket", "meter_fault", True), 1.0),
    ("appliance_repair", ("visit", ServiceType.appliance_repair, False), 1.0),
    ("small_installation", ("visit", ServiceType.meter_check, False), 0.1),
    ("ignition", ("visit", ServiceType.ignition, False), 0.1),
    ("free_repair", ("ticket", "no_gas", False), 0.1),
    ("safety_inspection", ("visit", ServiceType.safety_inspection, False), 0.1),
]


async def _finish(ctx, session, staffers, clock, how, *, key: str = "k") -> str:
    """Finish one piece of work for 王 and return its number."""
    agent = staffers[StaffRole.agent]
    wang = await session.get(Resident, WANG)
    kind, what, paid = how
    if kind == "ticket":
        t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=wang, subject=what,
                                        category=what, utility="gas", notify=False, idempotency_key=key)
        await tickets.change_status(session, ctx=ctx, ticket=t, to="resolved", note="已修复", paid=paid, staff=agent)
        return t.number
    appt = await appointments.request_appointment(
        session, ctx=ctx, resident=wang, service=what, district="城东区", address="城东区人民路1号",
        day=date(2026, 11, 24), window="09-12", idempotency_key=key, prerequisites=ALL_READY)
    await appointments.confirm(session, ctx=ctx, appt=appt, staff=agent)
    clock.set(datetime(2026, 11, 24, 11, 0))
    if what is ServiceType.ignition:  # R19: an ignition is completed through its checklist
        await appointments.record_ignition_visit(session, ctx=ctx, appt=appt, staff=agent, checks=ALL_READY)
    else:
        await appointments.complete(session, ctx=ctx, appt=appt, staff=agent, paid=paid)
    return appt.number


async def _surveys(session) -> list[Survey]:
    return list((await session.execute(select(Survey).where(Survey.category != "installation_month")
                                       .order_by(Survey.id))).scalars())


@pytest.mark.parametrize(("category", "how", "rate"), WORK, ids=[w[0] for w in WORK])
@pytest.mark.parametrize("sampler_says", [True, False])
async def test_r4_sampling_rate_per_kind_of_work(ctx, session, staffers, clock, category, how, rate,
                                                 sampler_says) -> None:
    asked: list[tuple[float, str]] = []

    def sampler(r: float, key: str) -> bool:
        asked.append((r, key))
        return sampler_says

    ctx.extras["survey_sampler"] = sampler
    number = await _finish(ctx, session, staffers, clock, how)
    found = await _surveys(session)
    if rate == 1.0:
        assert asked == []  # 100 % is never left to chance
        assert [s.category for s in found] == [category]
    else:
        assert asked == [(rate, number)]  # the R4 rate, asked once, deterministically keyed by the number
        assert [s.category for s in found] == ([category] if sampler_says else [])


def test_r4_rates_match_the_rule() -> None:
    assert {c.value: r for c, r in surveys.RATES.items()} == {
        "leak_repair": 1.0, "paid_repair": 1.0, "appliance_repair": 1.0, "complaint": 1.0,
        "small_installation": 0.1, "ignition": 0.1, "free_repair": 0.1, "safety_inspection": 0.1,
        "installation_month": 1.0}


async def test_r4_survey_goes_out_3_to_5_days_later_in_the_daytime(ctx, session, staffers, clock) -> None:
    await _finish(ctx, session, staffers, clock, ("ticket", "gas_leak", False), key="a")
    (s,) = await _surveys(session)
    row = (await session.execute(select(OutboxNotification).where(OutboxNotification.kind == "survey"))).scalar_one()
    done = clock.now()
    assert row.not_before == s.sent_at and timedelta(days=3) <= s.sent_at - done <= timedelta(days=5)
    assert row.not_before > done  # not at once
    # Finished late in the evening: still 3–5 days later, but not at night.
    assert surveys.send_time(datetime(2026, 11, 23, 21, 30, tzinfo=LOCAL_TZ)) == datetime(2026, 11, 27, 10, 0,
                                                                                         tzinfo=LOCAL_TZ)
    at = surveys.send_time(datetime(2026, 11, 23, 2, 0, tzinfo=LOCAL_TZ))
    assert local(at).hour == 10 and timedelta(days=3) <= at - datetime(2026, 11, 23, 2, 0, tzinfo=LOCAL_TZ)


async def test_r4_one_month_after_an_installation_is_accepted(ctx, session, staffers, clock) -> None:
    ctx.extras["survey_sampler"] = lambda rate, key: False  # not in the 10 % ignition sample
    number = await _finish(ctx, session, staffers, clock, ("visit", ServiceType.ignition, False))
    (month,) = (await session.execute(select(Survey))).scalars()
    assert month.category == "installation_month"
    assert timedelta(days=30) <= month.sent_at - clock.now() <= timedelta(days=31)
    row = (await session.execute(select(OutboxNotification).where(OutboxNotification.kind == "survey"))).scalar_one()
    assert number in row.payload["text"] and row.not_before == month.sent_at


async def test_r4_never_two_open_surveys_for_one_resident(ctx, session, staffers, clock) -> None:
    await _finish(ctx, session, staffers, clock, ("ticket", "gas_leak", False), key="a")
    await _finish(ctx, session, staffers, clock, ("ticket", "water_leak", False), key="b")
    assert len(await _surveys(session)) == 1
    second = (await session.execute(select(Ticket).where(Ticket.idempotency_key == "b"))).scalar_one()
    event = next(e for e in (await tickets.get_ticket(session, second.number)).events if e.to_status == "resolved")
    assert event.data["survey"] == {"r4": "leak_repair", "sampled": False, "survey_id": None, "skipped": "pending"}
    assert [r.status for r in (await session.execute(select(OutboxNotification).where(
        OutboxNotification.kind == "survey"))).scalars()] == [OutboxStatus.pending]
    # Once the first is answered, the next piece of work is followed up again.
    (first,) = await _surveys(session)
    clock.advance(days=4)
    wang = await session.get(Resident, WANG)
    await surveys.record_rating(session, ctx=ctx, survey_id=first.id, resident=wang, question="a", score=9)
    await surveys.record_rating(session, ctx=ctx, survey_id=first.id, resident=wang, question="b", score=9)
    await _finish(ctx, session, staffers, clock, ("ticket", "gas_leak", False), key="c")
    assert len(await _surveys(session)) == 2


async def test_r4_low_score_opens_a_supervisor_review_task(ctx, session, staffers, clock) -> None:
    number = await _finish(ctx, session, staffers, clock, ("ticket", "gas_leak", False))
    (s,) = await _surveys(session)
    clock.advance(days=4)
    wang = await session.get(Resident, WANG)
    await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="a", score=8)
    result = await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="b", score=3)
    task = result.followup
    assert task is not None and task.kind is TicketKind.followup and task.priority is Priority.high
    assert number in task.subject
