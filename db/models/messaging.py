"""Outages, broadcasts, the inbox and outbox, knowledge logs, counters and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, enum_column
from db.enums import (
    BroadcastStatus,
    OutageKind,
    OutageStatus,
    OutboxStatus,
    QuestionOutcome,
    Utility,
)


class OutageNotice(Base):
    __tablename__ = "outage_notice"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    utility: Mapped[Utility] = mapped_column(enum_column(Utility))
    kind: Mapped[OutageKind] = mapped_column(enum_column(OutageKind))
    status: Mapped[OutageStatus] = mapped_column(enum_column(OutageStatus), index=True)
    reason_zh: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    # {"districts": [...], "streets": [{"district":..,"street":..}], "buildings": [{"district","street","building"}]}
    area: Mapped[dict[str, Any]] = mapped_column(JSON)
    starts_at: Mapped[datetime]
    restore_at: Mapped[datetime]  # estimated restoration
    restored_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    override_reason: Mapped[str | None] = mapped_column(Text)  # R9 lead time overridden by a supervisor
    created_at: Mapped[datetime]
    announced_at: Mapped[datetime | None]
    reminder_sent_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # dispatch system's id (idempotency)


class OutageEvent(Base):
    """Announcement, delay/extension, reminder, restoration: each one is broadcast to the audience."""

    __tablename__ = "outage_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outage_notice.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # announced | delayed | extended | reminder | restored
    note: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    at: Mapped[datetime]


class DistrictSubscription(Base):
    __tablename__ = "district_subscription"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    district: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("resident_id", "district"),)


class Broadcast(Base):
    """One fan-out of an outage event (or other mass notice); its rows live in the outbox."""

    __tablename__ = "broadcast"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outage_event_id: Mapped[int | None] = mapped_column(ForeignKey("outage_event.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(255))
    status: Mapped[BroadcastStatus] = mapped_column(enum_column(BroadcastStatus))
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class OutboxNotification(Base):
    """A message to push to a resident, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_notification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(BigInteger, index=True)  # chat id
    kind: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(32), default="sendMessage")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # Bot API parameters except chat_id
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    locked_until: Mapped[datetime | None]  # lease taken by a sender; expired leases are taken again
    locked_by: Mapped[str | None] = mapped_column(String(64))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast.id", ondelete="CASCADE"), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_outbox_notification_due", "status", "not_before"),)


class SendGate(Base):
    """Pacing shared by every outbox sender process: the next free send slot and a global 429 pause."""

    __tablename__ = "send_gate"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_at: Mapped[datetime]
    paused_until: Mapped[datetime | None]


class ChecklistNotice(Base):
    """R1: the written one-time notice given to a resident; one copy kept on file."""

    __tablename__ = "checklist_notice"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    have: Mapped[list[Any]] = mapped_column(JSON, default=list)  # document ids the resident ticked
    missing: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class QuestionLog(Base):
    __tablename__ = "question_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[QuestionOutcome] = mapped_column(enum_column(QuestionOutcome), index=True)
    alternatives: Mapped[list[Any]] = mapped_column(JSON, default=list)
    suggested_topic: Mapped[str | None] = mapped_column(String(64))  # staff: "should have matched"
    created_at: Mapped[datetime] = mapped_column(index=True)


class TopicSuggestion(Base):
    """A sample question staff want added to a topic: pending review before the file changes."""

    __tablename__ = "topic_suggestion"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    question_log_id: Mapped[int | None] = mapped_column(ForeignKey("question_log.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | applied | rejected
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime]


class KnowledgeParaphrase(Base):
    """A resident's wording mapped to a topic by staff (issue 14): indexed by the matcher at once,
    in every process (core.knowledge checks max(id) per question). Rows are never updated or
    deleted, so max(id) is a version number."""

    __tablename__ = "knowledge_paraphrase"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    question_log_id: Mapped[int | None] = mapped_column(ForeignKey("question_log.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime]


class Counter(Base):
    """Per-day sequences for human-readable numbers (BX-20261123-0042)."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(48), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    action: Mapped[str] = mapped_column(String(48))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InboundUpdate(Base):
    """Durable inbox (issue 13): a Telegram update as received, stored before Telegram is told we have it.

    ``chat_key`` is the resident (sender's user id) whose updates must be handled in order; ``status`` is
    waiting → working (leased to ``locked_by`` until ``locked_until``) → done, or parked after repeated
    failures (shown to staff with ``last_error``).
    """

    __tablename__ = "inbound_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_key: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_inbound_update_due", "status", "not_before"),
        Index("ix_inbound_update_chat", "chat_key", "update_id"),
    )
