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


class DeferredSession(AsyncSession):
    """An ``AsyncSession`` that builds its ORM ``Session`` only when something first uses it.

    The bot opens a session for every update, but a known resident's cheap update (``/menu``, a stale
    button) never touches it: building, attaching the cached resident to and closing an ORM session was
    the largest cost left on that path (issue 13). Until first use it only holds ``info`` and the objects to
    attach (``add_on_start``); any other attribute builds the real session first, so to every caller it is
    an ordinary ``AsyncSession``.
    """

    def __init__(self, bind: AsyncEngine | None = None, **kw: Any) -> None:
        # AsyncSession.__init__ runs on first use (__getattr__); until then only these three exist.
        self.__dict__["_deferred"] = (bind, kw)
        self.__dict__["_deferred_info"] = {}
        self.__dict__["_deferred_objects"] = []

    @property
    def started(self) -> bool:
        return "_deferred" not in self.__dict__

    def __getattr__(self, name: str) -> Any:
        # Only for attributes not set yet: sync_session, _proxied... exist once the session is built.
        deferred = self.__dict__.pop("_deferred", None)
        if deferred is None or name.startswith("__"):
            if deferred is not None:
                self.__dict__["_deferred"] = deferred
            raise AttributeError(name)
        bind, kw = deferred
        info = self.__dict__.pop("_deferred_info")
        if info:
            kw = {**kw, "info": {**kw.get("info", {}), **info}}
        AsyncSession.__init__(self, bind, **kw)
        for obj in self.__dict__.pop("_deferred_objects"):
            self.sync_session.add(obj)
        return getattr(self, name)

    def add_on_start(self, obj: object) -> None:
        """Add ``obj`` (a detached, persistent-looking copy) to the session when it is built; now if it is."""
        if self.started:
            self.sync_session.add(obj)
        else:
            self.__dict__["_deferred_objects"].append(obj)

    @property
    def info(self) -> dict[Any, Any]:
        if not self.started:
            info: dict[Any, Any] = self.__dict__["_deferred_info"]
            return info
        return self.sync_session.info

    @property
    def bind(self) -> Any:
        if not self.started:
            return self.__dict__["_deferred"][0]
        return AsyncSession.bind.fget(self)  # type: ignore[attr-defined]

    @bind.setter
    def bind(self, bind: Any) -> None:
        AsyncSession.bind.fset(self, bind)  # type: ignore[attr-defined]

    def in_transaction(self) -> bool:
        return self.started and super().in_transaction()

    async def close(self) -> None:
        if self.started:
            await super().close()


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
