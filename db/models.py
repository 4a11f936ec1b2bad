"""SQLAlchemy 2.0 models. Money is integer fen; meter values are integer thousandths of a unit."""

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

from core.enums import (
    AccountState,
    AppointmentStatus,
    ApprovalRole,
    BroadcastStatus,
    ConversationStatus,
    CorrectionStatus,
    LedgerKind,
    LinkMethod,
    MessageDirection,
    MeterType,
    OutageKind,
    OutageStatus,
    OutboxStatus,
    Priority,
    QuestionOutcome,
    ServiceType,
    StaffRole,
    TicketKind,
    TicketStatus,
    Utility,
)
from db.base import Base, BigId, enum_column


class Resident(Base):
    """A Telegram user talking to the bot; id is the Telegram user id (= private chat id)."""

    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str | None] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))  # None until chosen at first contact
    guided_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)  # blocked the bot: skip sends
    link_failures: Mapped[int] = mapped_column(Integer, default=0)
    link_locked_until: Mapped[datetime | None]
    misses: Mapped[int] = mapped_column(Integer, default=0)  # consecutive not-understood messages
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]

    links: Mapped[list[AccountLink]] = relationship(back_populates="resident", cascade="all, delete-orphan")


class UtilityAccount(Base):
    __tablename__ = "utility_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    utility: Mapped[Utility] = mapped_column(enum_column(Utility))
    holder_name: Mapped[str] = mapped_column(String(128))
    district: Mapped[str] = mapped_column(String(64), index=True)
    street: Mapped[str] = mapped_column(String(128))
    building: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str | None] = mapped_column(String(16))
    room: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32))  # phone on file, digits only
    bill_code_hash: Mapped[str | None] = mapped_column(String(128))  # verification code printed on bills
    meter_type: Mapped[MeterType] = mapped_column(enum_column(MeterType))
    state: Mapped[AccountState] = mapped_column(enum_column(AccountState))
    household_size: Mapped[int] = mapped_column(Integer, default=4)
    low_credit_threshold_fen: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # phone: simple mode links an account by the resident's shared contact (accounts_with_phone).
    __table_args__ = (Index("ix_utility_account_area", "district", "street", "building"),
                      Index("ix_utility_account_phone", "phone"))


class AccountLink(Base):
    """A resident proved they own (or act for, R16) an account."""

    __tablename__ = "account_link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("utility_account.id", ondelete="CASCADE"), index=True)
    verified_at: Mapped[datetime]
    method: Mapped[LinkMethod] = mapped_column(enum_column(LinkMethod))
    relation: Mapped[str] = mapped_column(String(16), default="self")  # self | relative (R16 proxy)
    alerts_enabled: Mapped[bool] = mapped_column(Boolean, default=False)

    resident: Mapped[Resident] = relationship(back_populates="links")
    account: Mapped[UtilityAccount] = relationship()

    __table_args__ = (UniqueConstraint("resident_id", "account_id"),)


class LedgerEntry(Base):
    """Balance = sum(amount_fen): payments positive, charges negative, adjustments either way."""

    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("utility_account.id", ondelete="CASCADE"))
    kind: Mapped[LedgerKind] = mapped_column(enum_column(LedgerKind))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    posted_at: Mapped[datetime]
    period: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM for charges
    quantity_milli: Mapped[int | None] = mapped_column(BigInteger)  # billed volume, thousandths
    description: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16), default="billing")  # billing | import | telegram | staff
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    telegram_charge_id: Mapped[str | None] = mapped_column(String(128), unique=True)

    __table_args__ = (Index("ix_ledger_entry_account_posted", "account_id", "posted_at"),)


class MeterReading(Base):
    __tablename__ = "meter_reading"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("utility_account.id", ondelete="CASCADE"))
    read_on: Mapped[date] = mapped_column(Date)
    value_milli: Mapped[int] = mapped_column(BigInteger)  # cumulative register value
    usage_milli: Mapped[int] = mapped_column(BigInteger)  # consumption since the previous reading
    source: Mapped[str] = mapped_column(String(16), default="billing")
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    flag: Mapped[str | None] = mapped_column(String(24))  # R17: "outside_window" (read outside the 6th–26th)

    __table_args__ = (Index("ix_meter_reading_account_read_on", "account_id", "read_on"),)


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # "person" logs in with a password; "service" is the identity of an API token (issue 12 F2): it owns
    # chats and tickets and appears in the audit log, but can never log in.
    kind: Mapped[str] = mapped_column(String(16), default="person", server_default="person")
    # Bumped to end every console session of this person at once (issue 12 F5); cookies carry the value.
    session_gen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # R12: an approval role held besides the console role (team lead, department manager, finance, deputy GM).
    approval_role: Mapped[ApprovalRole | None] = mapped_column(enum_column(ApprovalRole))


class ApiToken(Base):
    """Bearer tokens for integrations (billing system); only a hash is stored. Each acts as its own
    service staff row (``staff_id``), so ownership and the audit log see a real identity."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    last_used_at: Mapped[datetime | None]


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
        Index("ix_ticket_open_deadline", "deadline_at", "id",
              postgresql_where=text("status IN ('new', 'accepted', 'in_progress')"),
              sqlite_where=text("status IN ('new', 'accepted', 'in_progress')")),
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
    question_log_id: Mapped[int | None] = mapped_column(ForeignKey("question_log.id", ondelete="SET NULL"),
                                                        index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime]


class AlertLog(Base):
    """At most one alert of a kind per account per day (low credit, R11 arrears)."""

    __tablename__ = "alert_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("utility_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("account_id", "kind", "day"),)


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


class BillCorrection(Base):
    """R12: a suspicious reading held for a re-read, or a correction waiting for its approval steps.

    Charges of the held period wait in ``held`` (ledger rows as JSON) and reach the ledger only when the
    re-read confirms the reading or the last required approval is recorded.
    """

    __tablename__ = "bill_correction"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("utility_account.id", ondelete="CASCADE"), index=True)
    reading_id: Mapped[int | None] = mapped_column(ForeignKey("meter_reading.id", ondelete="SET NULL"))
    period: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM whose charges are held
    status: Mapped[CorrectionStatus] = mapped_column(enum_column(CorrectionStatus), index=True)
    suspicious_usage_milli: Mapped[int | None] = mapped_column(BigInteger)
    corrected_usage_milli: Mapped[int | None] = mapped_column(BigInteger)
    volume_milli: Mapped[int | None] = mapped_column(BigInteger)  # corrected volume (the adjustment's quantity)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)  # signed adjustment amount
    note: Mapped[str | None] = mapped_column(Text)
    held: Mapped[list[Any]] = mapped_column(JSON, default=list)
    required: Mapped[list[Any]] = mapped_column(JSON, default=list)  # approval roles in order
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # an imported adjustment's id
    created_at: Mapped[datetime]
    reread_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    reread_at: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]

    steps: Mapped[list[BillCorrectionStep]] = relationship(
        back_populates="correction", cascade="all, delete-orphan", order_by="BillCorrectionStep.id"
    )


class BillCorrectionStep(Base):
    """R12: one recorded approval by a staff user holding that approval role."""

    __tablename__ = "bill_correction_step"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    correction_id: Mapped[int] = mapped_column(ForeignKey("bill_correction.id", ondelete="CASCADE"), index=True)
    role: Mapped[ApprovalRole] = mapped_column(enum_column(ApprovalRole))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)

    correction: Mapped[BillCorrection] = relationship(back_populates="steps")


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


class ReconnectionRequest(Base):
    """R11: after paying, the resident registers for reconnection; served in order of registration."""

    __tablename__ = "reconnection_request"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("utility_account.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    registered_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting | served | cancelled
    served_at: Mapped[datetime | None]
    served_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    __table_args__ = (Index("ix_reconnection_request_queue", "status", "registered_at"),)


class ProxyApplication(Base):
    """R16: someone applying for the owner: their relation and which of the four documents they have."""

    __tablename__ = "proxy_application"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("utility_account.id", ondelete="SET NULL"))
    relation: Mapped[str] = mapped_column(String(24))
    documents: Mapped[list[str]] = mapped_column(JSON, default=list)  # keys of core.proxy.DOCUMENTS held
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
