"""Domain vocabularies shared by services, models, bot and console."""

from __future__ import annotations

from enum import StrEnum


class Utility(StrEnum):
    gas = "gas"
    water = "water"
    power = "power"


class MeterType(StrEnum):
    ic_card = "ic_card"  # prepaid card: credit must be loaded onto the card at a hall/terminal
    smart = "smart"  # remote-read prepaid meter
    ordinary = "ordinary"  # read monthly, billed afterwards


class AccountState(StrEnum):
    """R17 account states."""

    registered = "registered"
    awaiting_ignition = "awaiting_ignition"
    connected = "connected"
    vacant = "vacant"
    dismantled = "dismantled"
    suspended = "suspended"
    sealed = "sealed"


class LinkMethod(StrEnum):
    contact = "contact"
    bill_code = "bill_code"
    staff = "staff"


class LedgerKind(StrEnum):
    charge = "charge"
    payment = "payment"
    adjustment = "adjustment"


class TicketKind(StrEnum):
    fault = "fault"
    complaint = "complaint"
    callback = "callback"  # R10: a question we could not answer, call back within 24 h
    followup = "followup"  # R4: low satisfaction score, supervisor follows up
    inquiry = "inquiry"


class TicketStatus(StrEnum):
    new = "new"
    accepted = "accepted"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"
    cancelled = "cancelled"
    duplicate = "duplicate"


OPEN_TICKET_STATUSES = (TicketStatus.new, TicketStatus.accepted, TicketStatus.in_progress)


class Priority(StrEnum):
    emergency = "emergency"
    high = "high"
    normal = "normal"
    low = "low"


class ServiceType(StrEnum):
    ignition = "ignition"
    safety_inspection = "safety_inspection"
    meter_check = "meter_check"
    appliance_repair = "appliance_repair"
    modification_survey = "modification_survey"
    home_visit = "home_visit"  # business done at home for elderly/disabled residents (R2)


class AppointmentStatus(StrEnum):
    requested = "requested"
    confirmed = "confirmed"
    proposed = "proposed"  # staff proposed another slot; resident to accept
    refused = "refused"
    cancelled = "cancelled"
    completed = "completed"
    no_show = "no_show"
    not_ignited = "not_ignited"  # R19: an ignition visit found a prerequisite missing


class ConversationStatus(StrEnum):
    queued = "queued"
    active = "active"
    closed = "closed"


class MessageDirection(StrEnum):
    inbound = "in"  # resident -> staff
    outbound = "out"  # staff -> resident
    note = "note"  # internal, never sent
    system = "system"


class StaffRole(StrEnum):
    agent = "agent"
    operator = "operator"
    supervisor = "supervisor"
    admin = "admin"


ROLE_RANK = {StaffRole.agent: 1, StaffRole.operator: 2, StaffRole.supervisor: 3, StaffRole.admin: 4}


class OutageKind(StrEnum):
    planned = "planned"
    temporary = "temporary"
    emergency = "emergency"


class OutageStatus(StrEnum):
    draft = "draft"
    announced = "announced"
    restored = "restored"
    cancelled = "cancelled"


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after max attempts
    blocked = "blocked"  # resident blocked the bot
    cancelled = "cancelled"


class BroadcastStatus(StrEnum):
    running = "running"
    paused = "paused"
    cancelled = "cancelled"
    done = "done"


class QuestionOutcome(StrEnum):
    answered = "answered"
    chose = "chose"  # picked one of the offered topic buttons
    ambiguous = "ambiguous"
    no_match = "no_match"
    handed_off = "handed_off"
    none_of_these = "none_of_these"  # offered a choice, the resident said none fits (issue 14)
    not_this = "not_this"  # answered outright, the resident said it is not what they asked
    outage = "outage"  # answered with an active outage notice


class Language(StrEnum):
    zh = "zh_Hans"
    en = "en"

    @property
    def short(self) -> str:
        return "zh" if self is Language.zh else "en"


class ApprovalRole(StrEnum):
    """R12: who may sign a large bill correction, in the order the steps must be taken."""

    team_lead = "team_lead"
    dept_manager = "dept_manager"
    finance = "finance"
    deputy_gm = "deputy_gm"


class CorrectionStatus(StrEnum):
    """R12 bill correction: held for a re-read, then (if large) approvals, then posted to the ledger."""

    reread = "reread"  # a suspicious reading waits for a re-read; its charge is held
    approval = "approval"  # a large correction waits for its approval steps
    posted = "posted"
