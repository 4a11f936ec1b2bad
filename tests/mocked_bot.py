"""A Bot whose session records every request and answers like Telegram would (aiogram's own test pattern).

Results can be queued with ``add_result_for``; otherwise sensible defaults are produced: a Message for
send*/edit* methods, ``True`` for the rest.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import UNSET_PARSE_MODE, Chat, Message, ResponseParameters, User

BOT_ID = 1000000001


class MockedSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self.responses: deque[Response[Any]] = deque()
        self._ids = itertools.count(1000)

    def add_result(self, response: Response[Any]) -> None:
        self.responses.append(response)

    async def close(self) -> None:
        pass

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = UNSET_PARSE_MODE
    ):
        self.requests.append(method)
        if self.responses:
            response = self.responses.popleft()
            self.check_response(bot, method, status_code=response.error_code or 200,
                                content=response.model_dump_json())
            return response.result
        return self._default(method)

    def _default(self, method: TelegramMethod[Any]) -> Any:
        name = type(method).__name__
        chat_id = getattr(method, "chat_id", None)
        if (name.startswith("Send") and name not in ("SendChatAction",)) or name in ("EditMessageText", "CopyMessage"):
            text = getattr(method, "text", None) or getattr(method, "caption", None)
            msg_id = getattr(method, "message_id", None) if name.startswith("Edit") else next(self._ids)
            return Message(
                message_id=msg_id or next(self._ids), date=datetime.now(UTC),
                chat=Chat(id=int(chat_id or 0), type="private"),
                from_user=User(id=BOT_ID, is_bot=True, first_name="Onestop"), text=text,
            )
        if name == "GetMe":
            return User(id=BOT_ID, is_bot=True, first_name="Onestop", username="onestop_test_bot")
        return True

    async def stream_content(
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
                             chunk_size: int = 65536, raise_for_status: bool = True) -> AsyncGenerator[bytes, None]:
        yield b""


class MockedBot(Bot):
    session: MockedSession

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kwargs.pop("token", f"{BOT_ID}:TEST"), session=MockedSession(),
                         default=DefaultBotProperties(parse_mode=ParseMode.HTML), **kwargs)

    def add_result_for(self, method: type[TelegramMethod[TelegramType]], ok: bool, result: TelegramType = None,
                       description: str | None = None, error_code: int = 200,
                       parameters: ResponseParameters | None = None) -> None:
        self.session.add_result(Response[method.__returning__](  # type: ignore[name-defined]
            ok=ok, result=result, description=description, error_code=error_code, parameters=parameters))

    @property
    def requests(self) -> list[TelegramMethod[Any]]:
        return self.session.requests

    def sent(self, kind: str = "SendMessage") -> list[Any]:
        return [r for r in self.session.requests if type(r).__name__ == kind]

    def texts(self) -> list[str]:
        """Texts of every message sent or edited, in order."""
        out = []
        for r in self.session.requests:
            t = getattr(r, "text", None) or getattr(r, "caption", None)
            if isinstance(t, str):
                out.append(t)
        return out

    def clear(self) -> None:
        self.session.requests.clear()
