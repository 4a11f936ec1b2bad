"""Shared fixtures: settings on a temporary SQLite file, an app context with a frozen clock,
a dispatcher fed through a recording bot, and opt-in real PostgreSQL / Redis servers.

PostgreSQL tests need ``TEST_DATABASE_URL`` (e.g. postgresql+asyncpg://postgres@127.0.0.1/test); each
test gets its own fresh database on that server so parallel runs never collide. Redis tests need
``TEST_REDIS_URL``. Without them those tests are skipped and the summary says why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from aiogram.fsm.storage.memory import MemoryStorage
from pydantic import SecretStr

from core.clock import LOCAL_TZ, FrozenClock
from core.context import AppContext
from core.settings import Settings
from db.base import Base
from tests.mocked_bot import MockedBot

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# Monday 2026-11-23 10:00 China time: a working day.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=LOCAL_TZ)


def make_settings(database_url: str, **kw: object) -> Settings:
    return Settings(_env_file=None, database_url=database_url, secret_key=SecretStr("test-secret"),
                    redis_url=kw.pop("redis_url", None), telegram_bot_token=None, **kw)


async def make_ctx(settings: Settings, clock: FrozenClock | None = None) -> AppContext:
    ctx = AppContext.create(settings, clock=clock or FrozenClock(NOW))
    async with ctx.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return ctx


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(f"sqlite+aiosqlite:///{tmp_path}/test.db")


@pytest.fixture
async def ctx(settings: Settings, clock: FrozenClock) -> AsyncIterator[AppContext]:
    ctx = await make_ctx(settings, clock)
    yield ctx
    await ctx.close()


@pytest.fixture
async def session(ctx: AppContext):
    async with ctx.sessionmaker() as s:
        yield s


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


@pytest.fixture
def dp(ctx: AppContext):
    """The real dispatcher. Its flood limit is raised: tests play whole flows in a second, far faster than
    anyone taps (tests/bot/test_throttling.py checks the real limit)."""
    from bot.app import build_dispatcher

    ctx.settings.flood_burst = 100_000
    return build_dispatcher(ctx, storage=MemoryStorage())


# --- real servers ------------------------------------------------------------------------------------------

REQUIRE_SERVERS = os.environ.get("ONESTOP_REQUIRE_SERVERS") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a server-backed test on a laptop; in CI (ONESTOP_REQUIRE_SERVERS=1) it must run."""
    if REQUIRE_SERVERS:
        pytest.fail(reason + " (ONESTOP_REQUIRE_SERVERS=1)")
    pytest.skip(reason)


def _pg_base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        skip_or_fail("TEST_DATABASE_URL not set: PostgreSQL test skipped (CI sets it)")
    return url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test; dropped afterwards."""
    import asyncpg

    base = _pg_base_url()
    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    name = f"onestop_t_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as e:
        skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL unreachable: {e}")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield base.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def pg_ctx(pg_url: str, clock: FrozenClock) -> AsyncIterator[AppContext]:
    ctx = await make_ctx(make_settings(pg_url), clock)
    yield ctx
    await ctx.close()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        skip_or_fail("TEST_REDIS_URL not set: Redis test skipped (CI sets it)")
    return url


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2's production cost makes every login ~100 ms; tests use the cheapest valid parameters."""
    from argon2 import PasswordHasher

    import core.staff

    monkeypatch.setattr(core.staff, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


# Tests of features still being finished when this session ended (see the closing note on the issues).
# They stay collected and run; a pass is reported as XPASS. Remove an entry once the fix lands.
KNOWN_FAILING = {
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        key = item.nodeid.split("[")[0]
        if key in KNOWN_FAILING:
            item.add_marker(pytest.mark.xfail(reason=KNOWN_FAILING[key], strict=False))
