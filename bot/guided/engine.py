"""The guided-mode engine: a stack of screens kept in the FSM, so Back never loses what was entered.

Each feature registers ``Page`` subclasses (``@page``). A page renders a ``Screen`` from the current
state and reacts to the key of the button pressed. Navigation is explicit and small:
``g.go(id)`` pushes a screen, ``g.back()`` pops one, ``g.home()`` starts over, ``g.done(id)`` shows a
final screen that Back cannot return through (a submitted form is never submitted twice by Back).
Everything entered lives in ``g.data`` (JSON only) until the flow ends, so going back and forth
keeps the answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.guided.ids import HOME_ID
from bot.guided.ui import MAX_TEXT, Screen, render, resolve
from core.context import AppContext
from db.models import Resident
from knowledge.models import Lang

log = logging.getLogger(__name__)

PAGES: dict[str, Page] = {}


class Guided(StatesGroup):
    active = State()


class Page:
    """One screen of guided mode. Subclasses set ``id`` and implement ``render`` and ``choose``."""

    id: ClassVar[str]

    async def render(self, g: G) -> Screen:
        raise NotImplementedError

    async def choose(self, g: G, key: str) -> None:
        """React to a button of this screen; navigate with ``g.go/back/home/done`` (or stay)."""
        raise NotImplementedError

    async def contact(self, g: G, key: str, phone: str, own: bool) -> None:
        """The resident pressed a share-contact button; ``own`` is False for somebody else's card."""
        await self.choose(g, key)

    async def location(self, g: G, key: str, latitude: float, longitude: float) -> None:
        await self.choose(g, key)

    async def text(self, g: G, text: str) -> bool:
        """Typed text that is no button: True if this page takes it (an optional typed answer), else the
        resident was not understood."""
        return False


def page(cls: type[Page]) -> type[Page]:
    """Class decorator: register a page under its ``id``."""
    if cls.id in PAGES:
        raise ValueError(f"guided page {cls.id!r} registered twice")
    PAGES[cls.id] = cls()
    return cls


class G:
    """Everything a page needs for one update."""

    def __init__(self, *, message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                 ctx: AppContext, i18n: I18n, stored: dict[str, Any]) -> None:
        self.message = message
        self.state = state
        self.session = session
        self.resident = resident
        self.ctx = ctx
        self.i18n = i18n
        self.stack: list[dict[str, Any]] = stored.get("g_stack") or [{"id": HOME_ID}]
        self.data: dict[str, Any] = stored.get("g_data") or {}
        self.keys: dict[str, str] = stored.get("g_keys") or {}
        self.contact_key: str | None = stored.get("g_contact")
        self.location_key: str | None = stored.get("g_location")

    # -- facts -------------------------------------------------------------------------------------
    @property
    def locale(self) -> str:
        return self.i18n.current_locale

    @property
    def lang(self) -> Lang:
        """Content language of knowledge topics: "zh" or "en"."""
        return "en" if self.locale == "en" else "zh"

    @property
    def top(self) -> dict[str, Any]:
        return self.stack[-1]

    @property
    def user_id(self) -> int:
        """The resident's Telegram user id: ResidentMiddleware stores a resident under the id of the update's user
        (``self.message`` may be the bot's own message, under a tapped button)."""
        return self.resident.id

    # -- navigation ---------------------------------------------------------------------------------
    def go(self, page_id: str) -> None:
        self.stack.append({"id": page_id})

    def back(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()

    def home(self) -> None:
        self.stack = [{"id": HOME_ID}]

    def done(self, page_id: str) -> None:
        """Show a final screen; Back from it goes home, never into the finished form."""
        self.stack = [{"id": HOME_ID}, {"id": page_id}]

    def replace(self, page_id: str) -> None:
        self.stack[-1] = {"id": page_id}

    def forget(self, *keys: str) -> None:
        for key in keys:
            self.data.pop(key, None)

    # -- output -------------------------------------------------------------------------------------
    async def say(self, text: str, **kwargs: Any) -> Message:
        """A short message before the screen (a confirmation, a numbered step, safety advice)."""
        if len(text) > MAX_TEXT:
            log.warning("guided message of %d characters (limit %d)", len(text), MAX_TEXT)
        return await self.message.answer(text, **kwargs)

    async def show(self) -> None:
        """Render the screen on top of the stack and remember what its buttons mean."""
        current = PAGES.get(self.top["id"])
        if current is None:  # a page removed by an upgrade while a resident was on it
            log.warning("unknown guided page %r; going home", self.top["id"])
            self.home()
            current = PAGES[HOME_ID]
        screen = await current.render(self)
        shown = render(screen, self.top.get("page", 0))
        if len(screen.text) > MAX_TEXT:
            log.warning("guided screen %s has %d characters (limit %d)", current.id, len(screen.text), MAX_TEXT)
        await self.message.answer(screen.text, reply_markup=shown.markup)
        self.keys, self.contact_key, self.location_key = shown.keys, shown.contact_key, shown.location_key
        await self.save()

    async def save(self) -> None:
        await self.state.set_state(Guided.active)
        await self.state.set_data({"g_stack": self.stack, "g_data": self.data, "g_keys": self.keys,
                                   "g_contact": self.contact_key, "g_location": self.location_key})


async def step(g: G, not_understood: Callable[[G, str], Awaitable[None]]) -> None:
    """Apply one message from the resident to the current screen, then show the next screen."""
    message = g.message
    current = PAGES.get(g.top["id"]) or PAGES[HOME_ID]
    if message.contact is not None and g.contact_key:
        own = message.contact.user_id == g.user_id
        await current.contact(g, g.contact_key, message.contact.phone_number, own)
    elif message.location is not None and g.location_key:
        await current.location(g, g.location_key, message.location.latitude, message.location.longitude)
    else:
        key = resolve(g.keys, message.text or "")
        if key == "@back":
            g.back()
        elif key == "@home":
            g.home()
        elif key == "@more":
            g.top["page"] = g.top.get("page", 0) + 1
        elif key is not None:
            await current.choose(g, key)
        elif not (message.text and await current.text(g, message.text)):
            await not_understood(g, message.text or "")
    await g.show()
