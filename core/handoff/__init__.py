"""Handoff to a person: the queue, claiming and owning a chat (R6), relaying messages both ways, closing
with a satisfaction survey (R4), and callback tickets outside working hours (R10).

Resident -> agent: the message is stored and announced on ``ctx.live`` (the console listens).
Agent -> resident: the message is stored and an outbox row is written in the same transaction, so the
sender delivers it rate-limited and retried; nothing an agent writes is lost.
Live events carry ids only, never message text or personal data.

A package (base, queueing, messages, transfers, closing); this file only re-exports their public
names so callers keep writing ``handoff.claim``.
"""

from core.handoff.base import (
    CHUNK,
    CLOSES,
    MAX_TEXT,
    OPENS,
    OUTBOX_PRIORITY,
    PRIORITY_GUIDED,
    PRIORITY_NORMAL,
    PRIORITY_VOICE,
    QUEUE_LIMIT,
    SURVEY_CATEGORY,
    GuardWarning,
    HandoffError,
    Reason,
    end_chat_data,
    is_staffed,
    next_staffed,
)
from core.handoff.closing import close, end_by_resident
from core.handoff.messages import (
    add_note,
    count_inbound,
    messages_after,
    relay_from_resident,
    reply,
    reply_file,
    split_text,
)
from core.handoff.queueing import (
    QueueItem,
    QueueView,
    active_conversation,
    build_context,
    can_view,
    claim,
    conversation_for_update,
    get_conversation,
    queue_position,
    queue_view,
    request_handoff,
)
from core.handoff.transfers import (
    active_staff,
    answer_transfer,
    cancel_transfer,
    offer_transfer,
    staff_names,
    transfer_targets,
)

__all__ = [
    "CHUNK", "CLOSES", "MAX_TEXT", "OPENS", "OUTBOX_PRIORITY", "PRIORITY_GUIDED", "PRIORITY_NORMAL",
    "PRIORITY_VOICE", "QUEUE_LIMIT", "SURVEY_CATEGORY", "GuardWarning", "HandoffError", "QueueItem", "QueueView",
    "Reason", "active_conversation", "active_staff", "add_note", "answer_transfer", "build_context", "can_view",
    "cancel_transfer", "claim", "close", "conversation_for_update", "count_inbound", "end_by_resident",
    "end_chat_data", "get_conversation", "is_staffed", "messages_after", "next_staffed", "offer_transfer",
    "queue_position", "queue_view", "relay_from_resident", "reply", "reply_file", "request_handoff", "split_text",
    "staff_names", "transfer_targets",
]
