"""What the report modules share: the reporting period, outcome groups, rates and question keys.

Periods are local calendar days [start, end] (China Standard Time). Counts are aggregated in SQL; series
over time are bucketed in Python from narrow rows so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.clock import LOCAL_TZ, local
from db.enums import QuestionOutcome, TicketStatus

# Outcomes where the bot answered on its own (no person needed).
BOT_ANSWERED = (QuestionOutcome.answered, QuestionOutcome.chose, QuestionOutcome.outage)
UNANSWERED = (QuestionOutcome.no_match, QuestionOutcome.ambiguous, QuestionOutcome.handed_off,
              QuestionOutcome.none_of_these, QuestionOutcome.not_this)
# Tickets that never needed finishing: withdrawn or merged into another.
NOT_DUE = (TicketStatus.cancelled, TicketStatus.duplicate)
LOW_SCORE = 6  # R4 follow-up threshold (core.surveys uses the same)
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @classmethod
    def last_days(cls, now: datetime, days: int = 30) -> Period:
        today = local(now).date()
        return cls(today - timedelta(days=days - 1), today)

    @classmethod
    def parse(cls, start: str | None, end: str | None, now: datetime) -> Period:
        """From form values; anything unreadable falls back to the last 30 days, and at most a year."""
        default = cls.last_days(now)
        try:
            s = date.fromisoformat(start) if start else default.start
            e = date.fromisoformat(end) if end else default.end
        except ValueError:
            return default
        if e < s:
            s, e = e, s
        if (e - s).days >= MAX_DAYS:
            s = e - timedelta(days=MAX_DAYS - 1)
        return cls(s, e)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=LOCAL_TZ)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=LOCAL_TZ)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bucket(self, at: datetime) -> date:
        """Day buckets up to five weeks, weeks (Mondays) up to half a year, then months."""
        d = local(at).date()
        if self.days <= 35:
            return d
        if self.days <= 183:
            return d - timedelta(days=d.weekday())
        return d.replace(day=1)

    def buckets(self) -> list[date]:
        out: list[date] = []
        d = self.start
        while d <= self.end:
            b = self.bucket(datetime.combine(d, time(12), tzinfo=LOCAL_TZ))
            if not out or out[-1] != b:
                out.append(b)
            d += timedelta(days=1)
        return out


def rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def question_key(text: str) -> str:
    """Group spellings of one question: width/case folded, punctuation and spaces removed."""
    t = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\W_]+", "", t)[:200]
