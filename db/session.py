"""Engine and session factory, built from settings (never at import time)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry


def make_engine(url: str, **kw: object) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            # WAL lets the console read while the bot writes; FKs are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 20)
    kw.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kw)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def dialect_name(session: AsyncSession) -> str:
    """The bound database's dialect ("postgresql", "sqlite"): row locking and upserts differ between them."""
    return session.get_bind().dialect.name


def database_key(session: AsyncSession) -> str:
    """The bound database's URL, to key per-database caches (tests run several databases in one process)."""
    return str(session.get_bind().engine.url)


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """Rows matched by an UPDATE or DELETE. ``AsyncSession.execute`` is typed as returning a plain ``Result``;
    for DML statements it is a ``CursorResult``, which carries the count."""
    return cast(CursorResult[Any], result).rowcount
