"""Supervisor reports computed from the records: on-time rate against deadlines (R3/R7/R10), R4 satisfaction
per agent, per category and over time, volumes by kind and utility, how many questions the bot answered
alone (deflection) and the top unanswered questions.

Periods are local calendar days [start, end] (China Standard Time). Counts are aggregated in SQL; series
over time are bucketed in Python from narrow rows so the same code runs on SQLite and PostgreSQL.

A package (base, figures, review, audit_log); this file only re-exports their public names so callers
keep writing ``reports.build``.
"""

from core.reports.audit_log import audit_actions, audit_entries
from core.reports.base import BOT_ANSWERED, LOW_SCORE, MAX_DAYS, NOT_DUE, UNANSWERED, Period, question_key
from core.reports.figures import (
    Deflection,
    OnTime,
    OnTimeRow,
    Report,
    Satisfaction,
    SatisfactionRow,
    Unanswered,
    Volumes,
    build,
    deflection,
    on_time,
    satisfaction,
    top_unanswered,
    volumes,
)
from core.reports.review import (
    MAX_SAMPLE,
    ReviewError,
    add_sample_question,
    review_suggestion,
    suggest_topic,
    suggestions,
)

__all__ = [
    "BOT_ANSWERED", "LOW_SCORE", "MAX_DAYS", "MAX_SAMPLE", "NOT_DUE", "UNANSWERED", "Deflection", "OnTime",
    "OnTimeRow", "Period", "Report", "ReviewError", "Satisfaction", "SatisfactionRow", "Unanswered", "Volumes",
    "add_sample_question", "audit_actions", "audit_entries", "build", "deflection", "on_time", "question_key",
    "review_suggestion", "satisfaction", "suggest_topic", "suggestions", "top_unanswered", "volumes",
]
