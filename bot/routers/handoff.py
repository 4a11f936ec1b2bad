"""Talk to a person: join the queue, relay messages to the agent, end the chat.

Included right after settings so that a resident in a conversation talks to the agent, not to the
features. Main-menu buttons and commands still work during a chat (a resident may check a balance
while waiting); everything else they send is passed to the agent. Joining the queue (``start_handoff``)
is in bot/views/handoff.py, as other features start it too.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import HandoffAction, HandoffCallback
from bot.forms.buttons import message_of, stale
from bot.keyboards.menu import MENU_HUMAN, is_menu_text
from bot.middlewares.commands import in_form
from bot.navigation import menu_entry, show_menu
from bot.views.handoff import end_keyboard, queued_text, start_handoff
from core import handoff
from core.context import AppContext
from db.enums import ConversationStatus
from db.models import Conversation, Resident

router = Router(name=__name__)


@router.message(F.text == MENU_HUMAN)
@menu_entry(MENU_HUMAN)
async def on_talk_to_person(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                            resident: Resident) -> None:
    await state.clear()
    await start_handoff(message, session=session, ctx=ctx, resident=resident)


# -- relay while a conversation is open ------------------------------------------------------------------------

async def in_conversation(message: Message, session: AsyncSession, resident: Resident,
                          raw_state: str | None = None) -> bool | dict[str, Any]:
    """Messages of a resident with an open conversation, except menu buttons, commands and form answers.

    Precedence (issue 13): payments (their own router, first), then the form the resident is in, then the
    chat. A resident who opened a form during a chat finishes it; the form's routers come after this one, so
    this filter lets them have the message. Simple mode's screens are not a form here (its router decides).
    """
    if message.text and (message.text.startswith("/") or is_menu_text(message.text)):
        return False
    if in_form(raw_state):
        return False
    conv = await handoff.conversation_for_update(session, resident.id)
    return {"conversation": conv} if conv is not None else False


@router.message(in_conversation, F.text)
async def relay_text(message: Message, session: AsyncSession, ctx: AppContext, conversation: Conversation) -> None:
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conversation, content_type="text",
                                      text=message.text)
    await _ack_if_waiting(message, session, conversation)


@router.message(in_conversation, F.photo)
async def relay_photo(message: Message, session: AsyncSession, ctx: AppContext, conversation: Conversation) -> None:
    assert message.photo  # registered with F.photo
    best = message.photo[-1]
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conversation, content_type="photo",
                                      text=message.caption, file_id=best.file_id)
    await _ack_if_waiting(message, session, conversation)


@router.message(in_conversation, F.document)
async def relay_document(message: Message, session: AsyncSession, ctx: AppContext,
                         conversation: Conversation) -> None:
    doc = message.document
    assert doc is not None  # registered with F.document
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conversation, content_type="document",
                                      text=message.caption, file_id=doc.file_id, file_name=doc.file_name)
    await _ack_if_waiting(message, session, conversation)


@router.message(in_conversation, F.voice)
async def relay_voice(message: Message, session: AsyncSession, ctx: AppContext, conversation: Conversation) -> None:
    assert message.voice is not None  # registered with F.voice
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conversation, content_type="voice",
                                      file_id=message.voice.file_id)
    await _ack_if_waiting(message, session, conversation)


@router.message(in_conversation)
async def relay_unsupported(message: Message) -> None:
    await message.answer(_("Sorry, this kind of message cannot be passed on. "
                           "Please send text, a photo or a document."))


async def _ack_if_waiting(message: Message, session: AsyncSession, conv: Conversation) -> None:
    # While nobody has the chat yet, confirm the first message so the resident knows it is not lost;
    # after that, and once an agent is talking, silence is normal chat behaviour.
    if conv.status == ConversationStatus.queued and await handoff.count_inbound(session, conv.id) == 1:
        await message.answer(
            _("Saved. The colleague who takes your chat will see this message "
              "(you are number {position} in the queue).").format(
                position=await handoff.queue_position(session, conv)),
            reply_markup=end_keyboard(conv.id))


# -- a voice note outside a chat: the bot cannot listen, a person can --------------------------------------------

@router.message(F.voice)
async def on_voice(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                   resident: Resident) -> None:
    assert message.voice is not None  # registered with F.voice
    await state.clear()
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason=handoff.Reason.voice,
                                         priority=handoff.PRIORITY_VOICE)
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conv, content_type="voice",
                                      file_id=message.voice.file_id)
    text = _("I cannot listen to voice messages myself, so I have passed yours to a colleague, "
             "who will listen to it and answer here.")
    if conv.context.get("off_hours"):
        text += "\n\n" + queued_text(conv, 0, resident.language)
    await message.answer(text, reply_markup=end_keyboard(conv.id))


# -- the resident ends the chat (the R4 survey is answered in bot/routers/survey.py) ------------------------

@router.callback_query(HandoffCallback.filter(F.action == HandoffAction.end))
async def on_end(query: CallbackQuery, callback_data: HandoffCallback, session: AsyncSession, ctx: AppContext,
                 resident: Resident) -> None:
    conv = await session.get(Conversation, callback_data.conv)
    if conv is None or conv.resident_id != resident.id:  # forged or someone else's
        await stale(query)
        return
    ended = await handoff.end_by_resident(session, ctx=ctx, conversation=conv)
    await query.answer()
    message = message_of(query)
    await message.edit_reply_markup(reply_markup=None)
    if ended:
        await show_menu(message, resident, _("The chat has ended. Thank you for contacting us!"))
    else:
        await show_menu(message, resident, _("This chat has already ended."))
