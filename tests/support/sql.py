"""Counting the SQL a piece of code runs (issue 13's per-update cost), with engine events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session


@contextmanager
def statements(ctx) -> Iterator[list[str]]:
    """The SQL statements executed meanwhile, plus "BEGIN" for every transaction opened."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    def begin(conn) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":  # a real BEGIN
            seen.append("BEGIN")

    event.listen(ctx.engine.sync_engine, "before_cursor_execute", record)
    event.listen(ctx.engine.sync_engine, "begin", begin)
    try:
        yield seen
    finally:
        event.remove(ctx.engine.sync_engine, "before_cursor_execute", record)
        event.remove(ctx.engine.sync_engine, "begin", begin)


@contextmanager
def sessions_built() -> Iterator[list[object]]:
    """The ORM ``Session`` objects constructed meanwhile (SQLAlchemy has no event for that)."""
    built: list[object] = []
    original = Session.__init__

    def init(self, *args, **kw) -> None:
        built.append(self)
        original(self, *args, **kw)

    Session.__init__ = init  # type: ignore[method-assign]
    try:
        yield built
    finally:
        Session.__init__ = original  # type: ignore[method-assign]
