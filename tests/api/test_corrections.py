"""R12 bill corrections: >100 m³ held for a re-read; >500 m³ / >1,000 m³ corrections approved in order.
R17: account state transitions (audited) and the 6th–26th reading window."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from core import account_numbers, account_states, billing, corrections, staff
from db.enums import AccountState, ApprovalRole, CorrectionStatus, LedgerKind, StaffRole, Utility
from db.models import AuditLog, BillCorrection, LedgerEntry, MeterReading, UtilityAccount
from onestop.cli import app as cli
from tests.support.console import login, token_of
from tests.support.context import make_ctx, make_settings

HEADER = ("type,external_id,account,holder_name,district,street,building,meter_type,state,"
          "date,value,usage,amount,period,quantity,description\n")


def _acc(serial: int) -> str:
    return account_numbers.make(Utility.gas, 9000 + serial)


def _account_row(serial: int, state: str = "connected") -> str:
    return f"account,A-{serial},{_acc(serial)},赵六,城东区,人民路,5,ordinary,{state},,,,,,,\n"


def _month(serial: int, usage: str, amount: str, *, day: str = "2026-10-15", tag: str = "") -> str:
    n = _acc(serial)
    return (f"reading,R-{serial}{tag},{n},,,,,,,{day},{5000 + float(usage)},{usage},,,,\n"
            f"charge,C-{serial}{tag},{n},,,,,,,{day},,,{amount},{day[:7]},{usage},gas\n")


async def _import(session, now, body: str) -> billing.ImportReport:
    report = await billing.import_csv(session, (HEADER + body).encode(), now=now)
    assert report.ok, report.errors
    return report


async def _charges(session, number: str) -> list[LedgerEntry]:
    q = (select(LedgerEntry).join(UtilityAccount, UtilityAccount.id == LedgerEntry.account_id)
         .where(UtilityAccount.number == number).order_by(LedgerEntry.id))
    return list((await session.execute(q)).scalars())


async def _correction(session, number: str) -> BillCorrection:
    q = select(BillCorrection).join(UtilityAccount).where(UtilityAccount.number == number)
    return (await session.execute(q.execution_options(populate_existing=True))).scalar_one()


@pytest.fixture
async def approvers(session, clock) -> dict[str, object]:
    """Staff holding each R12 approval role, plus an agent with none."""
    users = {}
    for name, role in [("lead", ApprovalRole.team_lead), ("manager", ApprovalRole.dept_manager),
                       ("finance", ApprovalRole.finance), ("deputy", ApprovalRole.deputy_gm), ("plain", None)]:
        user = await staff.create_staff(session, username=name, display_name=name, role=StaffRole.agent,
                                        password="x" * 12, now=clock.now())
        user.approval_role = role
        users[name] = user
    await session.commit()
    return users


def test_r12_approval_steps_at_the_500_and_1000_boundaries() -> None:
    assert corrections.required_approvals(500_000) == []
    assert corrections.required_approvals(500_001) == [ApprovalRole.team_lead, ApprovalRole.dept_manager]
    assert corrections.required_approvals(-1_000_000) == [ApprovalRole.team_lead, ApprovalRole.dept_manager]
    assert corrections.required_approvals(1_000_001) == [
        ApprovalRole.team_lead, ApprovalRole.dept_manager, ApprovalRole.finance, ApprovalRole.deputy_gm]


async def test_r12_exactly_100_m3_is_billed_and_more_is_held_for_a_reread(session, clock) -> None:
    now = clock.now()
    report = await _import(session, now, _account_row(1) + _account_row(2)
                           + _month(1, "100", "280.00") + _month(2, "100.001", "280.01"))
    assert report.held == 2  # one re-read task and its held charge
    assert [e.amount_fen for e in await _charges(session, _acc(1))] == [-28000]
    assert await _charges(session, _acc(2)) == []  # R12: not posted until the re-read
    task = await _correction(session, _acc(2))
    assert task.status is CorrectionStatus.reread and task.suspicious_usage_milli == 100_001
    assert [h["external_id"] for h in task.held] == ["C-2"]
    assert await corrections.count_open(session) == 1
    # Sending the same file again neither posts the charge nor opens a second task.
    await _import(session, now, _month(2, "100.001", "280.01"))
    assert await _charges(session, _acc(2)) == []
    assert len((await _correction(session, _acc(2))).held) == 1


async def test_r12_a_confirming_reread_posts_the_held_charge(session, clock, approvers) -> None:
    now = clock.now()
    await _import(session, now, _account_row(3) + _month(3, "180", "504.00"))
    task = await _correction(session, _acc(3))
    await corrections.record_reread(session, correction_id=task.id, staff=approvers["plain"], volume="180",
                                    now=now)
    assert [(e.kind, e.amount_fen) for e in await _charges(session, _acc(3))] == [(LedgerKind.charge, -50400)]
    assert (await _correction(session, _acc(3))).status is CorrectionStatus.posted


async def test_r12_a_small_correction_posts_charge_and_adjustment_with_its_volume(session, clock, approvers) -> None:
    now = clock.now()
    await _import(session, now, _account_row(4) + _month(4, "600", "1680.00"))
    task = await _correction(session, _acc(4))
    # 600 → 100 m³: a 500 m³ correction needs no approval (R12 asks for it only *over* 500).
    await corrections.record_reread(session, correction_id=task.id, staff=approvers["plain"], volume="100",
                                    now=now)
    entries = await _charges(session, _acc(4))
    assert [(e.kind, e.amount_fen, e.quantity_milli) for e in entries] == [
        (LedgerKind.charge, -168000, 600_000), (LedgerKind.adjustment, 140000, 500_000)]
    reading = (await session.execute(select(MeterReading).where(MeterReading.external_id == "R-4"))).scalar_one()
    await session.refresh(reading)
    assert reading.usage_milli == 100_000


async def test_r12_two_step_correction_in_order_by_the_right_roles(session, clock, approvers) -> None:
    now = clock.now()
    await _import(session, now, _account_row(5) + _month(5, "700", "1960.00"))
    task = await _correction(session, _acc(5))
    await corrections.record_reread(session, correction_id=task.id, staff=approvers["plain"], volume="199.999",
                                    now=now)  # 500.001 m³ too much
    task = await _correction(session, _acc(5))
    assert task.status is CorrectionStatus.approval and task.required == ["team_lead", "dept_manager"]
    assert task.volume_milli == 500_001
    with pytest.raises(corrections.CorrectionError, match="in order"):  # manager before the team lead
        await corrections.approve(session, correction_id=task.id, staff=approvers["manager"], now=now)
    for wrong in ("plain", "finance"):  # no approval role / a role this correction does not need
        with pytest.raises(corrections.CorrectionError, match="needs the Team lead"):
            await corrections.approve(session, correction_id=task.id, staff=approvers[wrong], now=now)
    await corrections.approve(session, correction_id=task.id, staff=approvers["lead"], now=now)
    with pytest.raises(corrections.CorrectionError, match="already recorded"):
        await corrections.approve(session, correction_id=task.id, staff=approvers["lead"], now=now)
    assert await _charges(session, _acc(5)) == []  # nothing reaches the ledger before the last step
    # A late charge for the same month waits with the rest.
    late = await _import(session, now, f"charge,C-5b,{_acc(5)},,,,,,,2026-10-28,,,3.00,2026-10,,service fee\n")
    assert late.held == 1 and await _charges(session, _acc(5)) == []
    await corrections.approve(session, correction_id=task.id, staff=approvers["manager"], now=now)
    entries = await _charges(session, _acc(5))
    assert [(e.kind, e.quantity_milli) for e in entries] == [(LedgerKind.charge, 700_000), (LedgerKind.charge, None),
                                                          (LedgerKind.adjustment, 500_001)]
    steps = (await corrections.view(session, task.id)).correction.steps
    assert [(s.role, s.staff_id) for s in steps] == [(ApprovalRole.team_lead, approvers["lead"].id),
                                                     (ApprovalRole.dept_manager, approvers["manager"].id)]


async def test_r12_over_1000_m3_needs_four_steps_and_imported_adjustments_wait_too(session, clock, approvers) -> None:
    now = clock.now()
    await _import(session, now, _account_row(6) + _month(6, "1100.001", "3080.00"))
    task = await _correction(session, _acc(6))
    await corrections.record_reread(session, correction_id=task.id, staff=approvers["plain"], volume="100",
                                    now=now)
    task = await _correction(session, _acc(6))
    assert task.required == ["team_lead", "dept_manager", "finance", "deputy_gm"]
    for name in ("lead", "manager", "finance"):
        await corrections.approve(session, correction_id=task.id, staff=approvers[name], now=now)
        assert await _charges(session, _acc(6)) == []
    await corrections.approve(session, correction_id=task.id, staff=approvers["deputy"], now=now)
    assert len(await _charges(session, _acc(6))) == 2

    # An adjustment from the billing system over 500 m³ waits for its steps as well.
    n = _acc(6)
    report = await _import(session, now, f"adjustment,J-6,{n},,,,,,,2026-10-20,,,-1500.00,2026-10,600,refund\n")
    assert report.held == 1 and len(await _charges(session, n)) == 2
    pending = (await session.execute(select(BillCorrection).where(BillCorrection.external_id == "J-6"))).scalar_one()
    assert pending.volume_milli == 600_000 and pending.required == ["team_lead", "dept_manager"]
    await corrections.approve(session, correction_id=pending.id, staff=approvers["lead"], now=now)
    await corrections.approve(session, correction_id=pending.id, staff=approvers["manager"], now=now)
    assert [e.external_id for e in await _charges(session, n)][-1] == "J-6"


async def test_r12_bad_reread_input_changes_nothing(session, clock, approvers) -> None:
    now = clock.now()
    await _import(session, now, _account_row(7) + _month(7, "150", "420.00"))
    task = await _correction(session, _acc(7))
    for bad in ("", "abc", "-5", "1e9", "nan", "inf"):
        with pytest.raises(corrections.CorrectionError):
            await corrections.record_reread(session, correction_id=task.id, staff=approvers["plain"], volume=bad,
                                            now=now)
    for bad in ("abc", "nan", "inf", "-inf", "99999999"):
        with pytest.raises(corrections.CorrectionError):
            await corrections.record_reread(session, correction_id=task.id, staff=approvers["plain"], volume="20",
                                            amount=bad, now=now)
    assert (await _correction(session, _acc(7))).status is CorrectionStatus.reread


# --- R17 ------------------------------------------------------------------------------------------------


def test_r17_transition_table() -> None:
    S = AccountState
    assert account_states.allowed(S.registered, S.awaiting_ignition)
    assert account_states.allowed(S.awaiting_ignition, S.connected)
    assert account_states.allowed(S.sealed, S.connected)  # reconnected after paying (R11)
    assert not account_states.allowed(S.registered, S.connected)  # no gas before ignition
    assert not account_states.allowed(S.dismantled, S.connected)  # final
    assert not account_states.allowed(S.awaiting_ignition, S.sealed)
    assert all(account_states.allowed(s, S.dismantled) for s in S)


async def test_r17_import_refuses_a_forbidden_state_change_and_audits_allowed_ones(session, clock) -> None:
    now = clock.now()
    await _import(session, now, _account_row(8, "registered"))
    bad = await billing.import_csv(session, (HEADER + _account_row(8, "connected")).encode(), now=now)
    assert not bad.ok and "R17" in bad.errors[0].message and "awaiting_ignition" in bad.errors[0].message
    await _import(session, now, _account_row(8, "awaiting_ignition"))
    await _import(session, now, _account_row(8, "connected"))
    audits = (await session.execute(select(AuditLog).where(AuditLog.action == "account.state")
                                    .order_by(AuditLog.id))).scalars().all()
    assert [(a.detail["from_state"], a.detail["to_state"]) for a in audits] == [
        ("registered", "awaiting_ignition"), ("awaiting_ignition", "connected")]


async def test_r17_change_state_service_is_audited(session, clock) -> None:
    now = clock.now()
    await _import(session, now, _account_row(9))
    acc = (await session.execute(select(UtilityAccount).where(UtilityAccount.number == _acc(9)))).scalar_one()
    with pytest.raises(account_states.StateError):
        await account_states.change_state(session, account=acc, to=AccountState.awaiting_ignition, staff_id=None,
                                          reason="test", now=now)
    await account_states.change_state(session, account=acc, to=AccountState.suspended, staff_id=None,
                                      reason="resident asked", now=now)
    await session.commit()
    n = (await session.execute(select(func.count()).select_from(AuditLog)
                               .where(AuditLog.action == "account.state"))).scalar_one()
    assert acc.state is AccountState.suspended and n == 1


async def test_r17_readings_outside_the_6th_to_26th_are_kept_and_flagged(session, clock) -> None:
    now = clock.now()
    report = await _import(session, now, _account_row(10) + _month(10, "20", "56", day="2026-10-05", tag="a")
                           + _month(10, "20", "56", day="2026-10-06", tag="b")
                           + _month(10, "20", "56", day="2026-10-26", tag="c")
                           + _month(10, "20", "56", day="2026-10-27", tag="d"))
    assert report.flagged == 2 and report.as_dict()["flagged"] == 2
    rows = (await session.execute(select(MeterReading.external_id, MeterReading.flag)
                                  .order_by(MeterReading.external_id))).all()
    assert rows == [("R-10a", "outside_window"), ("R-10b", None), ("R-10c", None), ("R-10d", "outside_window")]


async def test_r12_console_task_shows_account_readings_and_volume_and_records_steps(
        session, clock, staff_client, staff_users) -> None:
    now = clock.now()
    await _import(session, now, _account_row(11) + _month(11, "30", "84", day="2026-09-15", tag="s")
                  + _month(11, "1200", "3360.00"))
    task = await _correction(session, _acc(11))
    assert (await login(staff_client, "operator")).status_code == 303
    page = await staff_client.get("/console/corrections")
    assert page.status_code == 200 and _acc(11) in page.text and "1200.000 m³" in page.text
    detail = await staff_client.get(f"/console/corrections/{task.id}")
    assert "1200.000" in detail.text and "30.000" in detail.text and "C-11" in detail.text  # history + held charge
    assert "<script>" not in detail.text.split("</header>")[-1] and "onclick" not in detail.text
    token = await token_of(staff_client, f"/console/corrections/{task.id}")
    bad = await staff_client.post(f"/console/corrections/{task.id}/reread", data={"volume": "lots",
                                                                                  "csrf_token": token})
    assert bad.status_code == 422 and "m³" in bad.text
    assert (await _correction(session, _acc(11))).status is CorrectionStatus.reread
    ok = await staff_client.post(f"/console/corrections/{task.id}/reread", data={"volume": "600", "csrf_token": token})
    assert ok.status_code == 303
    refused = await staff_client.post(f"/console/corrections/{task.id}/approve", data={"csrf_token": token})
    assert refused.status_code == 409 and "Team lead" in refused.text  # the operator holds no approval role
    assert (await staff_client.post("/console/corrections/999999/approve",
                                    data={"csrf_token": token})).status_code == 404

    lead = await session.get(staff.StaffUser, staff_users[StaffRole.agent])
    lead.approval_role = ApprovalRole.team_lead
    await session.commit()
    await staff_client.post("/logout", data={"csrf_token": token})
    assert (await login(staff_client, "agent")).status_code == 303
    token = await token_of(staff_client, f"/console/corrections/{task.id}")
    assert (await staff_client.post(f"/console/corrections/{task.id}/reread",
                              data={"volume": "1", "csrf_token": token})).status_code == 403  # operators only
    r = await staff_client.post(f"/console/corrections/{task.id}/approve", data={"note": "checked",
                                                                                 "csrf_token": token})
    assert r.status_code == 303
    after = await staff_client.get(f"/console/corrections/{task.id}")
    assert "waiting" in after.text and "agent user" in after.text
    # September (30 m³) was billed normally; October waits for the department manager's step.
    assert [e.external_id for e in await _charges(session, _acc(11))] == ["C-11s"]


async def test_r12_readings_through_the_billing_api_are_held_too(session, clock, api_app) -> None:
    token = await staff.create_api_token(session, name="billing", role=StaffRole.operator, now=clock.now())
    await _import(session, clock.now(), _account_row(12))
    n = _acc(12)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url="http://t") as c:
        auth = {"Authorization": f"Bearer {token}"}
        r = await c.post("/api/v1/billing/readings", headers=auth, json={"items": [
            {"external_id": "AR-12", "account": n, "date": "2026-10-15", "value": "5230.5", "usage": "230.5"}]})
        assert r.status_code == 200, r.text
        assert r.json()["held"] == 1
        r = await c.post("/api/v1/billing/charges", headers=auth, json={"items": [
            {"external_id": "AC-12", "account": n, "date": "2026-10-15", "amount": "645.40", "period": "2026-10"}]})
        assert r.status_code == 200 and r.json()["held"] == 1
    assert await _charges(session, n) == []
    assert (await _correction(session, n)).suspicious_usage_milli == 230_500


def test_r12_cli_gives_and_takes_approval_roles(tmp_path, monkeypatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"

    async def prepare(check: str | None = None):
        ctx = await make_ctx(make_settings(url))
        async with ctx.sessionmaker() as s:
            if check is None:
                await staff.create_staff(s, username="lead", display_name="Lead", role=StaffRole.agent,
                                         password="x" * 12, now=ctx.clock.now())
                await s.commit()
                role = None
            else:
                role = (await s.execute(select(staff.StaffUser.approval_role)
                                        .where(staff.StaffUser.username == check))).scalar_one()
        await ctx.close()
        return role

    asyncio.run(prepare())
    monkeypatch.setenv("DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(cli, ["approval-role", "lead", "team_lead"]).exit_code == 0
    assert asyncio.run(prepare("lead")) is ApprovalRole.team_lead
    bad = runner.invoke(cli, ["approval-role", "lead", "king"])
    assert bad.exit_code == 1 and asyncio.run(prepare("lead")) is ApprovalRole.team_lead
    assert runner.invoke(cli, ["approval-role", "nobody", "finance"]).exit_code == 1
    assert runner.invoke(cli, ["approval-role", "lead", "none"]).exit_code == 0
    assert asyncio.run(prepare("lead")) is None


async def test_r12_applies_to_cubic_metres_not_to_a_power_meters_kwh(session, clock) -> None:
    now = clock.now()
    power = account_numbers.make(Utility.power, 9100)
    water = account_numbers.make(Utility.water, 9100)
    rows = "".join(f"account,A-{n},{n},赵六,城东区,人民路,5,ordinary,connected,,,,,,,\n" for n in (power, water))
    for n in (power, water):
        rows += (f"reading,R-{n},{n},,,,,,,2026-10-15,5350,350,,,,\n"
                 f"charge,C-{n},{n},,,,,,,2026-10-15,,,196.00,2026-10,350,October\n"
                 f"adjustment,J-{n},{n},,,,,,,2026-10-20,,,-100.00,2026-10,600,refund\n")
    report = await _import(session, now, rows)
    assert len(await _charges(session, power)) == 2  # 350 kWh is an ordinary month: charge and refund posted
    assert await _charges(session, water) == [] and report.held == 3  # water: re-read task, held charge, adjustment


async def test_r12_r17_console_upload_says_what_was_held_and_flagged(session, staff_client, staff_users) -> None:
    assert (await login(staff_client, "operator")).status_code == 303
    token = await token_of(staff_client, "/console/billing")
    body = HEADER + _account_row(13) + _month(13, "120", "336.00", day="2026-10-28")
    r = await staff_client.post("/console/billing", data={"csrf_token": token},
                          files={"file": ("october.csv", body.encode(), "text/csv")})
    assert r.status_code == 200
    assert 'id="held"' in r.text and "/console/corrections" in r.text
    assert 'id="flagged"' in r.text and "R17: 1 reading" in r.text
