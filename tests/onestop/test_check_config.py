"""`onestop check-config` (issue 13, item 6): plain-words findings, non-zero exit on any problem."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from core import checks
from core.settings import Settings
from onestop.cli import app

GOOD_SECRET = "Xq3_kP9-vLm2Rt7Wz8Yb"
KEY = "k" * 40


def _settings(**kw: object) -> Settings:
    base: dict[str, object] = dict(
        database_url="postgresql+asyncpg://onestop@db.internal/onestop", redis_url="redis://cache.internal/0",
        telegram_bot_token=SecretStr("123:ABC"), secret_key=SecretStr(KEY),
        public_url="https://water.example.org", telegram_webhook_url="https://water.example.org/telegram/x7",
        telegram_webhook_secret=SecretStr(GOOD_SECRET))
    base.update(kw)
    return Settings(_env_file=None, **base)


def _problems(settings: Settings) -> list[str]:
    return [f.message for f in checks.check_static(settings) if f.level == checks.PROBLEM]


def test_a_good_production_configuration_has_no_static_problem() -> None:
    findings = checks.check_static(_settings())
    assert [f for f in findings if f.level != checks.OK] == []
    assert any("Webhook mode" in f.message for f in findings)


@pytest.mark.parametrize(("change", "words"), [
    ({"telegram_bot_token": None}, "TELEGRAM_BOT_TOKEN is not set"),
    ({"secret_key": None}, "ONESTOP_SECRET_KEY is not set"),
    ({"secret_key": SecretStr("short")}, "ONESTOP_SECRET_KEY is too short"),
    ({"database_url": "sqlite+aiosqlite:///./onestop.db"}, "use PostgreSQL"),
    ({"public_url": None}, "ONESTOP_PUBLIC_URL is not set"),
    ({"public_url": "http://water.example.org"}, "ONESTOP_PUBLIC_URL must be an https://"),
    ({"telegram_webhook_url": "http://water.example.org/telegram/x7"}, "must be an https:// address"),
    ({"telegram_webhook_url": "https://water.example.org/"}, "needs a path of its own"),
    ({"telegram_webhook_url": "https://water.example.org"}, "needs a path of its own"),
    ({"telegram_webhook_url": "https://water.example.org/api/hook"}, "collides with the console"),
    ({"telegram_webhook_url": "https://water.example.org:9000/telegram/x7"}, "ports 443, 80, 88 and 8443"),
    ({"telegram_webhook_url": "https://water.example.org/telegram/x7?a=1"}, "query string"),
    ({"telegram_webhook_secret": SecretStr("has spaces and ü")}, "may only use A-Z"),
    ({"telegram_webhook_secret": SecretStr("abc")}, "too short to be unguessable"),
    ({"telegram_webhook_secret": None}, "TELEGRAM_WEBHOOK_SECRET is not set"),
    ({"telegram_webhook_url": None}, "TELEGRAM_WEBHOOK_URL is not set"),
    ({"telegram_api_base": "ftp://bots"}, "TELEGRAM_API_BASE must be"),
])
def test_each_mistake_is_named_in_plain_words(change: dict, words: str) -> None:
    problems = _problems(_settings(**change))
    assert any(words in p for p in problems), problems


def test_polling_and_no_redis_are_acceptable_but_said() -> None:
    findings = checks.check_static(_settings(telegram_webhook_url=None, telegram_webhook_secret=None,
                                             redis_url=None))
    assert not [f for f in findings if f.level == checks.PROBLEM]
    assert any(f.level == checks.WARNING and "REDIS_URL" in f.message for f in findings)
    assert any("long polling" in f.message for f in findings)


async def test_unreachable_servers_are_problems() -> None:
    s = _settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", redis_url="redis://127.0.0.1:1/0")
    found = await checks.check_servers(s)
    assert [f.level for f in found] == [checks.PROBLEM, checks.PROBLEM]
    assert "DATABASE_URL is not reachable" in found[0].message and "REDIS_URL is not reachable" in found[1].message


@pytest.mark.postgres
@pytest.mark.redis
async def test_reachable_servers_pass(pg_url: str, redis_url: str) -> None:
    found = await checks.check_servers(_settings(database_url=pg_url, redis_url=redis_url))
    assert [f.level for f in found] == [checks.OK, checks.OK]


def test_the_command_exits_non_zero_and_lists_the_problems(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    for k in list(os.environ):
        if k.startswith(("TELEGRAM_", "ONESTOP_", "DATABASE_URL", "REDIS_URL")):
            monkeypatch.delenv(k)
    result = CliRunner().invoke(app, ["check-config"], env={
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db", "TELEGRAM_WEBHOOK_URL": "http://x.example/"})
    assert result.exit_code == 1
    out = result.output
    assert "✗ TELEGRAM_BOT_TOKEN is not set" in out and "✗ ONESTOP_SECRET_KEY is not set" in out
    assert "TELEGRAM_WEBHOOK_SECRET is not set" in out and "✓ The database is reachable." in out
    assert "not ready for production" in out


@pytest.mark.postgres
@pytest.mark.redis
def test_the_command_exits_zero_for_a_good_configuration(tmp_path, monkeypatch, pg_url: str,
                                                         redis_url: str) -> None:
    monkeypatch.chdir(tmp_path)
    for k in list(os.environ):
        if k.startswith(("TELEGRAM_", "ONESTOP_", "DATABASE_URL", "REDIS_URL")):
            monkeypatch.delenv(k)
    result = CliRunner().invoke(app, ["check-config"], env={
        "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "TELEGRAM_BOT_TOKEN": "123:ABC", "ONESTOP_SECRET_KEY": KEY,
        "ONESTOP_PUBLIC_URL": "https://water.example.org",
        "TELEGRAM_WEBHOOK_URL": "https://water.example.org/telegram/x7", "TELEGRAM_WEBHOOK_SECRET": GOOD_SECRET})
    assert result.exit_code == 0, result.output
    assert "looks ready for production" in result.output
