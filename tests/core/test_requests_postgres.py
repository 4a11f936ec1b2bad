"""Service requests on a real PostgreSQL: concurrent double submits, the last free slot, advisory-locked jobs,
and the R4 aggregate (FILTER) — the places where SQLite and PostgreSQL behave differently."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core import appointments, requests_jobs, surveys, tickets
from core.demo import load_demo
from db.enums import ServiceType, TicketKind
from db.models import Appointment, Resident, Ticket, TicketEvent

pytestmark = pytest.mark.postgres

TUE = date(2026, 11, 24)


@pytest.fixture
async def pg_demo(pg_ctx):
    async with pg_ctx.sessionmaker() as session:
        await load_demo(session, now=pg_ctx.clock.now())
    return pg_ctx


async def test_concurrent_confirms_file_one_ticket(pg_demo) -> None:
    ctx = pg_demo

    async def submit() -> int:
        async with ctx.sessionmaker() as session:
            r = await session.get(Resident, 10001)
            outcome = await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="gas",
                                                      category="gas_leak", place=tickets.Place(district="城东区"),
                                                      idempotency_key="same-form")
            return outcome.ticket.id

    ids = await asyncio.gather(*(submit() for _ in range(8)))
    assert len(set(ids)) == 1
    async with ctx.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(Ticket))).scalar_one() == 1


async def test_last_place_is_given_once(pg_demo) -> None:
    ctx = pg_demo

    async def book(i: int) -> bool:
        async with ctx.sessionmaker() as session:
            try:
                await appointments.request_appointment(
                    session, ctx=ctx, resident=None, service=ServiceType.meter_check, district="城东区",
                    address=f"城东区人民路{i}号", day=TUE, window="09-12", idempotency_key=f"k{i}")
                return True
            except appointments.SlotUnavailable:
                return False

    results = await asyncio.gather(*(book(i) for i in range(10)))
    assert sum(results) == 4  # the demo capacity
    async with ctx.sessionmaker() as session:
        n = (await session.execute(select(func.count()).select_from(Appointment))).scalar_one()
    assert n == 4


async def test_numbers_stay_unique_under_concurrency(pg_demo) -> None:
    ctx = pg_demo

    async def one(i: int) -> str:
        async with ctx.sessionmaker() as session:
            t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.complaint, resident=None,
                                            subject=f"c{i}")
            return t.number

    numbers = await asyncio.gather(*(one(i) for i in range(20)))
    assert len(set(numbers)) == 20 and sorted(numbers)[-1] == "TS-20261123-0020"


async def test_jobs_do_not_double_escalate(pg_demo) -> None:
    ctx = pg_demo
    async with ctx.sessionmaker() as session:
        for i in range(5):
            await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=None, subject=f"s{i}")
    ctx.clock.advance(days=6)
    results = await asyncio.gather(*(requests_jobs.escalate(ctx) for _ in range(4)))
    flagged = [n for r in results for n in r["tickets"]]
    assert len(flagged) == len(set(flagged)) == 5


async def test_satisfaction_on_postgres(pg_demo) -> None:
    ctx = pg_demo
    async with ctx.sessionmaker() as session:
        r = await session.get(Resident, 10001)
        t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=r, subject="leak",
                                        category="water_leak", notify=False)
        await tickets.change_status(session, ctx=ctx, ticket=t, to="resolved", note="ok")
        (s,) = (await session.execute(select(surveys.Survey))).scalars().all()
        ctx.clock.advance(days=4)  # R4: the survey reaches the resident 3–5 days after the repair
        await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=r, question="a", score=10)
        await surveys.record_rating(session, ctx=ctx, survey_id=s.id, resident=r, question="b", score=7)
        fig = await surveys.satisfaction(session, start=ctx.clock.now() - timedelta(days=1))
    assert (fig.attitude, fig.ability, fig.score) == (10.0, 7.0, 8.5)


async def test_concurrent_same_form_appointment_books_once(pg_demo) -> None:
    ctx = pg_demo

    async def submit() -> int:
        async with ctx.sessionmaker() as session:
            r = await session.get(Resident, 10001)
            appt = await appointments.request_appointment(
                session, ctx=ctx, resident=r, service=ServiceType.safety_inspection, district="城东区",
                address="城东区人民路1号", day=TUE, window="09-12", idempotency_key="appt-form")
            return appt.id

    ids = await asyncio.gather(*(submit() for _ in range(6)))
    assert len(set(ids)) == 1
    async with ctx.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(Appointment))).scalar_one() == 1


async def test_concurrent_repeat_report_is_linked_once(pg_demo) -> None:
    """An open ticket exists; the same follow-up report sent from two devices adds one report event."""
    ctx = pg_demo
    place = tickets.Place(address="城东区人民路1号", district="城东区")
    async with ctx.sessionmaker() as session:
        r = await session.get(Resident, 10001)
        first = await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="water",
                                                category="water_leak", place=place, idempotency_key="f1")

    async def submit() -> tuple[int, bool]:
        async with ctx.sessionmaker() as session:
            r = await session.get(Resident, 10001)
            outcome = await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="water",
                                                      category="water_leak", place=place, description="worse now",
                                                      idempotency_key="f2")
            return outcome.ticket.id, outcome.linked

    results = await asyncio.gather(*(submit() for _ in range(6)))
    assert {tid for tid, _ in results} == {first.ticket.id}
    async with ctx.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(Ticket))).scalar_one() == 1
        reports = (await session.execute(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "report"))).scalar_one()
    assert reports == 1
