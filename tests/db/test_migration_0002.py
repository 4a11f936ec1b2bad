"""Revision 0002 (issue 12): existing API tokens get service identities, and unsalted SHA-256 bill codes are
re-keyed as HMAC-SHA256 with the secret key (and back on downgrade), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from core import keys
from db.migrate import downgrade, upgrade
from db.session import make_engine

KEY = "migration-test-key"


async def _exec(url: str, *statements: str) -> list[list[tuple]]:
    engine = make_engine(url)
    out = []
    async with engine.begin() as conn:
        for sql in statements:
            result = await conn.execute(text(sql))
            out.append([tuple(r) for r in result] if result.returns_rows else [])
    await engine.dispose()
    return out


def _seed(url: str) -> None:
    now = "'2026-11-01 08:00:00'"
    account = ("INSERT INTO utility_account (number, utility, holder_name, district, street, building, bill_code_hash, "
               "meter_type, state, household_size, created_at, updated_at) VALUES ('{n}', 'gas', 'H', 'D', 'S', '1', "
               "{h}, 'smart', 'connected', 3, " + now + ", " + now + ")")
    asyncio.run(_exec(
        url,
        account.format(n="G1", h=f"'{keys.legacy_bill_code_hash('654321')}'"),
        account.format(n="G2", h=f"'{keys.legacy_bill_code_hash('000042')}'"),
        account.format(n="G3", h="'" + "ab" * 32 + "'"),  # matches no 6-digit code
        account.format(n="G4", h="NULL"),
        "INSERT INTO api_token (name, token_hash, role, created_at) VALUES ('billing', 'h1', 'operator', " + now + ")",
        "INSERT INTO staff_user (username, display_name, password_hash, role, active, failed_logins, created_at) "
        "VALUES ('token:crm', 'a person who took the name', 'x', 'agent', true, 0, " + now + ")",
        "INSERT INTO api_token (name, token_hash, role, created_at, revoked_at) VALUES ('crm', 'h2', 'agent', "
        + now + ", " + now + ")",
    ))


def _check(url: str) -> None:
    bill_key = keys.bill_code_key(KEY)
    accounts, tokens = asyncio.run(_exec(
        url,
        "SELECT number, bill_code_hash FROM utility_account ORDER BY number",
        "SELECT t.name, s.username, s.kind, s.role, s.active FROM api_token t JOIN staff_user s ON s.id = t.staff_id "
        "ORDER BY t.name",
    ))
    assert dict(accounts) == {"G1": keys.bill_code_hmac(bill_key, "654321"),
                              "G2": keys.bill_code_hmac(bill_key, "000042"), "G3": None, "G4": None}
    assert [t[:4] for t in tokens] == [("billing", "token:billing", "service", "operator"),
                                       ("crm", "token:crm#2", "service", "agent")]
    assert [bool(t[4]) for t in tokens] == [True, False]  # a revoked token's identity is inactive


def _roundtrip(url: str) -> None:
    upgrade(url, "0001")
    _seed(url)
    upgrade(url, "0002")
    _check(url)
    downgrade(url, "0001")
    (rows,) = asyncio.run(_exec(url, "SELECT number, bill_code_hash FROM utility_account ORDER BY number"))
    assert dict(rows)["G1"] == keys.legacy_bill_code_hash("654321")


def test_sqlite_0002_converts_tokens_and_bill_codes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ONESTOP_SECRET_KEY", KEY)
    _roundtrip(f"sqlite+aiosqlite:///{tmp_path}/m.db")


@pytest.mark.postgres
async def test_postgres_0002_converts_tokens_and_bill_codes(pg_url: str, monkeypatch) -> None:
    monkeypatch.setenv("ONESTOP_SECRET_KEY", KEY)
    await asyncio.to_thread(_roundtrip, pg_url)


def test_production_migration_without_a_key_stops_before_converting(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("ONESTOP_SECRET_KEY", raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:production")
    url = f"sqlite+aiosqlite:///{tmp_path}/p.db"
    upgrade(url, "0001")
    _seed(url)
    with pytest.raises(keys.SecretKeyMissing):
        upgrade(url, "0002")
