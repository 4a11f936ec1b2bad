"""Handoff to a person: the queue, claiming and owning a chat (R6), relaying messages both ways, closing
with a satisfaction survey (R4), and callback tickets outside working hours (R10).

Resident -> agent: the message is stored and announced on ``ctx.live`` (the console listens).
Agent -> resident: the message is stored and an outbox row is written in the same transaction, so the
sender delivers it rate-limited and retried; nothing an agent writes is lost.
Live events carry ids only, never message text or personal data.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import audit, language_guard, outbox
from core.clock import LOCAL_TZ, local
from core.context import AppContext
from core.i18n import DEFAULT_LOCALE
from core.staff import owns
from db.enums import (
    OPEN_TICKET_STATUSES,
    ROLE_RANK,
    ConversationStatus,
    MessageDirection,
    StaffRole,
    TicketKind,
)
from db.models import (
    ChecklistNotice,
    Conversation,
    ConversationMessage,
    QuestionLog,
    Resident,
    StaffUser,
    Survey,
    Ticket,
)

log = logging.getLogger(__name__)


def N_(s: str) -> str:
    """Mark a msgid for extraction; it is translated later in the resident's language."""
    return s


# Staffed hours of the chat desk (site.yaml general_agent_hours) on working days of ctx.calendar.
OPENS = time(8, 30)
CLOSES = time(17, 30)

# Queue priority: higher first. A voice note cannot be read by the bot, and guided-mode residents
# (mostly elderly, R2) should not wait behind everyone else.
PRIORITY_NORMAL = 0
PRIORITY_GUIDED = 1
PRIORITY_VOICE = 2
# Outbox priority of chat traffic: a live conversation goes before status notices and broadcasts.
OUTBOX_PRIORITY = 50

MAX_TEXT = 8000  # a long reply (a full checklist plus a note) goes out as several messages
CHUNK = 3000  # per Telegram message, leaving room for HTML escaping and the agent's name under 4096
QUEUE_LIMIT = 200  # rows on the queue page; the count above it is exact
SURVEY_CATEGORY = "chat"  # Survey.category of a handed-off conversation (reports group by it)


class Reason(StrEnum):
    button = "button"  # "talk to a person" in the menu or under an answer
    voice = "voice"
    not_understood = "not_understood"
    guided = "guided"


class HandoffError(Exception):
    """A console action that cannot be done; ``message`` is shown to the agent."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class GuardWarning(HandoffError):
    """R14: the text contains forbidden phrases; nothing was sent."""

    def __init__(self, hits: list[language_guard.Hit], text: str) -> None:
        super().__init__("The message contains phrases that must not be used (R14).", status=422)
        self.hits = hits
        self.suggestion = language_guard.polite_version(text)


# -- callback data shared with bot/routers/handoff.py (no aiogram types in core) ----------------------------

def end_chat_data(conversation_id: int) -> str:
    """Packed ``HandoffCallback(action=end, conv=id)``."""
    return f"ho:end:{conversation_id}"


# -- working hours ----------------------------------------------------------------------------------------------

def is_staffed(ctx: AppContext, now: datetime) -> bool:
    """Is a person at the chat desk now? Working days of the calendar, 8:30–17:30 local time."""
    t = local(now)
    return ctx.calendar.is_working_day(t.date()) and OPENS <= t.time() < CLOSES


def next_staffed(ctx: AppContext, now: datetime) -> datetime:
    """When the desk opens next (``now`` itself if it is open)."""
    if is_staffed(ctx, now):
        return now
    t = local(now)
    day = t.date()
    if not (ctx.calendar.is_working_day(day) and t.time() < OPENS):
        day = ctx.calendar.add_working_days(day, 1)
    return datetime.combine(day, OPENS, tzinfo=LOCAL_TZ)


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
    cache = session.info.setdefault("active_conversation", {})
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
        from core import tickets

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


async def relay_from_resident(
    session: AsyncSession,
    *,
    ctx: AppContext,
    conversation: Conversation,
    content_type: str = "text",
    text: str | None = None,
    file_id: str | None = None,
    file_name: str | None = None,
) -> ConversationMessage:
    """Store a resident's message in their conversation and tell the console; commits."""
    now = ctx.clock.now()
    msg = ConversationMessage(
        conversation_id=conversation.id, direction=MessageDirection.inbound, content_type=content_type[:16],
        text=text, file_id=file_id, file_name=(file_name or None) and file_name[:255], created_at=now,
        guard_override=False,
    )
    session.add(msg)
    conversation.last_message_at = now
    await session.commit()
    await ctx.live.publish("conversation", action="message", conversation_id=conversation.id, message_id=msg.id,
                           owner_id=conversation.owner_id)
    if conversation.status == ConversationStatus.queued:
        await ctx.live.publish("queue", action="message", conversation_id=conversation.id)
    return msg


async def count_inbound(session: AsyncSession, conversation_id: int) -> int:
    return (await session.execute(
        select(func.count()).select_from(ConversationMessage).where(
            ConversationMessage.conversation_id == conversation_id,
            ConversationMessage.direction == MessageDirection.inbound)
    )).scalar_one()


async def end_by_resident(session: AsyncSession, *, ctx: AppContext, conversation: Conversation) -> bool:
    """The resident ends the chat; returns False if it was already closed. A survey follows if an agent served."""
    if conversation.status == ConversationStatus.closed:
        return False
    served = conversation.status == ConversationStatus.active and conversation.owner_id is not None
    await _close(session, ctx=ctx, conversation=conversation, staff=None, notify=False)
    if served:
        await _send_survey(session, ctx=ctx, conversation=conversation)
    await session.commit()
    session.info.pop("active_conversation", None)
    await _publish_closed(ctx, conversation)
    return True


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


async def messages_after(session: AsyncSession, conversation_id: int, after_id: int) -> list[ConversationMessage]:
    return list((await session.execute(
        select(ConversationMessage).where(ConversationMessage.conversation_id == conversation_id,
                                          ConversationMessage.id > after_id)
        .order_by(ConversationMessage.id)
    )).scalars())


def can_view(staff: StaffUser, conversation: Conversation) -> bool:
    """Agents see the queue and their own chats; supervisors see every chat."""
    return (
        conversation.status == ConversationStatus.queued
        or owns(conversation.owner_id, staff)
        or owns(conversation.transfer_to_id, staff)
        or ROLE_RANK[staff.role] >= ROLE_RANK[StaffRole.supervisor]
    )


def _require_owner(conversation: Conversation, staff: StaffUser) -> None:
    if conversation.status == ConversationStatus.closed:
        raise HandoffError("This conversation is closed.")
    if conversation.status != ConversationStatus.active or not owns(conversation.owner_id, staff):
        raise HandoffError("Only the agent who owns this conversation can do that (R6).", status=403)


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
    if res.rowcount != 1:
        await session.rollback()
        raise HandoffError("Another agent has already taken this conversation, or it was closed.")
    conv = await session.get(Conversation, conversation_id, populate_existing=True)
    resident = await session.get(Resident, conv.resident_id)
    session.add(ConversationMessage(conversation_id=conv.id, direction=MessageDirection.system, staff_id=staff.id,
                                    content_type="text", text="claimed", created_at=now, guard_override=False))
    lang = conv.language
    text = ctx.translator.gettext(
        lang, N_("{name} from customer service is now talking with you. Please write here; "
                 "tap the button below when you are done.")
    ).format(name=html.escape(staff.display_name))
    outbox.enqueue(session, resident_id=resident.id, kind="chat.joined", now=now, priority=OUTBOX_PRIORITY,
                   payload=outbox.message_payload(text, buttons=_end_button(ctx, lang, conv.id)))
    audit.record(session, at=now, staff_id=staff.id, action="chat.claim", target_type="conversation",
                 target_id=conv.id)
    await session.commit()
    await ctx.live.publish("queue", action="claimed", conversation_id=conv.id, owner_id=staff.id)
    await ctx.live.publish("conversation", action="claimed", conversation_id=conv.id, owner_id=staff.id)
    return conv


def _end_button(ctx: AppContext, lang: str, conversation_id: int) -> list[list[dict[str, Any]]]:
    label = ctx.translator.gettext(lang, N_("✅ End chat"))
    return [[{"text": label, "callback_data": end_chat_data(conversation_id)}]]


async def reply(
    session: AsyncSession,
    *,
    ctx: AppContext,
    conversation: Conversation,
    staff: StaffUser,
    text: str,
    override: bool = False,
) -> ConversationMessage:
    """Send the owner's message to the resident through the outbox; R14 guard first. Commits.

    Raises GuardWarning (nothing stored or sent) when the text has forbidden phrases, unless the agent
    chose to send anyway (``override``), which is recorded on the message and in the audit log.
    """
    _require_owner(conversation, staff)
    text = (text or "").strip()
    if not text:
        raise HandoffError("The message is empty.", status=422)
    if len(text) > MAX_TEXT:
        raise HandoffError(f"The message is too long (at most {MAX_TEXT} characters).", status=422)
    hits = language_guard.check(text)
    if hits and not override:
        raise GuardWarning(hits, text)
    now = ctx.clock.now()
    msg = ConversationMessage(conversation_id=conversation.id, direction=MessageDirection.outbound,
                              staff_id=staff.id, content_type="text", text=text,
                              guard_override=bool(hits), created_at=now)
    session.add(msg)
    conversation.last_message_at = now
    await session.flush()
    head = f"👩‍💼 <b>{html.escape(staff.display_name)}</b>\n"
    for n, part in enumerate(split_text(text)):
        outbox.enqueue(session, resident_id=conversation.resident_id, kind="chat.reply", now=now,
                       priority=OUTBOX_PRIORITY, payload=outbox.message_payload(head + html.escape(part)),
                       dedupe_key=f"chat-msg-{msg.id}" + (f"-{n}" if n else ""))
    audit.record(session, at=now, staff_id=staff.id, action="chat.reply", target_type="conversation",
                 target_id=conversation.id, message_id=msg.id)
    if hits:
        audit.record(session, at=now, staff_id=staff.id, action="chat.guard_override", target_type="conversation",
                     target_id=conversation.id, message_id=msg.id, phrases=sorted({h.phrase for h in hits}))
    await session.commit()
    await ctx.live.publish("conversation", action="message", conversation_id=conversation.id, message_id=msg.id,
                           owner_id=staff.id)
    return msg


def split_text(text: str, limit: int = CHUNK) -> list[str]:
    """Cut a long reply into messages at line breaks (or hard, for one very long line)."""
    parts: list[str] = []
    cur = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if cur:
                parts.append(cur)
                cur = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{cur}\n{line}" if cur else line
        if len(candidate) > limit:
            parts.append(cur)
            cur = line
        else:
            cur = candidate
    if cur or not parts:
        parts.append(cur)
    return parts


async def reply_file(
    session: AsyncSession,
    *,
    ctx: AppContext,
    conversation: Conversation,
    staff: StaffUser,
    data: bytes,
    file_name: str,
    mime_type: str | None,
    caption: str | None,
    url_for: Any,
) -> ConversationMessage:
    """Send a photo or document; Telegram fetches it from ``url_for(message)`` (a signed URL). Commits."""
    _require_owner(conversation, staff)
    if not data:
        raise HandoffError("The file is empty.", status=422)
    caption = (caption or "").strip()[:900] or None
    if caption and (hits := language_guard.check(caption)):
        raise GuardWarning(hits, caption)
    now = ctx.clock.now()
    is_photo = (mime_type or "").lower() in ("image/jpeg", "image/png", "image/webp", "image/gif")
    msg = ConversationMessage(conversation_id=conversation.id, direction=MessageDirection.outbound,
                              staff_id=staff.id, content_type="photo" if is_photo else "document", text=caption,
                              file_name=(file_name or "file")[:255], mime_type=(mime_type or None) and mime_type[:64],
                              file_data=data, created_at=now, guard_override=False)
    session.add(msg)
    conversation.last_message_at = now
    await session.flush()
    head = f"👩‍💼 <b>{html.escape(staff.display_name)}</b>"
    payload: dict[str, Any] = {"caption": head + (f"\n{html.escape(caption)}" if caption else ""),
                               "parse_mode": "HTML"}
    payload["photo" if is_photo else "document"] = url_for(msg)
    outbox.enqueue(session, resident_id=conversation.resident_id, kind="chat.reply", now=now,
                   method="sendPhoto" if is_photo else "sendDocument", priority=OUTBOX_PRIORITY, payload=payload,
                   dedupe_key=f"chat-msg-{msg.id}")
    audit.record(session, at=now, staff_id=staff.id, action="chat.reply", target_type="conversation",
                 target_id=conversation.id, message_id=msg.id, content_type=msg.content_type)
    await session.commit()
    await ctx.live.publish("conversation", action="message", conversation_id=conversation.id, message_id=msg.id,
                           owner_id=staff.id)
    return msg


async def add_note(session: AsyncSession, *, ctx: AppContext, conversation: Conversation, staff: StaffUser,
                   text: str) -> ConversationMessage:
    """An internal note, never sent to the resident. Commits."""
    allowed = (owns(conversation.owner_id, staff) or owns(conversation.transfer_to_id, staff)
               or ROLE_RANK[staff.role] >= ROLE_RANK[StaffRole.supervisor])
    if not allowed:
        raise HandoffError("Claim the conversation before adding notes.", status=403)
    text = (text or "").strip()
    if not text or len(text) > 4000:
        raise HandoffError("A note needs 1 to 4000 characters.", status=422)
    now = ctx.clock.now()
    msg = ConversationMessage(conversation_id=conversation.id, direction=MessageDirection.note, staff_id=staff.id,
                              content_type="text", text=text, created_at=now, guard_override=False)
    session.add(msg)
    audit.record(session, at=now, staff_id=staff.id, action="chat.note", target_type="conversation",
                 target_id=conversation.id)
    await session.commit()
    await ctx.live.publish("conversation", action="message", conversation_id=conversation.id, message_id=msg.id,
                           owner_id=conversation.owner_id)
    return msg


async def transfer_targets(session: AsyncSession, *, staff: StaffUser) -> list[StaffUser]:
    """Active colleagues a chat can be transferred to."""
    return list((await session.execute(
        select(StaffUser).where(StaffUser.active.is_(True), StaffUser.id != staff.id,
                                StaffUser.kind == "person").order_by(StaffUser.display_name)
    )).scalars())


async def staff_names(session: AsyncSession, ids: set[int] | list[int]) -> dict[int, str]:
    """Display names of staff members by id (for transcripts, desk lists and reports)."""
    ids = [i for i in set(ids) if i is not None]
    if not ids:
        return {}
    rows = await session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ids)))
    return {sid: name for sid, name in rows}


async def active_staff(session: AsyncSession) -> list[StaffUser]:
    """Every active staff member, for owner filters and assignment."""
    return list((await session.execute(
        select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.display_name)
    )).scalars())


async def offer_transfer(session: AsyncSession, *, ctx: AppContext, conversation: Conversation, staff: StaffUser,
                         to_staff_id: int, note: str | None = None) -> Conversation:
    """Offer the chat to a colleague; the offering agent stays the owner until it is accepted (R6). Commits."""
    _require_owner(conversation, staff)
    target = await session.get(StaffUser, to_staff_id)
    if target is None or not target.active or target.id == staff.id:
        raise HandoffError("Choose an active colleague to transfer to.", status=422)
    now = ctx.clock.now()
    conversation.transfer_to_id = target.id
    text = f"transfer_offered:{target.id}" + (f"\n{note.strip()[:1000]}" if note and note.strip() else "")
    session.add(ConversationMessage(conversation_id=conversation.id, direction=MessageDirection.system,
                                    staff_id=staff.id, content_type="text", text=text, created_at=now,
                                    guard_override=False))
    audit.record(session, at=now, staff_id=staff.id, action="chat.transfer_offer", target_type="conversation",
                 target_id=conversation.id, to_staff_id=target.id)
    await session.commit()
    await ctx.live.publish("queue", action="transfer", conversation_id=conversation.id, to_staff_id=target.id)
    await ctx.live.publish("conversation", action="transfer", conversation_id=conversation.id)
    return conversation


async def answer_transfer(session: AsyncSession, *, ctx: AppContext, conversation: Conversation, staff: StaffUser,
                          accept: bool) -> Conversation:
    """The colleague accepts (becomes the owner) or declines (the first agent keeps it). Commits."""
    if conversation.status != ConversationStatus.active or not owns(conversation.transfer_to_id, staff):
        raise HandoffError("This conversation is not offered to you (any more).")
    now = ctx.clock.now()
    previous = conversation.owner_id
    res = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.transfer_to_id == staff.id,
               Conversation.status == ConversationStatus.active)
        .values(owner_id=staff.id if accept else Conversation.owner_id, transfer_to_id=None)
    )
    if res.rowcount != 1:
        await session.rollback()
        raise HandoffError("This conversation is not offered to you (any more).")
    await session.refresh(conversation)
    session.add(ConversationMessage(conversation_id=conversation.id, direction=MessageDirection.system,
                                    staff_id=staff.id, content_type="text",
                                    text="transfer_accepted" if accept else "transfer_declined", created_at=now,
                                    guard_override=False))
    if accept:
        text = ctx.translator.gettext(
            conversation.language, N_("{name} from customer service is taking over your conversation.")
        ).format(name=html.escape(staff.display_name))
        outbox.enqueue(session, resident_id=conversation.resident_id, kind="chat.joined", now=now,
                       priority=OUTBOX_PRIORITY,
                       payload=outbox.message_payload(text, buttons=_end_button(ctx, conversation.language,
                                                                                conversation.id)))
    audit.record(session, at=now, staff_id=staff.id,
                 action="chat.transfer_accept" if accept else "chat.transfer_decline",
                 target_type="conversation", target_id=conversation.id, from_staff_id=previous)
    await session.commit()
    await ctx.live.publish("queue", action="transfer_answered", conversation_id=conversation.id)
    await ctx.live.publish("conversation", action="transfer_answered", conversation_id=conversation.id,
                           owner_id=conversation.owner_id)
    return conversation


async def cancel_transfer(session: AsyncSession, *, ctx: AppContext, conversation: Conversation,
                          staff: StaffUser) -> Conversation:
    _require_owner(conversation, staff)
    if conversation.transfer_to_id is None:
        return conversation
    now = ctx.clock.now()
    conversation.transfer_to_id = None
    session.add(ConversationMessage(conversation_id=conversation.id, direction=MessageDirection.system,
                                    staff_id=staff.id, content_type="text", text="transfer_cancelled",
                                    created_at=now, guard_override=False))
    audit.record(session, at=now, staff_id=staff.id, action="chat.transfer_cancel", target_type="conversation",
                 target_id=conversation.id)
    await session.commit()
    await ctx.live.publish("queue", action="transfer_answered", conversation_id=conversation.id)
    await ctx.live.publish("conversation", action="transfer_answered", conversation_id=conversation.id)
    return conversation


async def close(session: AsyncSession, *, ctx: AppContext, conversation: Conversation,
                staff: StaffUser) -> Conversation:
    """The owner closes the chat: the resident is told and gets the R4 survey. Commits."""
    _require_owner(conversation, staff)
    await _close(session, ctx=ctx, conversation=conversation, staff=staff, notify=True)
    await _send_survey(session, ctx=ctx, conversation=conversation)
    await session.commit()
    await _publish_closed(ctx, conversation)
    return conversation


async def _close(session: AsyncSession, *, ctx: AppContext, conversation: Conversation, staff: StaffUser | None,
                 notify: bool) -> None:
    now = ctx.clock.now()
    conversation.status = ConversationStatus.closed
    conversation.closed_at = now
    conversation.transfer_to_id = None
    session.add(ConversationMessage(conversation_id=conversation.id, direction=MessageDirection.system,
                                    staff_id=staff.id if staff else None, content_type="text",
                                    text="closed_by_staff" if staff else "closed_by_resident", created_at=now,
                                    guard_override=False))
    if notify:
        text = ctx.translator.gettext(
            conversation.language,
            N_("Our colleague has closed this conversation. Thank you for contacting us! "
               "You can talk to a person again from the menu at any time."))
        outbox.enqueue(session, resident_id=conversation.resident_id, kind="chat.closed", now=now,
                       priority=OUTBOX_PRIORITY, payload=outbox.message_payload(text))
    if staff is not None:
        audit.record(session, at=now, staff_id=staff.id, action="chat.close", target_type="conversation",
                     target_id=conversation.id)


async def _publish_closed(ctx: AppContext, conversation: Conversation) -> None:
    await ctx.live.publish("queue", action="closed", conversation_id=conversation.id)
    await ctx.live.publish("conversation", action="closed", conversation_id=conversation.id,
                           owner_id=conversation.owner_id)


# -- R4 survey after a chat (answers are handled by core.surveys and bot/routers/survey.py) -----------------------

async def _send_survey(session: AsyncSession, *, ctx: AppContext, conversation: Conversation) -> None:
    """R4: the resident rates attitude and ability from 1 to 10 (never pressured); a low score reaches a
    supervisor through core.surveys like any other survey."""
    from core import surveys

    now = ctx.clock.now()
    survey = Survey(resident_id=conversation.resident_id, conversation_id=conversation.id,
                    staff_id=conversation.owner_id, category=SURVEY_CATEGORY, sent_at=now)
    session.add(survey)
    await session.flush()
    lang = conversation.language
    text = (ctx.translator.gettext(lang, N_("Could you spare a moment to rate this conversation? It is optional."))
            + "\n\n" + ctx.translator.gettext(lang, N_("How would you rate our colleague's <b>service attitude</b>? "
                                                       "1 = very poor, 10 = excellent.")))
    outbox.enqueue(session, resident_id=conversation.resident_id, kind="survey", now=now,
                   payload=outbox.message_payload(text, buttons=surveys.rating_buttons(survey.id,
                                                                                       surveys.Question.attitude)),
                   dedupe_key=f"survey:{survey.id}")


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
    from core import accounts  # the accounts feature (issue: accounts engineer)

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
