"""An unknown command is never a form's answer (issue 13).

Forms take free text at most steps, so ``/deleteaccount`` typed in the middle of the fault form used to become
"the address". While a resident is in a form, a command the bot does not know gets a polite "unknown command"
and the step's question is asked again; the form's data is untouched. Known commands (``KNOWN_COMMANDS``, checked
against every ``Command`` filter of the Dispatcher by a test) keep working mid-form as before.

To ask the step again without each form registering its prompts, the last message the bot sent while the
resident stayed in the form is kept in the form's FSM data (``PROMPT``). It is recorded by a request middleware
on the Bot session that only sees the sends of the update in hand (a context variable), and lives in the FSM
storage, so it is shared by processes like the form itself.
"""

from __future__ import annotations

import html
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.fsm.context import FSMContext
from aiogram.methods import EditMessageText, SendMessage, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, TelegramObject, Update
from aiogram.utils.i18n import gettext as _

from bot.guided.engine import Guided

KNOWN_COMMANDS = frozenset({"start", "menu", "cancel", "help", "tariff"})
PROMPT = "form_prompt"

_SENT: ContextVar[list[dict[str, Any]] | None] = ContextVar("onestop_sent", default=None)


def command_of(text: str | None) -> str | None:
    """``/help@onestop_bot now`` -> ``help``; None if the text is not a command."""
    if not text or not text.startswith("/") or len(text) < 2:
        return None
    return text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower()


def in_form(raw_state: str | None) -> bool:
    # Simple mode keeps its own screen stack under one state and reads commands itself.
    return raw_state is not None and raw_state != Guided.active.state


class PromptRecorder(BaseRequestMiddleware):
    """Remembers the texts the bot sends while an update is handled (nothing outside an update)."""

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        sent = _SENT.get()
        if sent is not None and isinstance(method, SendMessage | EditMessageText) and method.text:
            markup = method.reply_markup
            kind = ("inline" if isinstance(markup, InlineKeyboardMarkup)
                    else "reply" if isinstance(markup, ReplyKeyboardMarkup) else None)
            kept = markup if isinstance(markup, InlineKeyboardMarkup | ReplyKeyboardMarkup) else None
            sent.append({"text": method.text, "kind": kind,
                         "markup": kept.model_dump_json(exclude_none=True) if kept is not None else None})
        return await make_request(bot, method)


def _markup(prompt: dict[str, Any]) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if prompt.get("kind") == "inline":
        return InlineKeyboardMarkup.model_validate_json(prompt["markup"])
    if prompt.get("kind") == "reply":
        return ReplyKeyboardMarkup.model_validate_json(prompt["markup"])
    return None


class UnknownCommandMiddleware(BaseMiddleware):
    def __init__(self) -> None:
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        state: FSMContext | None = data.get("state")
        if state is None:
            return await handler(event, data)
        inner = event.event if isinstance(event, Update) else event
        message = inner if isinstance(inner, Message) else None
        command = command_of(message.text) if message is not None else None
        if message is not None and command is not None and command not in KNOWN_COMMANDS \
                and in_form(data.get("raw_state")):
            await message.answer(_("Sorry, I do not know the command {command}. Please answer the question above, "
                                 "or send /cancel to stop.").format(command=html.escape("/" + command[:32])))
            prompt = (await state.get_data()).get(PROMPT)
            if prompt:
                await message.answer(prompt["text"], reply_markup=_markup(prompt))
            return None
        self._record_on(data.get("bot"))
        sent: list[dict[str, Any]] = []
        token = _SENT.set(sent)
        try:
            result = await handler(event, data)
        finally:
            _SENT.reset(token)
        if sent and in_form(await state.get_state()):  # the form's last question, whichever step sent it
            await state.update_data({PROMPT: sent[-1]})
        return result

    def _record_on(self, bot: Bot | None) -> None:
        if bot is not None and bot.session not in self._sessions:
            bot.session.middleware(PromptRecorder())
            self._sessions.add(bot.session)
