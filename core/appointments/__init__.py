"""Home-visit appointments (R2): requested by the resident, answered within 1 working day.

Staff confirm, propose another slot, or refuse (refusal needs a supervisor and a reason told to the
resident). The resident gets a reminder the day before and may cancel or reschedule until 18:00 the day
before; a resident not met within 30 minutes of the window's start is recorded as a no-show.

A package (base, booking, answers, board); this file only re-exports their public names so callers
keep writing ``appointments.confirm``.
"""

from core.appointments.answers import (
    assign,
    cancel_by_staff,
    complete,
    confirm,
    propose_slot,
    record_ignition_visit,
    record_no_show,
    refuse,
)
from core.appointments.base import (
    BUTTON_ACCEPT,
    BUTTON_CANCEL,
    BUTTON_OTHER,
    CUTOFF,
    MAX_NOTE,
    MESSAGES,
    NO_SHOW_GRACE,
    OPEN,
    PREFIX,
    PROPOSAL_PREFIX,
    REMIND_FROM,
    RESPOND_WORKING_DAYS,
    SERVICE_LABELS,
    ProposalAction,
    SlotUnavailable,
    TooLate,
    cutoff,
    format_day,
    format_window,
    proposal_callback,
    resident_can_change,
)
from core.appointments.board import (
    AppointmentFilters,
    escalate_unanswered,
    get_appointment,
    list_appointments,
    send_reminders,
)
from core.appointments.booking import (
    accept_proposal,
    appointment_by_key,
    cancel_by_resident,
    request_appointment,
    reschedule,
    resident_appointment,
)
from core.tickets.base import InvalidInput  # callers catch appointments.InvalidInput

__all__ = [
    "BUTTON_ACCEPT", "BUTTON_CANCEL", "BUTTON_OTHER", "CUTOFF", "MAX_NOTE", "MESSAGES", "NO_SHOW_GRACE", "OPEN",
    "PREFIX", "PROPOSAL_PREFIX", "REMIND_FROM", "RESPOND_WORKING_DAYS", "SERVICE_LABELS", "AppointmentFilters",
    "InvalidInput", "ProposalAction", "SlotUnavailable", "TooLate", "accept_proposal", "appointment_by_key",
    "assign", "cancel_by_resident", "cancel_by_staff", "complete", "confirm", "cutoff", "escalate_unanswered",
    "format_day", "format_window", "get_appointment", "list_appointments", "proposal_callback", "propose_slot",
    "record_ignition_visit", "record_no_show", "refuse", "request_appointment", "reschedule",
    "resident_appointment", "resident_can_change", "send_reminders",
]
