"""Fixtures every layer uses: settings on a temporary SQLite file, an app context with a frozen clock,
a dispatcher fed through a recording bot, opt-in real PostgreSQL / Redis servers, and the data several layers
share (the demo utility, staff users, the real FAQ catalogue, compiled catalogs).

Each layer folder (tests/core, tests/bot, tests/api, tests/e2e, tests/knowledge) has one conftest.py with that
layer's own fixtures; helpers that are not fixtures live in tests/support/.

PostgreSQL tests need ``TEST_DATABASE_URL`` (e.g. postgresql+asyncpg://postgres@127.0.0.1/test); each
test gets its own fresh database on that server so parallel runs never collide. Redis tests need
``TEST_REDIS_URL``. Without them those tests are skipped and the summary says why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.memory import MemoryStorage

from core.clock import FrozenClock
from core.context import AppContext
from core.settings import Settings
from db.enums import StaffRole
from db.models import StaffUser
from tests.mocked_bot import MockedBot
from tests.support.console import PASSWORD
from tests.support.context import NOW, REQUIRE_SERVERS, make_ctx, make_settings, skip_or_fail
from tests.support.demo import LINA

# Helpers live in tests/support/; these names stay importable from here for older imports.
__all__ = ["NOW", "REQUIRE_SERVERS", "make_ctx", "make_settings", "skip_or_fail"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


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


# --- data several layers share -----------------------------------------------------------------------------


@pytest.fixture
async def staff_users(ctx: AppContext) -> dict[StaffRole, int]:
    """One English-speaking staff member per role, username = role value, password ``support.console.PASSWORD``."""
    from core import staff

    ids = {}
    async with ctx.sessionmaker() as session:
        for role in StaffRole:
            user = await staff.create_staff(session, username=role.value, display_name=f"{role.value} user",
                                            role=role, password=PASSWORD, now=ctx.clock.now())
            user.language = "en"
            ids[role] = user.id
        await session.commit()
    return ids


@pytest.fixture
async def demo_town(ctx) -> None:
    """The demo utility as ``onestop demo-data`` loads it."""
    from core.demo import load_demo

    async with ctx.sessionmaker() as session:
        await load_demo(session, now=ctx.clock.now())


@pytest.fixture
async def demo_town_en(ctx):
    """The demo utility: 60 accounts with 12 months of history; Wang and Zhang linked, Li Na new."""
    from core.demo import load_demo
    from db.models import Resident

    async with ctx.sessionmaker() as session:
        await load_demo(session, now=ctx.clock.now())
        # Li Na has not chosen a language in the demo; tests speak English with her.
        (await session.get(Resident, LINA)).language = "en"
        await session.commit()
    return ctx


@pytest.fixture
async def staffers(ctx, demo_town) -> dict[StaffRole, StaffUser]:
    """Test staff t-<role> (password pw-<role>) on top of the demo utility; see ``support.console.as_role``."""
    from core import staff

    out = {}
    async with ctx.sessionmaker() as session:
        for role in StaffRole:
            user = await staff.create_staff(session, username=f"t-{role.value}", display_name=f"T {role.value}",
                                            role=role, password="pw-" + role.value, now=ctx.clock.now())
            out[role] = user
        await session.commit()
    return out


@pytest.fixture(scope="session")
def knowledge() -> tuple[Any, Any]:
    """The real FAQ catalogue and its matcher, loaded once per run."""
    from core.settings import ROOT as SRC
    from knowledge import Matcher, load_catalogue

    catalogue = load_catalogue(SRC / "knowledge" / "topics", SRC / "knowledge" / "site.yaml")
    return catalogue, Matcher(catalogue)


@pytest.fixture
def shared_knowledge(ctx, knowledge) -> None:
    """Loading and indexing the catalogue takes seconds; every test context that uses it shares one copy."""
    ctx.__dict__["catalogue"], ctx.__dict__["matcher"] = knowledge


@pytest.fixture(scope="session")
def compiled_catalogs() -> None:
    """Outbox texts are rendered from the compiled catalogs."""
    from core.i18n import compile_catalogs
    from core.settings import ROOT as SRC

    compile_catalogs(SRC / "bot" / "locales")


# Tests of features still being finished when this session ended (see the closing note on the issues).
# They stay collected and run; a pass is reported as XPASS. Remove an entry once the fix lands.
KNOWN_FAILING = {
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        key = item.nodeid.split("[")[0]
        if key in KNOWN_FAILING:
            item.add_marker(pytest.mark.xfail(reason=KNOWN_FAILING[key], strict=False))
