"""Billing integration: CSV import (all rows or none), REST upserts idempotent on external ids, roles, console."""

from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from core import account_numbers, accounts, billing, ledger, staff
from core.demo import hash_bill_code
from db.enums import LedgerKind, LinkMethod, StaffRole, Utility
from db.models import AuditLog, LedgerEntry, MeterReading, Resident, StaffUser, UtilityAccount
from tests.support.console import csrf_from, login
from tests.support.demo import LINA, WANG

NEW = account_numbers.make(Utility.gas, 777)
HEADER = ("type,external_id,account,utility,holder_name,district,street,building,unit,room,phone,bill_code,"
          "meter_type,state,household_size,date,value,usage,amount,period,quantity,description\n")
GOOD = HEADER + (
    f"account,B-A-1,{NEW},gas,赵六,城东区,人民路,5,1,101,139 1111 2222,123456,smart,connected,3,,,,,,,\n"
    f"reading,B-R-1,{NEW},,,,,,,,,,,,,2026-10-15,1234.5,20.5,,,,\n"
    f"charge,B-C-1,{NEW},,,,,,,,,,,,,2026-10-15,,,57.40,2026-10,20.5,October gas\n"
    f"payment,B-P-1,{NEW},,,,,,,,,,,,,2026-10-20,,,100,,,counter\n"
    f"adjustment,B-J-1,{NEW},,,,,,,,,,,,,2026-10-21,,,-5.50,,,meter correction\n"
)


async def _count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_csv_import_creates_then_updates_idempotently(demo_town_en, session) -> None:
    now = demo_town_en.clock.now()
    report = await billing.import_csv(session, GOOD.encode(), now=now)
    assert report.ok and report.applied
    assert report.created == {"account": 1, "reading": 1, "charge": 1, "payment": 1, "adjustment": 1}
    account = await accounts.account_by_number(session, NEW)
    account_id = account.id
    assert account.phone == "13911112222" and account.household_size == 3
    assert account.bill_code_hash == hash_bill_code("123456")  # only the hash is kept
    assert await ledger.balance_fen(session, account_id) == 10_000 - 5_740 - 550
    entries, readings = await _count(session, LedgerEntry), await _count(session, MeterReading)

    again = await billing.import_csv(session, GOOD.encode(), now=now)
    assert again.ok and again.created == dict.fromkeys(again.created, 0)
    assert again.updated == {"account": 1, "reading": 1, "charge": 1, "payment": 1, "adjustment": 1}
    assert (await _count(session, LedgerEntry), await _count(session, MeterReading)) == (entries, readings)

    # A corrected charge from the billing system replaces the old amount.
    fixed = GOOD.replace(",57.40,2026-10,", ",60.00,2026-10,")
    assert (await billing.import_csv(session, fixed.encode(), now=now)).ok
    assert await ledger.balance_fen(session, account_id) == 10_000 - 6_000 - 550
    audit = (await session.execute(select(AuditLog).where(AuditLog.action == "billing.import"))).scalars().all()
    assert len(audit) == 3 and "13911112222" not in str([a.detail for a in audit])


async def test_a_file_with_any_bad_row_changes_nothing(demo_town_en, session) -> None:
    now = demo_town_en.clock.now()
    bad = GOOD + (
        "charge,B-C-2,1234567890,,,,,,,,,,,,,2026-10-15,,,5,,,\n"  # line 7: bad check digit
        f"charge,B-C-3,{NEW},,,,,,,,,,,,,2026-13-01,,,5,,,\n"  # line 8: bad date
        f"payment,B-P-2,{NEW},,,,,,,,,,,,,2026-10-20,,,-3,,,\n"  # line 9: negative payment
        f"charge,B-C-1,{NEW},,,,,,,,,,,,,2026-10-15,,,1,,,\n"  # line 10: duplicate external id
        f"reading,B-R-2,{account_numbers.make(Utility.water, 888)},,,,,,,,,,,,,2026-10-15,1,1,,,,\n"  # unknown
        f"charge,B-C-4,{NEW},,,,,,,,,,,,,2026-10-15,,,1.234,,,\n"  # line 12: 3 decimals
        f"account,B-A-2,{account_numbers.make(Utility.water, 889)},gas,X,城东区,路,1,,,,,smart,connected,,,,,,,,\n"
    )
    before = (await _count(session, UtilityAccount), await _count(session, LedgerEntry),
              await _count(session, MeterReading))
    report = await billing.import_csv(session, bad.encode(), now=now)
    assert not report.ok and not report.applied
    lines = {e.line: e.message for e in report.errors}
    assert set(lines) == {7, 8, 9, 10, 11, 12, 13}
    assert "10-digit" in lines[7] and "YYYY-MM-DD" in lines[8] and "greater than 0" in lines[9]
    assert "line 4" in lines[10] and "unknown" in lines[11] and "2 decimals" in lines[12]
    assert "does not match" in lines[13]
    after = (await _count(session, UtilityAccount), await _count(session, LedgerEntry),
             await _count(session, MeterReading))
    assert after == before


async def test_header_and_encoding_problems(demo_town_en, session) -> None:
    now = demo_town_en.clock.now()
    r = await billing.import_csv(session, b"typ,external_id,account\n", now=now)
    assert not r.ok and r.errors[0].line == 1 and "unknown column" in r.errors[0].message
    r = await billing.import_csv(session, b"", now=now)
    assert not r.ok
    r = await billing.import_csv(session, b"\x89PNG\r\n\x1a\n\x00\xff\xfe", now=now)
    assert not r.ok
    # Chinese Excel saves GB18030; a UTF-8 BOM is fine too.
    gbk = GOOD.encode("gb18030")
    assert (await billing.import_csv(session, gbk, now=now, dry_run=True)).ok
    assert (await billing.import_csv(session, b"\xef\xbb\xbf" + GOOD.encode(), now=now, dry_run=True)).ok
    assert await accounts.account_by_number(session, NEW) is None  # dry runs change nothing


async def test_number_conflicts_and_adoption(demo_town_en, session) -> None:
    now = demo_town_en.clock.now()
    gas = (await accounts.linked_accounts(session, WANG))[0]  # demo external id DEMO-<number>
    taken = HEADER + f"account,OTHER-1,{gas.number},,王建国,城东区,人民路,1,,,,,ic_card,connected,,,,,,,,\n"
    r = await billing.import_csv(session, taken.encode(), now=now)
    assert not r.ok and "different external_id" in r.errors[0].message
    gas.external_id = None
    await session.commit()
    r = await billing.import_csv(session, taken.encode(), now=now)  # an account without an id is adopted
    assert r.ok and r.updated["account"] == 1
    gas_id = gas.id
    session.expire_all()
    assert (await session.get(UtilityAccount, gas_id)).external_id == "OTHER-1"


async def test_billing_echo_of_a_bot_payment_is_not_counted_twice(demo_town_en, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]
    now = demo_town_en.clock.now()
    await ledger.record_telegram_payment(session, account_id=gas.id, amount_fen=10_000, charge_id="tg-77", now=now)
    before = await ledger.balance_fen(session, gas.id)
    echo = (f"type,external_id,account,date,amount,telegram_charge_id\n"
            f"payment,BILL-P-9,{gas.number},2026-11-23,100.00,tg-77\n")
    r = await billing.import_csv(session, echo.encode(), now=now)
    assert r.ok and r.updated["payment"] == 1 and r.created["payment"] == 0
    assert await ledger.balance_fen(session, gas.id) == before
    wrong = echo.replace("100.00", "99.00").replace("BILL-P-9", "BILL-P-10")
    assert not (await billing.import_csv(session, wrong.encode(), now=now)).ok


# --- REST API ----------------------------------------------------------------------------------------------------


async def test_api_upserts_with_bearer_token(demo_town_en, staff_client, session) -> None:
    async with demo_town_en.sessionmaker() as s:
        token = await staff.create_api_token(s, name="billing", role=StaffRole.operator, now=demo_town_en.clock.now())
        weak = await staff.create_api_token(s, name="agent", role=StaffRole.agent, now=demo_town_en.clock.now())
        await s.commit()
    auth = {"Authorization": f"Bearer {token}"}
    acc = {"external_id": "API-A-1", "account": NEW, "holder_name": "赵六", "district": "城东区", "street": "人民路",
           "building": "5", "phone": "13911112222", "bill_code": "654321", "meter_type": "smart", "state": "connected"}
    r = await staff_client.post("/api/v1/billing/accounts", json={"items": [acc]}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["created"]["account"] == 1
    charge = {"external_id": "API-C-1", "account": NEW, "date": "2026-11-15", "amount": 12.5, "quantity": 4.2}
    pay = {"external_id": "API-P-1", "account": NEW, "date": "2026-11-16T09:30:00+08:00", "amount": "50"}
    assert (await staff_client.post("/api/v1/billing/charges", json={"items": [charge]},
                                    headers=auth)).status_code == 200
    assert (await staff_client.post("/api/v1/billing/payments", json={"items": [pay]}, headers=auth)).status_code == 200
    r = await staff_client.post("/api/v1/billing/payments", json={"items": [pay]}, headers=auth)  # replayed
    assert r.json()["updated"]["payment"] == 1 and r.json()["created"]["payment"] == 0
    reading = {"external_id": "API-R-1", "account": NEW, "date": "2026-11-15", "value": 100.5, "usage": 4.2}
    assert (await staff_client.post("/api/v1/billing/readings", json={"items": [reading]},
                                    headers=auth)).status_code == 200
    r = await staff_client.get(f"/api/v1/billing/accounts/{NEW}/balance", headers=auth)
    assert r.json()["balance_fen"] == 5_000 - 1_250

    # One bad item: 422, every problem listed, nothing written.
    bad = [{**charge, "external_id": "API-C-2"}, {**charge, "external_id": "API-C-3", "amount": 0}]
    r = await staff_client.post("/api/v1/billing/charges", json={"items": bad}, headers=auth)
    assert r.status_code == 422 and r.json()["errors"] == [{"item": 2, "message": "amount must be greater than 0"}]
    async with demo_town_en.sessionmaker() as s:
        n = (await s.execute(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.external_id.like("API-C-%")))).scalar_one()
    assert n == 1
    # Malformed JSON and unknown fields are refused politely.
    r = await staff_client.post("/api/v1/billing/charges", json={"items": [{**charge, "amout": 1}]}, headers=auth)
    assert r.status_code == 422
    json_headers = {**auth, "content-type": "application/json"}
    r = await staff_client.post("/api/v1/billing/charges", content=b"{not json", headers=json_headers)
    assert r.status_code == 422
    # Roles: an agent token may not write; no token at all is 401.
    r = await staff_client.post("/api/v1/billing/charges", json={"items": [charge]},
                          headers={"Authorization": f"Bearer {weak}"})
    assert r.status_code == 403
    assert (await staff_client.post("/api/v1/billing/charges", json={"items": [charge]})).status_code in (401, 403)


async def test_api_with_console_session_needs_operator_and_csrf(demo_town_en, staff_client, staff_users) -> None:
    await login(staff_client, "agent")
    page = await staff_client.get("/")
    token = csrf_from(page.text) if 'name="csrf_token"' in page.text else ""
    body = {"items": [{"external_id": "S-1", "account": NEW, "date": "2026-11-15", "amount": 1}]}
    r = await staff_client.post("/api/v1/billing/payments", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 403
    await staff_client.post("/logout", data={"csrf_token": token})
    staff_client.cookies.clear()
    await login(staff_client, "operator")
    page = await staff_client.get("/")
    token = csrf_from(page.text)
    assert (await staff_client.post("/api/v1/billing/payments", json=body)).status_code == 403  # no CSRF token
    r = await staff_client.post("/api/v1/billing/payments", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and "unknown" in r.json()["errors"][0]["message"]


# --- console upload ----------------------------------------------------------------------------------------------


async def test_console_upload(demo_town_en, staff_client, staff_users, session) -> None:
    r = await staff_client.get("/console/billing")
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]
    await login(staff_client, "agent")
    assert (await staff_client.get("/console/billing")).status_code == 403
    staff_client.cookies.clear()
    await login(staff_client, "operator")
    page = await staff_client.get("/console/billing")
    assert page.status_code == 200 and "Billing import" in page.text
    token = csrf_from(page.text)
    bad = GOOD + f"charge,B-C-9,{NEW},,,,,,,,,,,,,2026-10-15,,,abc,,,\n"
    r = await staff_client.post("/console/billing", data={"csrf_token": token},
                          files={"file": ("bills.csv", bad.encode(), "text/csv")})
    assert r.status_code == 422 and "nothing was imported" in r.text and "<td>7</td>" in r.text
    assert await accounts.account_by_number(session, NEW) is None
    r = await staff_client.post("/console/billing", data={"csrf_token": token, "dry_run": "true"},
                          files={"file": ("bills.csv", GOOD.encode(), "text/csv")})
    assert r.status_code == 200 and "nothing was changed" in r.text
    r = await staff_client.post("/console/billing", data={"csrf_token": token},
                          files={"file": ("bills.csv", GOOD.encode(), "text/csv")})
    assert r.status_code == 200 and "Imported 5 rows" in r.text
    assert await accounts.account_by_number(session, NEW) is not None
    r = await staff_client.post("/console/billing", files={"file": ("bills.csv", GOOD.encode(), "text/csv")})
    assert r.status_code == 403  # no CSRF token


# --- CLI -----------------------------------------------------------------------------------------------------


def test_cli_import(tmp_path, monkeypatch) -> None:
    import asyncio

    from onestop.cli import app
    from tests.support.context import make_ctx, make_settings

    db = tmp_path / "cli.db"
    url = f"sqlite+aiosqlite:///{db}"

    async def prepare() -> None:
        ctx = await make_ctx(make_settings(url))
        await ctx.close()

    asyncio.run(prepare())
    monkeypatch.setenv("DATABASE_URL", url)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(GOOD + f"payment,B-P-7,{NEW},,,,,,,,,,,,,2026-10-20,,,zero,,,\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["import", str(bad)])
    assert result.exit_code == 1 and "bad.csv:7:" in result.output and "nothing was imported" in result.output
    result = runner.invoke(app, ["import", str(good)])
    assert result.exit_code == 0, result.output
    assert "5 rows imported" in result.output


async def test_imported_account_can_be_linked_with_its_bill_code(demo_town_en, session) -> None:
    """End of the chain: an account from billing is linkable by the code printed on its bill."""
    await billing.import_csv(session, GOOD.encode(), now=demo_town_en.clock.now())
    lina = await session.get(Resident, LINA)
    result = await accounts.verify_and_link(session, resident=lina, number=NEW, method=LinkMethod.bill_code,
                                            proof="123456", now=demo_town_en.clock.now())
    assert result.status is accounts.LinkStatus.linked
    assert LedgerKind.payment in {e.kind for e in (await session.execute(select(LedgerEntry).where(
        LedgerEntry.account_id == result.link.account_id))).scalars()}


async def test_r17_state_change_by_an_api_token_is_audited_under_its_service_identity(demo_town_en,
                                                                                      staff_client) -> None:
    """R17 (state changes audited) + dispatch/billing API: the token's service identity is recorded, not None."""
    async with demo_town_en.sessionmaker() as s:
        token = await staff.create_api_token(s, name="billing-r17", role=StaffRole.operator,
                                             now=demo_town_en.clock.now())
        await s.commit()
    auth = {"Authorization": f"Bearer {token}"}
    acc = {"external_id": "API-A-17", "account": NEW, "holder_name": "赵六", "district": "城东区", "street": "人民路",
           "building": "5", "meter_type": "smart", "state": "registered"}
    r = await staff_client.post("/api/v1/billing/accounts", json={"items": [acc]}, headers=auth)
    assert r.status_code == 200, r.text
    r = await staff_client.post("/api/v1/billing/accounts", json={"items": [{**acc, "state": "awaiting_ignition"}]},
                          headers=auth)
    assert r.status_code == 200, r.text
    async with demo_town_en.sessionmaker() as s:
        service = (await s.execute(select(StaffUser).where(
            StaffUser.username == staff.token_username("billing-r17")))).scalar_one()
        [row] = (await s.execute(select(AuditLog).where(AuditLog.action == "account.state"))).scalars().all()
    assert row.detail["to_state"] == "awaiting_ignition" and row.staff_id == service.id
