"""Guided (simple) mode for elderly residents: every task by tapping big buttons (issue 8).

The router comes first in the Dispatcher and takes every message of a resident in simple mode,
except what belongs to someone else: a chat with an agent (text that is not a button goes to the
agent), voice notes (the handoff router queues them with priority) and payments. Inline buttons sent
by other features (an invoice, a survey's ratings) keep working, as callbacks never come here.
The feature screens live in the modules imported below; each registers its pages with ``@page`` on the
engine (bot/guided/engine.py), which is below the routers: the start and settings routers enter simple mode
through bot/navigation.py without importing this package.
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.guided.engine import PAGES, G, Guided, Page, step
from bot.guided.ui import resolve

# Each feature module registers its pages on import.
from bot.routers.guided import account, complaint, family, fault, guides, home, outages, requests, visit  # noqa: F401
from core import handoff
from core.context import AppContext
from db.models import Resident

router = Router(name=__name__)

COMMANDS = ("/start", "/menu", "/cancel", "/help")


async def in_guided_mode(message: Message, resident: Resident, state: FSMContext,
                         session: AsyncSession) -> bool | dict[str, Any]:
    if not resident.guided_mode or message.voice or message.video_note or message.successful_payment:
        return False
    stored = await state.get_data() if await state.get_state() == Guided.active.state else {}
    text = message.text or ""
    if text.startswith("/"):
        return {"stored": stored} if text.split()[0].split("@")[0] in COMMANDS else False
    if (message.contact and stored.get("g_contact")) or (message.location and stored.get("g_location")):
        return {"stored": stored}
    if text and resolve(stored.get("g_keys") or {}, text) is not None:
        return {"stored": stored}
    top = PAGES.get(((stored.get("g_stack") or [{}])[-1]).get("id"))
    if text and top is not None and type(top).text is not Page.text:
        return {"stored": stored}  # a screen that takes a typed answer: the form comes before the chat (issue 13)
    if await handoff.conversation_for_update(session, resident.id) is not None:
        return False  # the resident is talking to a person: this goes to the agent
    return {"stored": stored}


@router.message(in_guided_mode)
async def on_message(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                     ctx: AppContext, i18n: I18n, stored: dict[str, Any]) -> None:
    g = G(message=message, state=state, session=session, resident=resident, ctx=ctx, i18n=i18n, stored=stored)
    text = message.text or ""
    try:
        if text.startswith("/"):
            if text.startswith("/cancel") and len(g.stack) > 1:
                await g.say(_("Cancelled. Nothing was sent."))
            g.data.clear()
            g.home()
            await g.show()
        elif not (text or message.contact or message.location):
            await g.say(_("Thank you. I can only read text and buttons here. Please tap a big button below."))
            await g.show()
        else:
            await step(g, home.not_understood)
    except home.LeftGuidedMode:
        pass
