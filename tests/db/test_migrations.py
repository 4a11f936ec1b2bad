"""`alembic upgrade head` on an empty database yields exactly the models' schema (SQLite and PostgreSQL),
and every revision downgrades cleanly (stairway)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import db.models  # noqa: F401
from db.base import Base
from db.migrate import alembic_config, downgrade, upgrade
from db.session import make_engine


async def _diff(url: str) -> list:
    engine = make_engine(url)
    async with engine.connect() as conn:
        def compare(sync_conn):
            mc = MigrationContext.configure(sync_conn, opts={"compare_type": True})
            return compare_metadata(mc, Base.metadata)
        diff = await conn.run_sync(compare)
    await engine.dispose()
    return diff


def _upgrade_and_diff(url: str) -> list:
    upgrade(url)  # alembic runs its own event loop; call it outside ours
    return asyncio.run(_diff(url))


def test_sqlite_upgrade_matches_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    assert _upgrade_and_diff(url) == []


def test_sqlite_stairway(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/s.db"
    revisions = list(ScriptDirectory.from_config(alembic_config(url)).walk_revisions("base", "heads"))
    for rev in reversed(revisions):
        upgrade(url, rev.revision)
        downgrade(url, rev.down_revision or "base")
        upgrade(url, rev.revision)


@pytest.mark.postgres
async def test_postgres_upgrade_matches_models(pg_url: str) -> None:
    diff = await asyncio.to_thread(_upgrade_and_diff, pg_url)
    assert diff == []
