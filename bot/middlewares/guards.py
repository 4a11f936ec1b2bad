"""Every update gets its answer (issue 13): guards that run before any feature sees an update.

``PrivateChatOnlyMiddleware`` (first on the update observer, before the database is touched): the bot serves
residents in private chats only. A group, supergroup or channel is told so once and nothing else happens there;
a button tapped on a message in someone else's chat (or an inline message) is answered as stale and acts in no
chat. Payments pass: Telegram has already charged the payer.

``CallbackGuardMiddleware`` (outer middleware of the callback observer):
- a tap on a message Telegram reports as inaccessible (older than 48 h: ``InaccessibleMessage``, date 0, no
  content) reaches the handlers as a ``FreshMessage`` whose edits send a new message instead, so every router
  keeps working on it;
- every callback query is answered exactly once: the handler's own answer counts, a second one is dropped, and
  a handler that answered nothing (or raised) gets a plain answer, so no spinner is ever left turning.

It is on the path of every tap, so it copies nothing (issue 13, item 4): the query reaches the handlers as it
came (a copy is made only for the rare inaccessible message), and the answers are counted where they leave, by a
request middleware on the Bot session (``AnswerOnce``) that sees the ``answerCallbackQuery`` calls of the update
in hand through a context variable — whichever way a handler answers (``query.answer()`` or
``bot.answer_callback_query``).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import (
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
    Update,
    User,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.forms.buttons import stale_text
from core.i18n import normalize_locale

TOLD = "private_only_told"


async def _done(result: Any = True) -> Any:
    return result


class PrivateChatOnlyMiddleware(BaseMiddleware):
    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        query = event.callback_query
        if query is not None:
            # In a private chat the chat id is the user id; anything else is another chat's message.
            if query.message is None or query.message.chat.id != query.from_user.id:
                with self.i18n.context(), self.i18n.use_locale(normalize_locale(query.from_user.language_code)):
                    await query.answer(stale_text(), show_alert=True)
                return None
            return await handler(event, data)
        message = event.message or event.edited_message or event.channel_post or event.edited_channel_post
        chat = message.chat if message is not None else None
        if chat is None:
            member = event.my_chat_member or event.chat_member
            chat = member.chat if member is not None else None
        if chat is None or chat.type == "private" or (message is not None and message.successful_payment):
            return await handler(event, data)
        await self._tell_once(event, chat.id, data)
        return None

    async def _tell_once(self, event: Update, chat_id: int, data: dict[str, Any]) -> None:
        storage: BaseStorage | None = data.get("fsm_storage")
        bot = data.get("bot")
        if storage is None or bot is None:
            return
        key = StorageKey(bot_id=bot.id, chat_id=chat_id, user_id=chat_id)
        if (await storage.get_data(key)).get(TOLD):
            return
        await storage.set_data(key, {TOLD: True})  # the storage (Redis in production) is shared by processes
        user = data.get("event_from_user")
        with self.i18n.context(), self.i18n.use_locale(normalize_locale(user.language_code if user else None)):
            text = _("I only work in private chats. Please write to me directly.")
        await bot.send_message(chat_id, text)


class FreshMessage(Message):
    """Stands in for an ``InaccessibleMessage``: its content is gone and it can no longer be edited reliably,
    so an edit becomes a fresh message and taking the buttons off is a no-op."""

    def edit_text(self, text: str | None = None, *args: Any, reply_markup: InlineKeyboardMarkup | None = None,
                  **kwargs: Any) -> Any:
        if text is None:  # Message.edit_text takes no text for other kinds of content: nothing to resend
            return _done()
        return self.answer(text, reply_markup=reply_markup, parse_mode=kwargs.get("parse_mode"))

    def edit_caption(self, *args: Any, caption: str | None = None, reply_markup: InlineKeyboardMarkup | None = None,
                     **kwargs: Any) -> Any:
        return self.answer(caption or "…", reply_markup=reply_markup) if caption else _done()

    def edit_reply_markup(self, *args: Any, **kwargs: Any) -> Any:
        return _done()

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return _done()


def fresh_message(old: InaccessibleMessage, bot: Any) -> FreshMessage:
    me = User(id=bot.id, is_bot=True, first_name="Onestop") if bot is not None else None
    return FreshMessage(message_id=old.message_id, date=datetime.fromtimestamp(0).astimezone(),
                        chat=old.chat, from_user=me).as_(bot)


# query id -> answered yet, for the callback queries being handled in this context (None outside a tap)
_ANSWERS: ContextVar[dict[str, bool] | None] = ContextVar("onestop_answers", default=None)


class AnswerOnce(BaseRequestMiddleware):
    """Lets the first ``answerCallbackQuery`` of a guarded tap reach Telegram and drops any later one."""

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        if isinstance(method, AnswerCallbackQuery):
            answers = _ANSWERS.get()
            if answers is not None and method.callback_query_id in answers:
                if answers[method.callback_query_id]:
                    return True  # type: ignore[return-value]  # what Telegram answers; a second answer is dropped
                answers[method.callback_query_id] = True
        return await make_request(bot, method)


class CallbackGuardMiddleware(BaseMiddleware):
    def __init__(self) -> None:
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        answers = _ANSWERS.get()
        if answers is not None and event.id in answers:  # already guarded in this context
            return await handler(event, data)
        bot = event.bot or data.get("bot")
        if bot is not None and bot.session not in self._sessions:
            bot.session.middleware(AnswerOnce())
            self._sessions.add(bot.session)
        query = event
        if isinstance(event.message, InaccessibleMessage):  # rare: the only copy, to swap in a FreshMessage
            fields = {name: getattr(event, name) for name in type(event).model_fields}
            fields["message"] = fresh_message(event.message, event.bot)
            query = type(event).model_construct(_fields_set=event.model_fields_set, **fields).as_(event.bot)
        if answers is None:
            answers = {}
            token = _ANSWERS.set(answers)
        else:
            token = None
        answers[event.id] = False
        try:
            return await handler(query, data)
        finally:
            if token is not None:
                _ANSWERS.reset(token)
            if not answers.pop(event.id, True):
                await query.answer()
