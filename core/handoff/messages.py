"""Messages both ways: the resident's relayed to the console, the agent's (text or file) through the
outbox after the R14 guard, and internal notes. Live events carry ids only.
"""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, language_guard, outbox
from core.context import AppContext
from core.handoff.base import CHUNK, MAX_TEXT, OUTBOX_PRIORITY, GuardWarning, HandoffError, require_owner
from core.staff import owns
from db.enums import ROLE_RANK, ConversationStatus, MessageDirection, StaffRole
from db.models import Conversation, ConversationMessage, StaffUser


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


async def messages_after(session: AsyncSession, conversation_id: int, after_id: int) -> list[ConversationMessage]:
    return list((await session.execute(
        select(ConversationMessage).where(ConversationMessage.conversation_id == conversation_id,
                                          ConversationMessage.id > after_id)
        .order_by(ConversationMessage.id)
    )).scalars())


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
    require_owner(conversation, staff)
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
    require_owner(conversation, staff)
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
