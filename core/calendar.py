"""Chinese working-day calendar (R2, R3, R7, R9 deadlines are in working days).

Sources, in order:
1. ``chinese-calendar`` for the years it knows (official State Council schedules, 2004–2026).
2. ``core/data/holidays.yaml`` where an operator adds a newly announced year without a code change;
   a year there with ``announced: false`` holds only the fixed statutory dates and no make-up days.
3. Otherwise Monday–Friday, with a warning logged once and shown in the console.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path

import chinese_calendar
import yaml

from core.clock import LOCAL_TZ

log = logging.getLogger(__name__)


class YearSource(StrEnum):
    official = "official"  # chinese-calendar or an announced schedule in the data file
    statutory_only = "statutory-only"  # fixed statutory dates, no make-up days yet
    weekdays = "weekdays"  # nothing known: Monday–Friday


@dataclass
class _Year:
    source: YearSource
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    note: str = ""


@dataclass
class WorkCalendar:
    data_file: Path | None = None
    _years: dict[int, _Year] = field(default_factory=dict)
    _warned: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.data_file and self.data_file.exists():
            raw = yaml.safe_load(self.data_file.read_text(encoding="utf-8")) or {}
            for year, spec in (raw.get("years") or {}).items():
                spec = spec or {}
                holidays = frozenset(_as_date(d) for d in spec.get("holidays") or [])
                workdays = frozenset(_as_date(d) for d in spec.get("workdays") or [])
                for d in holidays | workdays:
                    if d.year != int(year):
                        raise ValueError(f"{self.data_file}: {d} listed under year {year}")
                announced = bool(spec.get("announced"))
                if workdays and not announced:
                    raise ValueError(f"{self.data_file}: year {year} lists make-up workdays but is not announced")
                self._years[int(year)] = _Year(
                    YearSource.official if announced else YearSource.statutory_only,
                    holidays,
                    workdays,
                    str(spec.get("source") or ""),
                )

    # -- what we know about a year -------------------------------------------------------------------
    def source(self, year: int) -> YearSource:
        if year in self._years:
            return self._years[year].source
        if _package_knows(year):
            return YearSource.official
        return YearSource.weekdays

    def warnings(self, years: list[int]) -> list[str]:
        """Human-readable notes for the console about provisional years."""
        notes = []
        for y in years:
            src = self.source(y)
            if src is YearSource.statutory_only:
                notes.append(
                    f"{y}: State Council holiday schedule not added yet; using statutory holidays only, "
                    "no make-up working days (edit core/data/holidays.yaml)."
                )
            elif src is YearSource.weekdays:
                notes.append(f"{y}: no holiday data; deadlines count Monday–Friday (edit core/data/holidays.yaml).")
        return notes

    # -- the three questions every deadline asks --------------------------------------------------------
    def is_working_day(self, d: date) -> bool:
        if isinstance(d, datetime):
            d = d.astimezone(LOCAL_TZ).date() if d.tzinfo else d.date()
        y = self._years.get(d.year)
        if y is not None:
            if d in y.workdays:
                return True
            if d in y.holidays:
                return False
            return d.weekday() < 5
        if _package_knows(d.year):
            return bool(chinese_calendar.is_workday(d))  # untyped package
        if d.year not in self._warned:
            self._warned.add(d.year)
            log.warning("no holiday data for %s; counting Monday-Friday as working days", d.year)
        return d.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (n=0: start itself if working, else the next one)."""
        d = start
        if n == 0:
            while not self.is_working_day(d):
                d += timedelta(days=1)
            return d
        step = 1 if n > 0 else -1
        left = abs(n)
        while left:
            d += timedelta(days=step)
            if self.is_working_day(d):
                left -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: how many working days pass going from a to b (negative if b < a)."""
        if b < a:
            return -self.working_days_between(b, a)
        return sum(1 for i in range(1, (b - a).days + 1) if self.is_working_day(a + timedelta(days=i)))

    def deadline(self, start: datetime, working_days: int) -> datetime:
        """End of the n-th working day after the local day of ``start`` (what "within n working days" means)."""
        day = self.add_working_days(start.astimezone(LOCAL_TZ).date(), working_days)
        return datetime.combine(day, time(23, 59, 59), tzinfo=LOCAL_TZ)


def _as_date(v: object) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v))


def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_holiday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True
