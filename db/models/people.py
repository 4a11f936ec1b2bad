"""Residents, utility accounts and their ledgers, staff and API tokens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, BigId, enum_column
from db.enums import (
    AccountState,
    ApprovalRole,
    CorrectionStatus,
    LedgerKind,
    LinkMethod,
    MeterType,
    StaffRole,
    Utility,
)


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
    # Bumped by every change to this row or to one of the resident's conversations (core.resident_cache):
    # the inbox claim returns it, so a process knows without a query whether its cached copy is current.
    cache_rev: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

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
    __table_args__ = (
        Index("ix_utility_account_area", "district", "street", "building"),
        Index("ix_utility_account_phone", "phone"),
    )


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
    # The console's language for this person (issue 16): a locale of core.i18n.LOCALES.
    language: Mapped[str] = mapped_column(String(8), default="zh_Hans", server_default="zh_Hans")


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


class AlertLog(Base):
    """At most one alert of a kind per account per day (low credit, R11 arrears)."""

    __tablename__ = "alert_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("utility_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("account_id", "kind", "day"),)


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
