"""Form steps: a free-text description that may come as a photo with a caption, then up to five photos.

Words sent while photos are expected are added to the description rather than ignored. Every text is read by
the emergency detector first (bot.forms.safety).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.base import Then, Turn
from bot.forms.buttons import ack, message_of
from bot.forms.safety import warn_if_emergency
from bot.keyboards.requests import Form, FormNav, Nav, nav_keyboard
from core.context import AppContext
from core.tickets import MAX_ATTACHMENTS, MAX_DESCRIPTION
from db.models import Resident


def too_long(length: int) -> str:
    return _("That is {length} characters; please keep it under {limit}. A few sentences are enough: what you "
             "see, where, and since when.").format(length=length, limit=MAX_DESCRIPTION)


def photos_added(count: int) -> str:
    return _("📷 Photo received ({count} of {limit}). Send another, or tap Done.").format(
        count=count, limit=MAX_ATTACHMENTS)


def photo_id(message: Message) -> str | None:
    """The file of a photo, or of a document that is an image; None for anything else."""
    if message.photo:
        return message.photo[-1].file_id
    doc = message.document
    if doc is not None and (doc.mime_type or "").startswith("image/"):
        return doc.file_id
    return None


class PhotosStep:
    """Up to MAX_ATTACHMENTS photos in ``state`` (Skip / Done go on to ``then``); words are added to ``field``
    and answered with ``added()``."""

    def __init__(self, state: State, *, form: Form, field: str, ask: Callable[[], str], added: Callable[[], str],
                 then: Then) -> None:
        self.state, self.form, self.field, self.ask_text, self.added, self.then = state, form, field, ask, added, then

    async def ask(self, turn: Turn) -> None:
        await turn.state.set_state(self.state)
        await turn.message.answer(self.ask_text(), reply_markup=nav_keyboard(self.form, skip=True))

    async def first(self, turn: Turn, file_id: str, words: str) -> None:
        """A photo came with the description: keep both and wait for more photos."""
        await turn.state.update_data({self.field: words, "photos": [file_id]})
        await turn.state.set_state(self.state)
        await turn.message.answer(photos_added(1), reply_markup=nav_keyboard(self.form, done=True))

    def register(self, router: Router) -> None:
        router.message.register(self._photo, self.state, F.photo | F.document)
        router.message.register(self._words, self.state, F.text)
        router.message.register(self._other, self.state)
        router.callback_query.register(self._done, self.state,
                                       FormNav.filter((F.form == self.form) & F.nav.in_({Nav.skip, Nav.done})))

    async def _photo(self, message: Message, state: FSMContext) -> None:
        file_id = photo_id(message)
        if file_id is None:
            await message.answer(_("Please send a photo (not a file of another kind), or tap Done."))
            return
        photos = list((await state.get_data()).get("photos", []))
        if len(photos) >= MAX_ATTACHMENTS:
            await message.answer(_("That is the maximum of {limit} photos. Tap Done to continue.").format(
                limit=MAX_ATTACHMENTS), reply_markup=nav_keyboard(self.form, done=True))
            return
        photos.append(file_id)
        await state.update_data(photos=photos)
        await message.answer(photos_added(len(photos)), reply_markup=nav_keyboard(self.form, done=True))

    async def _words(self, message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                     resident: Resident) -> None:
        words = message.text or ""  # registered with F.text: never empty here
        await warn_if_emergency(Turn(message, state, session, ctx, resident), words)
        data = await state.get_data()
        text = "\n".join(p for p in (data.get(self.field, ""), words.strip()) if p)
        if len(text) > MAX_DESCRIPTION:
            await message.answer(too_long(len(text)))
            return
        await state.update_data({self.field: text})
        await message.answer(self.added(), reply_markup=nav_keyboard(self.form, done=True))

    async def _other(self, message: Message) -> None:
        await message.answer(_("Please send a photo, or tap Done."), reply_markup=nav_keyboard(self.form, done=True))

    async def _done(self, query: CallbackQuery, state: FSMContext, session: AsyncSession, ctx: AppContext,
                    resident: Resident) -> None:
        await ack(query)
        await self.then(Turn(message_of(query), state, session, ctx, resident))


@dataclass(frozen=True)
class DescribeTexts:
    not_photo: Callable[[], str]  # a file that is not an image
    other: Callable[[], str]  # anything but text or a photo
    too_short: Callable[[], str] | None = None  # with DescribeStep.min_chars
    photo_needs_words: Callable[[], str] | None = None  # a photo whose caption is too short


class DescribeStep:
    """The description in ``state``, stored in ``field``: text (at least ``min_chars``) goes on to ``then``; a
    photo with a caption counts as both description and first photo (``photos``); ``skip`` offers Skip."""

    def __init__(self, state: State, *, field: str, photos: PhotosStep, then: Then, texts: DescribeTexts,
                 min_chars: int = 0, skip: Then | None = None) -> None:
        self.state, self.field, self.photos, self.then, self.texts = state, field, photos, then, texts
        self.min_chars, self.skip = min_chars, skip

    def register(self, router: Router) -> None:
        router.message.register(self._text, self.state, F.text)
        router.message.register(self._photo, self.state, F.photo | F.document)
        router.message.register(self._other, self.state)
        if self.skip is not None:
            router.callback_query.register(self._skipped, self.state,
                                           FormNav.filter((F.form == self.photos.form) & (F.nav == Nav.skip)))

    async def _text(self, message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                    resident: Resident) -> None:
        turn = Turn(message, state, session, ctx, resident)
        words = message.text or ""  # registered with F.text: never empty here
        await warn_if_emergency(turn, words)
        text = words.strip()
        if len(text) > MAX_DESCRIPTION:
            await message.answer(too_long(len(text)))
            return
        if len(text) < self.min_chars and self.texts.too_short is not None:
            await message.answer(self.texts.too_short())
            return
        await state.update_data({self.field: text})
        await self.then(turn)

    async def _photo(self, message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                     resident: Resident) -> None:
        turn = Turn(message, state, session, ctx, resident)
        file_id = photo_id(message)
        if file_id is None:
            await message.answer(self.texts.not_photo())
            return
        await warn_if_emergency(turn, message.caption)
        caption = (message.caption or "").strip()
        if len(caption) > MAX_DESCRIPTION:  # Telegram's own caption limit is lower; kept for forged updates
            await message.answer(too_long(len(caption)))
            return
        if len(caption) < self.min_chars and self.texts.photo_needs_words is not None:
            await state.update_data({self.field: caption, "photos": [file_id]})
            await message.answer(self.texts.photo_needs_words())
            return
        await self.photos.first(turn, file_id, caption)

    async def _other(self, message: Message) -> None:
        await message.answer(self.texts.other())

    async def _skipped(self, query: CallbackQuery, state: FSMContext, session: AsyncSession, ctx: AppContext,
                       resident: Resident) -> None:
        assert self.skip is not None  # registered only with skip
        await ack(query)
        await self.skip(Turn(message_of(query), state, session, ctx, resident))
