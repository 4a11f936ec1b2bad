"""R4 follow-up: sampling by kind of work, the two ratings, low scores to a supervisor, the satisfaction figure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from core import appointments, ignition, surveys, tickets
from db.enums import OutboxStatus, Priority, ServiceType, StaffRole, TicketKind
from db.models import Resident, Survey, Ticket
from tests.support.context import NOW
from tests.support.demo import WANG, outbox_rows


async def _resolved_fault(ctx, session, staffers, category: str, *, paid: bool = False, key: str = "") -> Ticket:
    r = await session.get(Resident, WANG)
    t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=r, subject=category,
                                    category=category, utility="gas", notify=False, idempotency_key=key or None)
    await tickets.change_status(session, ctx=ctx, ticket=t, to="resolved", note="fixed", paid=paid,
                                staff=staffers[StaffRole.agent])
    return t


async def _answer_all(session) -> None:
    await session.execute(update(Survey).values(attitude=9, ability=9, answered_at=NOW))
    await session.commit()


async def _surveys(session) -> list[Survey]:
    return list((await session.execute(select(Survey).order_by(Survey.id))).scalars())


async def test_leak_repairs_always_surveyed_free_repairs_sampled(ctx, session, staffers) -> None:
    calls = []

    def never(rate: float, key: str) -> bool:
        calls.append((rate, key))
        return False

    ctx.extras["survey_sampler"] = never
    a = await _resolved_fault(ctx, session, staffers, "gas_leak", key="a")  # leak repair: 100 %
    await _answer_all(session)  # R4: one open survey per resident, so each is answered before the next
    b = await _resolved_fault(ctx, session, staffers, "no_gas", key="b")  # free repair: 10 %, sampler says no
    await _resolved_fault(ctx, session, staffers, "meter_fault", paid=True, key="c")  # paid work: 100 %
    assert calls == [(0.1, b.number)]  # only the sampled category asks the sampler
    await _answer_all(session)
    ctx.extras["survey_sampler"] = lambda rate, key: True
    await _resolved_fault(ctx, session, staffers, "power_cut", key="d")  # in the 10 % this time
    found = await _surveys(session)
    assert [s.category for s in found] == ["leak_repair", "paid_repair", "free_repair"]
    assert found[0].ticket_id == a.id


def test_hash_sampler_is_deterministic_and_near_the_rate() -> None:
    keys = [f"BX-20261123-{i:04d}" for i in range(4000)]
    picked = [k for k in keys if surveys.hash_sampler(0.1, k)]
    assert picked == [k for k in keys if surveys.hash_sampler(0.1, k)]
    assert 0.08 < len(picked) / len(keys) < 0.12
    assert all(surveys.hash_sampler(1.0, k) for k in keys[:50])


async def test_survey_message_comes_after_the_resolution(ctx, session, staffers) -> None:
    t = await _resolved_fault(ctx, session, staffers, "gas_leak")
    rows = await outbox_rows(ctx, WANG)
    assert [r.kind for r in rows] == ["ticket.status", "survey"]
    assert rows[0].priority > rows[1].priority  # the sender takes the "resolved" notice first
    survey = (await _surveys(session))[0]
    buttons = rows[1].payload["reply_markup"]["inline_keyboard"]
    assert buttons[0][0]["callback_data"] == f"srv:{survey.id}:a:1" and len(buttons[0] + buttons[1]) == 10
    assert t.number in rows[1].payload["text"]


async def test_reopening_withdraws_an_unsent_survey(ctx, session, staffers) -> None:
    t = await _resolved_fault(ctx, session, staffers, "gas_leak")
    await tickets.change_status(session, ctx=ctx, ticket=t, to="in_progress", staff=staffers[StaffRole.agent])
    assert await _surveys(session) == []
    survey_rows = [r for r in await outbox_rows(ctx, WANG) if r.kind == "survey"]
    assert [r.status for r in survey_rows] == [OutboxStatus.cancelled]


async def test_ratings_order_and_low_score_followup(ctx, session, staffers, clock) -> None:
    t = await _resolved_fault(ctx, session, staffers, "gas_leak")
    clock.advance(days=4)  # R4: the survey is sent 3–5 days after the repair
    (s,) = await _surveys(session)
    wang = await session.get(Resident, WANG)
    with pytest.raises(surveys.SurveyError) as e:
        await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="b", score=5)
    assert e.value.code == "order"
    with pytest.raises(surveys.SurveyError):
        await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="a", score=11)
    other = await session.get(Resident, 10002)
    with pytest.raises(surveys.SurveyError) as e:
        await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=other, question="a", score=9)
    assert e.value.code == "unknown"
    await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="a", score=9)
    result = await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="b", score=5)
    assert result.done and result.followup is not None
    f = result.followup
    assert f.kind is TicketKind.followup and f.priority is Priority.high and t.number in f.subject
    with pytest.raises(surveys.SurveyError) as e:
        await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="b", score=9)
    assert e.value.code == "answered"
    await surveys.add_comment(session, ctx=ctx, survey_id=s.id, resident=wang, text="The crew came late")
    full = await tickets.get_ticket(session, f.number)
    assert any(ev.note == "The crew came late" for ev in full.events)


async def test_good_scores_open_no_followup(ctx, session, staffers, clock) -> None:
    await _resolved_fault(ctx, session, staffers, "gas_leak")
    clock.advance(days=4)
    (s,) = await _surveys(session)
    wang = await session.get(Resident, WANG)
    await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="a", score=7)
    result = await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="b", score=10)
    assert result.followup is None


async def test_expired_survey(ctx, session, staffers, clock) -> None:
    await _resolved_fault(ctx, session, staffers, "gas_leak")
    (s,) = await _surveys(session)
    clock.advance(days=18)  # sent 3 days after the repair, open for 14 days
    with pytest.raises(surveys.SurveyError) as e:
        await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=await session.get(Resident, WANG),
                                    question="a", score=9)
    assert e.value.code == "expired"


async def test_satisfaction_is_the_r4_mean(ctx, session, staffers, clock) -> None:
    wang = await session.get(Resident, WANG)
    for key, (a, b) in {"x": (10, 8), "y": (6, 4), "z": (None, None)}.items():
        await _resolved_fault(ctx, session, staffers, "gas_leak", key=key)
        clock.advance(days=4)
        s = (await _surveys(session))[-1]
        if a is not None:
            await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="a", score=a)
            await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=wang, question="b", score=b)
    result = await surveys.satisfaction(session, now=ctx.clock.now())
    # attitude mean (10+6)/2 = 8, ability mean (8+4)/2 = 6, final = (8+6)/2 = 7
    assert (result.sent, result.answered, result.attitude, result.ability, result.score) == (3, 2, 8.0, 6.0, 7.0)
    assert result.low == 1 and result.percent == 70.0 and result.by_category["leak_repair"].score == 7.0
    assert round(result.response_rate, 3) == 0.667


async def test_completed_visit_is_sampled_by_service(ctx, session, staffers, clock) -> None:
    calls = []
    ctx.extras["survey_sampler"] = lambda rate, key: calls.append((rate, key)) or True
    wang = await session.get(Resident, WANG)
    appt = await appointments.request_appointment(
        session, ctx=ctx, resident=wang, service=ServiceType.ignition, district="城东区", address="城东区人民路1号",
        day=date(2026, 11, 24), window="09-12", prerequisites={i.value: True for i in ignition.ITEMS})
    await appointments.confirm(session, ctx=ctx, appt=appt, staff=staffers[StaffRole.agent])
    clock.advance(days=1)
    await appointments.record_ignition_visit(session, ctx=ctx, appt=appt, staff=staffers[StaffRole.agent],
                                             checks={i.value: True for i in ignition.ITEMS})
    assert calls == [(0.1, appt.number)]  # R4: ignition 10 %
    s, month = await _surveys(session)
    assert s.category == "ignition" and s.appointment_id == appt.id
    assert month.category == "installation_month" and month.appointment_id == appt.id
    assert timedelta(days=3) <= s.sent_at - clock.now() <= timedelta(days=5)
