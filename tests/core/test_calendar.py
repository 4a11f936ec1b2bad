"""Working-day calendar across the 2026 Spring Festival and National Day (with make-up days)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from core.calendar import WorkCalendar, YearSource
from core.clock import LOCAL_TZ
from core.settings import ROOT

DATA = ROOT / "core" / "data" / "holidays.yaml"


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(DATA)


def test_spring_festival_2026(cal: WorkCalendar) -> None:
    # 2026 Spring Festival: 15–23 Feb off; Sat 14 Feb and Sat 28 Feb are make-up working days.
    assert cal.is_working_day(date(2026, 2, 13))
    assert cal.is_working_day(date(2026, 2, 14))  # Saturday, make-up working day
    for d in range(15, 24):
        assert not cal.is_working_day(date(2026, 2, d)), d
    assert cal.is_working_day(date(2026, 2, 24))
    assert cal.is_working_day(date(2026, 2, 28))  # Saturday, make-up working day
    # A request on Fri 13 Feb due "within 1 working day" is due on the make-up Saturday.
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert cal.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert cal.working_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2


def test_national_day_2026(cal: WorkCalendar) -> None:
    # 2026 National Day: 1–7 Oct off; Sun 20 Sep and Sat 10 Oct are make-up working days.
    assert cal.is_working_day(date(2026, 9, 20))
    assert not any(cal.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert cal.is_working_day(date(2026, 10, 9))
    assert cal.is_working_day(date(2026, 10, 10))
    assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 8)) == 1


def test_deadline_is_end_of_nth_working_day(cal: WorkCalendar) -> None:
    start = datetime(2026, 9, 30, 16, 0, tzinfo=LOCAL_TZ)
    assert cal.deadline(start, 3) == datetime(2026, 10, 10, 23, 59, 59, tzinfo=LOCAL_TZ)
    assert cal.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 10, 8), -1) == date(2026, 9, 30)


def test_2027_statutory_only_never_invents_make_up_days(cal: WorkCalendar) -> None:
    assert cal.source(2026) is YearSource.official
    assert cal.source(2027) is YearSource.statutory_only
    assert not cal.is_working_day(date(2027, 2, 8))  # Spring Festival day 3 (statutory)
    assert not cal.is_working_day(date(2027, 2, 13))  # a Saturday stays a day off: no invented make-up day
    assert cal.is_working_day(date(2027, 2, 9))
    assert "statutory holidays only" in cal.warnings([2027])[0]


def test_unknown_year_falls_back_to_weekdays_and_warns(cal: WorkCalendar, caplog) -> None:
    assert cal.source(2031) is YearSource.weekdays
    assert cal.is_working_day(date(2031, 1, 1))  # a Wednesday; no data, so Mon–Fri
    assert not cal.is_working_day(date(2031, 1, 4))
    cal.is_working_day(date(2031, 1, 6))
    assert sum("2031" in r.message for r in caplog.records) == 1, "warn once per year"
    assert cal.warnings([2031])


def test_operator_adds_an_announced_year_without_code(tmp_path: Path) -> None:
    f = tmp_path / "h.yaml"
    f.write_text("years:\n  2029:\n    announced: true\n    holidays: [2029-01-01, 2029-01-02]\n"
                 "    workdays: [2029-01-06]\n", encoding="utf-8")
    cal = WorkCalendar(f)
    assert cal.source(2029) is YearSource.official
    assert not cal.is_working_day(date(2029, 1, 2))
    assert cal.is_working_day(date(2029, 1, 6))  # a Saturday made a working day


def test_make_up_days_require_an_announced_schedule(tmp_path: Path) -> None:
    f = tmp_path / "h.yaml"
    f.write_text("years:\n  2029:\n    announced: false\n    workdays: [2029-01-06]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not announced"):
        WorkCalendar(f)
