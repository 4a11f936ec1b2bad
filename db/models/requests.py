"""Service requests: tickets, appointments, surveys, approvals and chats with staff."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, BigId, enum_column
from db.enums import (
    AppointmentStatus,
    ConversationStatus,
    MessageDirection,
    Priority,
    ServiceType,
    TicketKind,
    TicketStatus,
    Utility,
)


class Ticket(Base):
    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[TicketKind] = mapped_column(enum_column(TicketKind), index=True)
    status: Mapped[TicketStatus] = mapped_column(enum_column(TicketStatus), index=True)
    priority: Mapped[Priority] = mapped_column(enum_column(Priority), default=Priority.normal)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("utility_account.id", ondelete="SET NULL"))
    utility: Mapped[Utility | None] = mapped_column(enum_column(Utility))
    category: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(255))
    district: Mapped[str | None] = mapped_column(String(64), index=True)
    street: Mapped[str | None] = mapped_column(String(128))
    building: Mapped[str | None] = mapped_column(String(32))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    extent: Mapped[str | None] = mapped_column(String(64))
    contact_name: Mapped[str | None] = mapped_column(String(128))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)  # Telegram file ids
    language: Mapped[str] = mapped_column(String(8), default="zh_Hans")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outage_notice.id"))
    complaint_level: Mapped[int | None] = mapped_column(Integer)  # R5: 1 internal, 2 escalated
    complaint_class: Mapped[str | None] = mapped_column(String(1))  # R5: A/B/C when staff are at fault
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    deadline_at: Mapped[datetime] = mapped_column(index=True)
    escalated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    # R7 repair orders: arrival, outcome, and progress of an order running late.
    arrived_at: Mapped[datetime | None]
    repair_outcome: Mapped[str | None] = mapped_column(String(24))  # fixed | not_fixed | not_ours | no_access
    first_visit_fix: Mapped[bool | None] = mapped_column(Boolean)  # R18 first-time fix
    progress_note: Mapped[str | None] = mapped_column(Text)
    responsible_name: Mapped[str | None] = mapped_column(String(64))
    responsible_phone: Mapped[str | None] = mapped_column(String(32))
    repair_of_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))  # R7 callback: the repair called about

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketEvent.id"
    )

    # The desk's open / overdue / "my open" lists walk open tickets by deadline: a partial index keeps them
    # bounded by the open work, not by years of closed history (bench/console, issue 6).
    __table_args__ = (
        Index(
            "ix_ticket_open_deadline",
            "deadline_at",
            "id",
            postgresql_where=text("status IN ('new', 'accepted', 'in_progress')"),
            sqlite_where=text("status IN ('new', 'accepted', 'in_progress')"),
        ),
    )


class TicketEvent(Base):
    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))  # created | status | assigned | note | reply | escalated ...
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    resident_id: Mapped[int | None] = mapped_column(BigInteger)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class SlotCapacity(Base):
    """How many visits a district can take in a time window; a row with a date overrides the default."""

    __tablename__ = "slot_capacity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    district: Mapped[str] = mapped_column(String(64))
    window: Mapped[str] = mapped_column(String(16))  # e.g. "09-12", "14-17"
    day: Mapped[date | None] = mapped_column(Date)  # None = default for every working day
    capacity: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("district", "window", "day"),)


class Appointment(Base):
    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("utility_account.id", ondelete="SET NULL"))
    service: Mapped[ServiceType] = mapped_column(enum_column(ServiceType))
    status: Mapped[AppointmentStatus] = mapped_column(enum_column(AppointmentStatus), index=True)
    district: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(255))
    day: Mapped[date] = mapped_column(Date, index=True)
    window: Mapped[str] = mapped_column(String(16))
    proposed_day: Mapped[date | None] = mapped_column(Date)
    proposed_window: Mapped[str | None] = mapped_column(String(16))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="zh_Hans")
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    refused_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    respond_by: Mapped[datetime]  # R2: answered within 1 working day
    reminder_sent_at: Mapped[datetime | None]
    # R19 (ignition): what the resident confirmed when booking, and the technician's checklist at the visit.
    prerequisites: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    visit_checklist: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    events: Mapped[list[AppointmentEvent]] = relationship(
        back_populates="appointment", cascade="all, delete-orphan", order_by="AppointmentEvent.id"
    )

    __table_args__ = (Index("ix_appointment_slot", "district", "day", "window"),)


class AppointmentEvent(Base):
    __tablename__ = "appointment_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)

    appointment: Mapped[Appointment] = relationship(back_populates="events")


class Survey(Base):
    """R4 follow-up: attitude and ability rated 1–10; score = mean of the two."""

    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    category: Mapped[str] = mapped_column(String(32))
    attitude: Mapped[int | None] = mapped_column(Integer)
    ability: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class ApprovalRequest(Base):
    """R2: staff may not refuse or cancel a resident's request themselves; a supervisor approves, and the
    reason is sent to the resident."""

    __tablename__ = "approval_request"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action: Mapped[str] = mapped_column(String(24))  # cancel_ticket | cancel_appointment | refuse_appointment
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | approved | rejected
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class Conversation(Base):
    """A handed-off chat. The first agent who claims it owns it until it is closed (R6)."""

    __tablename__ = "conversation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    status: Mapped[ConversationStatus] = mapped_column(enum_column(ConversationStatus), index=True)
    reason: Mapped[str] = mapped_column(String(24))  # button | voice | not_understood | guided
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher first (voice notes, guided mode)
    language: Mapped[str] = mapped_column(String(8))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    transfer_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime]

    messages: Mapped[list[ConversationMessage]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="ConversationMessage.id"
    )


class ConversationMessage(Base):
    __tablename__ = "conversation_message"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    direction: Mapped[MessageDirection] = mapped_column(enum_column(MessageDirection))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    content_type: Mapped[str] = mapped_column(String(16), default="text")  # text | photo | document | voice
    text: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(String(255))
    file_name: Mapped[str | None] = mapped_column(String(255))
    guard_override: Mapped[bool] = mapped_column(Boolean, default=False)  # R14 warning overridden
    created_at: Mapped[datetime]
    # A file an agent uploads: kept here and handed to Telegram by a signed URL (issue 6).
    mime_type: Mapped[str | None] = mapped_column(String(64))
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
