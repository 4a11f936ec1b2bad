"""Settings and app contexts for tests: the frozen test time, SQLite/PostgreSQL settings, and the
skip-or-fail rule for server-backed tests."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
from pydantic import SecretStr

from core.clock import LOCAL_TZ, FrozenClock
from core.context import AppContext
from core.settings import Settings
from db.base import Base

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


REQUIRE_SERVERS = os.environ.get("ONESTOP_REQUIRE_SERVERS") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a server-backed test on a laptop; in CI (ONESTOP_REQUIRE_SERVERS=1) it must run."""
    if REQUIRE_SERVERS:
        pytest.fail(reason + " (ONESTOP_REQUIRE_SERVERS=1)")
    pytest.skip(reason)
