"""One session per update, closed afterwards; services commit their own units of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import DeferredSession


class DbSessionMiddleware(BaseMiddleware):
    """Gives each update a ``DeferredSession``: an update that never uses it (a known resident's ``/menu``)
    builds no ORM session at all (issue 13)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        session = DeferredSession(**self.sessionmaker.kw)
        data["session"] = session
        try:
            return await handler(event, data)
        finally:
            await close(session)


async def close(session: DeferredSession) -> None:
    """Close ``session``; without a connection, closing is pure bookkeeping.

    ``AsyncSession.__aexit__`` runs ``close()`` in a task of its own, shielded from cancellation: a task and
    an event-loop turn per update, the largest single cost of a cheap update once no SQL runs (issue 13).
    That protection matters only while the session holds a connection: a transaction the ORM began for
    bookkeeping alone (attaching an object) has none, and closing it is no I/O. SQLAlchemy has no public
    "holds a connection" test; if its private map ever goes away this takes the safe path.
    """
    if not session.started:
        return
    transaction = session.sync_session.get_transaction()
    if transaction is None or not getattr(transaction, "_connections", True):
        session.sync_session.close()  # expunges the objects; nothing to roll back or return to the pool
    else:
        await session.__aexit__(None, None, None)
