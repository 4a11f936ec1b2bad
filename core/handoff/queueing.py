"""The resident asks for a person; the queue, the context the agent sees, and claiming a chat (R6).

Outside working hours the request still queues and an R10 call-back ticket is opened.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import accounts, audit, outbox, resident_cache, tickets
from core.context import AppContext
from core.handoff.base import (
    N_,
    OUTBOX_PRIORITY,
    PRIORITY_GUIDED,
    QUEUE_LIMIT,
    HandoffError,
    end_button,
    is_staffed,
    next_staffed,
)
from core.i18n import DEFAULT_LOCALE
from core.staff import owns
from db.enums import OPEN_TICKET_STATUSES, ROLE_RANK, ConversationStatus, MessageDirection, StaffRole, TicketKind
from db.models import ChecklistNotice, Conversation, ConversationMessage, QuestionLog, Resident, StaffUser, Ticket
from db.session import rowcount

log = logging.getLogger(__name__)


# -- the resident side ---------------------------------------------------------------------------------------

async def active_conversation(session: AsyncSession, resident_id: int) -> Conversation | None:
    """The resident's queued or active conversation, if any."""
    q = (
        select(Conversation)
        .where(Conversation.resident_id == resident_id,
               Conversation.status.in_((ConversationStatus.queued, ConversationStatus.active)))
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return (await session.execute(q)).scalar_one_or_none()


async def conversation_for_update(session: AsyncSession, resident_id: int) -> Conversation | None:
    """``active_conversation``, asked once per update: the bot's filters ask it for every message, and the
    session lives exactly one update, so its ``info`` dict is the right cache."""
    cache: dict[int, Conversation | None] = session.info.setdefault("active_conversation", {})
    if resident_id not in cache:
        cache[resident_id] = await active_conversation(session, resident_id)
    return cache[resident_id]


async def request_handoff(
    session: AsyncSession,
    *,
    ctx: AppContext,
    resident: Resident,
    reason: str,
    last_exchange: str | dict[str, Any] | None = None,
    priority: int = 0,
) -> Conversation:
    """Queue the resident for a person (or return their open conversation); commits.

    Outside working hours the conversation is still queued, and an R10 callback ticket is opened so
    the first agent in the morning calls back within 24 hours. ``conversation.context`` then holds
    ``off_hours``, ``opens_at`` and ``callback_ticket`` for the bot's answer.
    """
    now = ctx.clock.now()
    existing = await active_conversation(session, resident.id)
    if existing is not None:
        if priority > existing.priority:
            existing.priority = priority
            await session.commit()
        return existing
    if resident.guided_mode:
        priority = max(priority, PRIORITY_GUIDED)
    context = await build_context(session, ctx=ctx, resident=resident, now=now)
    if last_exchange is not None:
        context["last_exchange"] = last_exchange
    off_hours = not is_staffed(ctx, now)
    if off_hours:
        context["off_hours"] = True
        context["opens_at"] = next_staffed(ctx, now).isoformat()
    conv = Conversation(
        resident_id=resident.id, status=ConversationStatus.queued, reason=str(reason)[:24], priority=priority,
        language=resident.language or DEFAULT_LOCALE, context=context, created_at=now, last_message_at=now,
    )
    session.add(conv)
    await session.flush()
    session.add(ConversationMessage(conversation_id=conv.id, direction=MessageDirection.system,
                                    content_type="text", text=f"handoff:{conv.reason}", created_at=now,
                                    guard_override=False))
    await session.commit()  # the request is safe before anything else can fail
    session.info.pop("active_conversation", None)
    if off_hours:
        await _open_callback_ticket(session, ctx=ctx, resident=resident, conv=conv)
    await ctx.live.publish("queue", action="new", conversation_id=conv.id)
    return conv


async def _open_callback_ticket(session: AsyncSession, *, ctx: AppContext, resident: Resident,
                                conv: Conversation) -> None:
    """R10: a question nobody could take now is called back within 24 hours."""
    try:
        ticket = await tickets.create_ticket(
            session, ctx=ctx, kind=TicketKind.callback, resident=resident,
            subject="Chat request outside working hours: call back (R10)",
            description=_exchange_text(conv.context.get("last_exchange")),
            category="chat", idempotency_key=f"handoff-callback-{conv.id}",
        )
    except Exception:  # the conversation is queued anyway; agents see it first thing in the morning
        log.exception("handoff: callback ticket for conversation %s could not be opened", conv.id)
        await session.rollback()
        return
    conv.context = {**conv.context, "callback_ticket": ticket.number, "callback_ticket_id": ticket.id}
    await session.commit()


def _exchange_text(exchange: Any) -> str:
    if not exchange:
        return ""
    if isinstance(exchange, dict):
        return "\n".join(f"{k}: {v}" for k, v in exchange.items())[:2000]
    return str(exchange)[:2000]


async def queue_position(session: AsyncSession, conversation: Conversation) -> int:
    """1-based place in the queue (0 once an agent has it)."""
    if conversation.status != ConversationStatus.queued:
        return 0
    ahead = (await session.execute(
        select(func.count()).select_from(Conversation).where(
            Conversation.status == ConversationStatus.queued,
            or_(Conversation.priority > conversation.priority,
                and_(Conversation.priority == conversation.priority, Conversation.id < conversation.id)),
        )
    )).scalar_one()
    return ahead + 1


# -- the console side ------------------------------------------------------------------------------------------

@dataclass
class QueueItem:
    conversation: Conversation
    resident: Resident
    position: int = 0
    preview: str | None = None


@dataclass
class QueueView:
    waiting: list[QueueItem] = field(default_factory=list)
    waiting_total: int = 0
    mine: list[QueueItem] = field(default_factory=list)
    offered: list[QueueItem] = field(default_factory=list)  # transfers waiting for my acceptance
    oldest_wait: timedelta | None = None


async def queue_view(session: AsyncSession, *, staff: StaffUser, now: datetime) -> QueueView:
    """What an agent sees: the waiting queue (priority, then age), their own chats, transfers offered to them."""
    view = QueueView()
    waiting = (await session.execute(
        select(Conversation, Resident).join(Resident, Resident.id == Conversation.resident_id)
        .where(Conversation.status == ConversationStatus.queued)
        .order_by(Conversation.priority.desc(), Conversation.id).limit(QUEUE_LIMIT)
    )).all()
    view.waiting = [QueueItem(c, r, i) for i, (c, r) in enumerate(waiting, 1)]
    if len(waiting) < QUEUE_LIMIT:  # the whole queue is on the page: no need to ask the database again
        view.waiting_total = len(waiting)
        oldest = min((c.created_at for c, _ in waiting), default=None)
    else:
        view.waiting_total, oldest = (await session.execute(
            select(func.count(), func.min(Conversation.created_at))
            .where(Conversation.status == ConversationStatus.queued)
        )).one()
    view.oldest_wait = now - oldest if oldest else None
    mine = (await session.execute(
        select(Conversation, Resident).join(Resident, Resident.id == Conversation.resident_id)
        .where(Conversation.status == ConversationStatus.active,
               or_(Conversation.owner_id == staff.id, Conversation.transfer_to_id == staff.id))
        .order_by(Conversation.last_message_at.desc())
    )).all()
    for c, r in mine:
        (view.offered if c.transfer_to_id == staff.id else view.mine).append(QueueItem(c, r))
    ids = [i.conversation.id for i in view.waiting + view.mine + view.offered]
    if ids:
        last = (
            select(ConversationMessage.conversation_id, func.max(ConversationMessage.id).label("mid"))
            .where(ConversationMessage.conversation_id.in_(ids),
                   ConversationMessage.direction == MessageDirection.inbound)
            .group_by(ConversationMessage.conversation_id).subquery()
        )
        rows = (await session.execute(
            select(ConversationMessage.conversation_id, ConversationMessage.content_type, ConversationMessage.text)
            .join(last, ConversationMessage.id == last.c.mid)
        )).all()
        previews = {cid: (text or f"[{ctype}]") for cid, ctype, text in rows}
        for item in view.waiting + view.mine + view.offered:
            p = previews.get(item.conversation.id)
            item.preview = p[:120] if p else None
    return view


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation | None:
    return (await session.execute(
        select(Conversation).where(Conversation.id == conversation_id)
        .options(selectinload(Conversation.messages)).execution_options(populate_existing=True)
    )).scalar_one_or_none()


def can_view(staff: StaffUser, conversation: Conversation) -> bool:
    """Agents see the queue and their own chats; supervisors see every chat."""
    return (
        conversation.status == ConversationStatus.queued
        or owns(conversation.owner_id, staff)
        or owns(conversation.transfer_to_id, staff)
        or ROLE_RANK[staff.role] >= ROLE_RANK[StaffRole.supervisor]
    )


async def claim(session: AsyncSession, *, ctx: AppContext, conversation_id: int, staff: StaffUser) -> Conversation:
    """Take a waiting conversation; the first agent wins and owns it until it is closed (R6). Commits."""
    if staff.id is None:  # issue 12 F2: an owner must be a real identity
        raise HandoffError("Only a member of staff with an identity can take a conversation.", status=403)
    now = ctx.clock.now()
    res = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.status == ConversationStatus.queued)
        .values(status=ConversationStatus.active, owner_id=staff.id, claimed_at=now)
    )
    if rowcount(res) != 1:
        await session.rollback()
        raise HandoffError("Another agent has already taken this conversation, or it was closed.")
    conv = await session.get(Conversation, conversation_id, populate_existing=True)
    assert conv is not None  # this transaction has just updated the row
    await resident_cache.bump(session, [conv.resident_id])
    resident = await session.get(Resident, conv.resident_id)
    assert resident is not None  # conversation.resident_id is a non-null foreign key
    session.add(ConversationMessage(conversation_id=conv.id, direction=MessageDirection.system, staff_id=staff.id,
                                    content_type="text", text="claimed", created_at=now, guard_override=False))
    lang = conv.language
    text = ctx.translator.gettext(
        lang, N_("{name} from customer service is now talking with you. Please write here; "
                 "tap the button below when you are done.")
    ).format(name=html.escape(staff.display_name))
    outbox.enqueue(session, resident_id=resident.id, kind="chat.joined", now=now, priority=OUTBOX_PRIORITY,
                   payload=outbox.message_payload(text, buttons=end_button(ctx, lang, conv.id)))
    audit.record(session, at=now, staff_id=staff.id, action="chat.claim", target_type="conversation",
                 target_id=conv.id)
    await session.commit()
    await ctx.live.publish("queue", action="claimed", conversation_id=conv.id, owner_id=staff.id)
    await ctx.live.publish("conversation", action="claimed", conversation_id=conv.id, owner_id=staff.id)
    return conv


# -- context for the agent ---------------------------------------------------------------------------------------

async def build_context(session: AsyncSession, *, ctx: AppContext, resident: Resident, now: datetime) -> dict[str, Any]:
    """What the agent needs to help without asking again: language, accounts and balances, open tickets,
    written notices (R1) and the last bot exchange. Missing pieces never block a handoff."""
    data: dict[str, Any] = {"language": resident.language or DEFAULT_LOCALE, "guided": bool(resident.guided_mode),
                            "accounts": [], "open_tickets": [], "notices": [], "questions": []}
    try:
        async with session.begin_nested():
            data["accounts"] = await _accounts(session, resident.id, now)
    except Exception:  # accounts are a convenience for the agent, never a reason to lose the request
        log.warning("handoff: account context unavailable", exc_info=True)
    tickets = (await session.execute(
        select(Ticket.id, Ticket.number, Ticket.kind, Ticket.status, Ticket.subject, Ticket.deadline_at)
        .where(Ticket.resident_id == resident.id, Ticket.status.in_(OPEN_TICKET_STATUSES))
        .order_by(Ticket.id.desc()).limit(10)
    )).all()
    data["open_tickets"] = [
        {"id": t.id, "number": t.number, "kind": str(t.kind), "status": str(t.status), "subject": t.subject,
         "deadline": t.deadline_at.isoformat()} for t in tickets
    ]
    notices = (await session.execute(
        select(ChecklistNotice.reference, ChecklistNotice.topic, ChecklistNotice.missing, ChecklistNotice.created_at)
        .where(ChecklistNotice.resident_id == resident.id).order_by(ChecklistNotice.id.desc()).limit(5)
    )).all()
    data["notices"] = [{"reference": n.reference, "topic": n.topic, "missing": list(n.missing or []),
                        "at": n.created_at.isoformat()} for n in notices]
    questions = (await session.execute(
        select(QuestionLog.text, QuestionLog.topic, QuestionLog.outcome, QuestionLog.created_at)
        .where(QuestionLog.resident_id == resident.id).order_by(QuestionLog.id.desc()).limit(3)
    )).all()
    data["questions"] = [{"text": q.text[:500], "topic": q.topic, "outcome": str(q.outcome),
                          "at": q.created_at.isoformat()} for q in reversed(questions)]
    return data


async def _accounts(session: AsyncSession, resident_id: int, now: datetime) -> list[dict[str, Any]]:
    out = []
    for acc in await accounts.linked_accounts(session, resident_id):
        summary = await accounts.account_summary(session, acc, now=now)
        out.append({
            "number": acc.number, "utility": str(acc.utility), "district": acc.district,
            "state": str(acc.state), "meter_type": str(acc.meter_type),
            "balance_fen": getattr(summary, "balance_fen", None),
            "arrears_fen": getattr(summary, "arrears_fen", None),
        })
    return out
