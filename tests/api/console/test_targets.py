"""R18 service targets on the reports page: each target beside its measured value, red when missed, with the
counts behind it; R7 emergency on-time arrival against 99 %."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from core import targets
from core.clock import LOCAL_TZ
from core.reports import Period
from db.enums import (
    AccountState,
    CorrectionStatus,
    MeterType,
    Priority,
    StaffRole,
    TicketKind,
    TicketStatus,
    Utility,
)
from db.models import BillCorrection, MeterReading, Survey, Ticket, UtilityAccount
from tests.support.console import add_resident

OLD = datetime(2026, 9, 1, tzinfo=LOCAL_TZ)


def _account(n: int, state=AccountState.connected, created=OLD) -> UtilityAccount:
    return UtilityAccount(number=f"100000{n:04d}", utility=Utility.gas, holder_name="x", district="城东区",
                          street="人民路", building="1", meter_type=MeterType.ordinary, state=state, household_size=4,
                          created_at=created, updated_at=created)


def _ticket(ctx, n: int, *, kind=TicketKind.fault, created_h: float, done_h: float | None, deadline_h: float,
            priority=Priority.normal, **kw) -> Ticket:
    now = ctx.clock.now()
    done = None if done_h is None else now - timedelta(hours=done_h)
    return Ticket(number=f"X-{n}", kind=kind, status=TicketStatus.resolved if done else TicketStatus.in_progress,
                  priority=priority, subject="s", description="", attachments=[], language="zh_Hans",
                  created_at=now - timedelta(hours=created_h), updated_at=now, resolved_at=done,
                  deadline_at=now - timedelta(hours=deadline_h), **kw)


async def _seed(ctx) -> None:
    await add_resident(ctx)
    now = ctx.clock.now()
    async with ctx.sessionmaker() as s:
        accs = [_account(1), _account(2), _account(3), _account(4, AccountState.suspended),
                _account(5, created=datetime(2026, 10, 10, tzinfo=LOCAL_TZ))]
        s.add_all(accs)
        await s.flush()
        # October (its window closed on the 26th, inside the last 30 days): 2 of the 3 due accounts read.
        r1 = MeterReading(account_id=accs[0].id, read_on=date(2026, 10, 15), value_milli=1, usage_milli=150_000)
        r2 = MeterReading(account_id=accs[1].id, read_on=date(2026, 10, 16), value_milli=1, usage_milli=20_000)
        s.add_all([r1, r2, MeterReading(account_id=accs[3].id, read_on=date(2026, 9, 15), value_milli=1,
                                        usage_milli=1)])
        await s.flush()
        s.add(BillCorrection(account_id=accs[0].id, reading_id=r1.id, period="2026-10",
                             status=CorrectionStatus.posted, suspicious_usage_milli=150_000,
                             corrected_usage_milli=15_000, held=[], required=[], created_at=now))  # R12: wrong
        repair_ok = _ticket(ctx, 1, created_h=50, done_h=40, deadline_h=20, arrived_at=now - timedelta(hours=49),
                            repair_outcome="fixed", first_visit_fix=True, priority=Priority.emergency)
        repair_late = _ticket(ctx, 2, created_h=80, done_h=10, deadline_h=30, arrived_at=now - timedelta(hours=70),
                              repair_outcome="fixed", first_visit_fix=False)
        s.add_all([repair_ok, repair_late])
        await s.flush()
        repair_ok.arrived_at = repair_ok.created_at + timedelta(minutes=20)
        s.add_all([
            _ticket(ctx, 3, kind=TicketKind.callback, created_h=40, done_h=30, deadline_h=10,
                    repair_of_id=repair_ok.id),
            _ticket(ctx, 4, kind=TicketKind.callback, created_h=10, done_h=None, deadline_h=1,
                    repair_of_id=repair_late.id),
        ])
        for att, abl in ((9, 9), (6, 9)):
            s.add(Survey(resident_id=10001, category="repair", attitude=att, ability=abl,
                         sent_at=now - timedelta(days=2), answered_at=now - timedelta(days=1)))
        await s.commit()


async def test_r18_targets_measured_from_the_records(ctx) -> None:
    await _seed(ctx)
    now = ctx.clock.now()
    async with ctx.sessionmaker() as s:
        got = {t.key: t for t in await targets.measure(s, period=Period.last_days(now), now=now)}
    assert (got["reading_rate"].part, got["reading_rate"].whole) == (2, 3)
    assert (got["reading_accuracy"].part, got["reading_accuracy"].whole) == (1, 2)
    assert (got["repair_timeliness"].part, got["repair_timeliness"].whole) == (1, 2)
    assert (got["first_time_fix"].part, got["first_time_fix"].whole) == (1, 2)
    assert (got["followup_rate"].part, got["followup_rate"].whole) == (1, 2)
    assert (got["satisfaction"].part, got["satisfaction"].whole) == (1, 2)
    assert (got["emergency_arrival"].part, got["emergency_arrival"].whole) == (1, 1)
    assert got["emergency_arrival"].met is True and got["satisfaction"].met is False
    assert [t.target_label for t in got.values()] == ["100 %", "≥ 98 %", "100 %", "≥ 96 %", "100 %", "≥ 99.5 %",
                                                      "≥ 99 %"]
    # A period with no records says so instead of inventing 100 %.
    async with ctx.sessionmaker() as s:
        empty = await targets.measure(s, period=Period(date(2025, 1, 1), date(2025, 1, 31)), now=now)
    assert all(t.value is None and t.met is None for t in empty)


async def test_the_reading_targets_speak_of_the_last_finished_round_on_a_26th(ctx) -> None:
    """The last 30 days seen on 26 November hold no closed reading window (26 October is 31 days back, 26
    November not over): the reading targets use October's round instead of showing "no data"."""
    await _seed(ctx)
    on_26th = datetime(2026, 11, 26, 10, 0, tzinfo=LOCAL_TZ)
    async with ctx.sessionmaker() as s:
        got = {t.key: t for t in await targets.measure(s, period=Period.last_days(on_26th), now=on_26th)}
        # A short period in the middle of a month: the round that closed before it ended.
        mid = {t.key: t for t in await targets.measure(s, period=Period(date(2026, 11, 3), date(2026, 11, 12)),
                                                       now=on_26th)}
    assert (got["reading_rate"].part, got["reading_rate"].whole) == (2, 3)
    assert (got["reading_accuracy"].part, got["reading_accuracy"].whole) == (1, 2)
    assert (mid["reading_rate"].part, mid["reading_rate"].whole) == (2, 3)


async def test_r18_reports_page_shows_each_target_red_when_missed(ctx, make_client, staff_users) -> None:
    await _seed(ctx)
    c = await make_client(StaffRole.supervisor.value)
    page = (await c.get("/console/reports")).text
    assert 'id="r18-targets"' in page
    for key in ("reading_rate", "reading_accuracy", "repair_timeliness", "first_time_fix", "followup_rate",
                "satisfaction", "emergency_arrival"):
        row = re.search(rf'<tr id="target-{key}" class="(\w+)">(.*?)</tr>', page, re.S)
        assert row, key
        assert row.group(1) == ("met" if key == "emergency_arrival" else "missed"), key
    assert "66.67%" in page and "2 / 3" in page  # the reading rate and the data behind it
    missed = re.search(r'<tr id="target-reading_rate" class="missed">(.*?)</tr>', page, re.S).group(1)
    assert 'class="error"' in missed and "✗" in missed
