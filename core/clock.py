"""Injectable clock: services ask the clock for "now" so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=LOCAL_TZ)
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=LOCAL_TZ)

    def advance(self, **delta: float) -> None:
        self._at += timedelta(**delta)


def local(dt: datetime) -> datetime:
    """The same instant in the utility's local time (China Standard Time)."""
    return dt.astimezone(LOCAL_TZ)
