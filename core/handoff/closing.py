"""Ending a chat, by the owner or the resident, and the R4 survey that follows it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, outbox, surveys
from core.context import AppContext
from core.handoff.base import N_, OUTBOX_PRIORITY, SURVEY_CATEGORY, require_owner
from db.enums import ConversationStatus, MessageDirection
from db.models import Conversation, ConversationMessage, StaffUser, Survey


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


async def close(session: AsyncSession, *, ctx: AppContext, conversation: Conversation,
                staff: StaffUser) -> Conversation:
    """The owner closes the chat: the resident is told and gets the R4 survey. Commits."""
    require_owner(conversation, staff)
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
