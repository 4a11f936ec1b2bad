"""Handing a chat to a colleague (offer, accept or decline, cancel) and the staff lists behind it."""

from __future__ import annotations

import html

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, outbox, resident_cache
from core.context import AppContext
from core.handoff.base import N_, OUTBOX_PRIORITY, HandoffError, end_button, require_owner
from core.staff import owns
from db.enums import ConversationStatus, MessageDirection
from db.models import Conversation, ConversationMessage, StaffUser
from db.session import rowcount


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
    require_owner(conversation, staff)
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
    if rowcount(res) != 1:
        await session.rollback()
        raise HandoffError("This conversation is not offered to you (any more).")
    await session.refresh(conversation)
    await resident_cache.bump(session, [conversation.resident_id])
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
                       payload=outbox.message_payload(text, buttons=end_button(ctx, conversation.language,
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
    require_owner(conversation, staff)
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
