"""Counting the SQL a piece of code runs (issue 13's per-update cost), with engine events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


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
