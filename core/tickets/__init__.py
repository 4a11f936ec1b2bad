"""Tickets: fault reports (R7, R8, R20), complaints (R3, R5), call-backs (R10) and R4 follow-up tasks.

A package: the shared core (``base``: vocabulary, errors, status machine, numbering, deadlines, creation)
and one module per kind or concern beside it. This file only re-exports their public names so callers
keep writing ``tickets.create_ticket``; the submodules import ``core.tickets.base``, never this package.
"""

from core.tickets.base import (
    MAX_ATTACHMENTS,
    MAX_DESCRIPTION,
    MAX_STAFF_TEXT,
    NOTE_REQUIRED,
    PREFIXES,
    TICKET_FIELDS,
    TRANSITIONS,
    FaultCategory,
    ImpoliteText,
    InvalidInput,
    NotAllowed,
    RequestError,
    TransitionError,
    clean_phone,
    create_ticket,
    deadline_for,
    esc,
    format_deadline,
    normalize_address,
    require_polite,
    ticket_by_key,
)
from core.tickets.callbacks import create_callback, question_of
from core.tickets.complaints import COMPLAINT_CLASSES, classify_complaint, file_complaint, is_major_complaint
from core.tickets.escalations import SupervisorQueue, escalate_overdue, supervisor_queue, supervisor_reason
from core.tickets.faults import (
    CATEGORY_SUBJECTS,
    SUPPLY_CATEGORIES,
    UTILITY_CATEGORIES,
    Extent,
    FaultOutcome,
    Place,
    add_resident_report,
    file_fault_report,
    find_open_duplicate,
    same_place,
)
from core.tickets.places import (
    account_address,
    forget_districts,
    known_outages,
    outage_message,
    resident_accounts,
    service_districts,
)
from core.tickets.queries import SORTS, TicketFilters, TicketPage, count_tickets, get_ticket, list_tickets
from core.tickets.residents import (
    OPEN_APPOINTMENT_STATUSES,
    ResidentRequests,
    cancel_by_resident,
    resident_can_cancel,
    resident_requests,
    resident_ticket,
)
from core.tickets.workflow import (
    DEADLINE_MESSAGE,
    REOPENED_MESSAGE,
    REPLY_MESSAGE,
    STATUS_MESSAGES,
    add_note,
    assign,
    change_status,
    extend_deadline,
    mark_duplicate,
    reply_to_resident,
)
from db.enums import OPEN_TICKET_STATUSES  # callers read it as tickets.OPEN_TICKET_STATUSES

__all__ = [
    "CATEGORY_SUBJECTS", "COMPLAINT_CLASSES", "DEADLINE_MESSAGE", "MAX_ATTACHMENTS", "MAX_DESCRIPTION",
    "MAX_STAFF_TEXT", "NOTE_REQUIRED", "OPEN_APPOINTMENT_STATUSES", "OPEN_TICKET_STATUSES", "PREFIXES",
    "REOPENED_MESSAGE", "REPLY_MESSAGE", "SORTS", "STATUS_MESSAGES", "SUPPLY_CATEGORIES", "TICKET_FIELDS",
    "TRANSITIONS", "UTILITY_CATEGORIES", "Extent", "FaultCategory", "FaultOutcome", "ImpoliteText", "InvalidInput",
    "NotAllowed", "Place", "RequestError", "ResidentRequests", "SupervisorQueue", "TicketFilters", "TicketPage",
    "TransitionError", "account_address", "add_note", "add_resident_report", "assign", "cancel_by_resident",
    "change_status", "classify_complaint", "clean_phone", "count_tickets", "create_callback", "create_ticket",
    "deadline_for", "esc", "escalate_overdue", "extend_deadline", "file_complaint", "file_fault_report",
    "find_open_duplicate", "forget_districts", "format_deadline", "get_ticket", "is_major_complaint",
    "known_outages", "list_tickets", "mark_duplicate", "normalize_address", "outage_message", "question_of",
    "reply_to_resident", "require_polite", "resident_accounts", "resident_can_cancel", "resident_requests",
    "resident_ticket", "same_place", "service_districts", "supervisor_queue", "supervisor_reason", "ticket_by_key",
]
