"""What the sandbox stores and the errors it answers with: Bot API errors, refusals of resident requests,
the long-poll notifier, chat/message/file records, and the Telegram objects built from them."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException

from api.sandbox.personas import Persona


class BotApiError(Exception):
    """An error answer of the Bot API, shaped exactly like Telegram's."""

    def __init__(self, error_code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


class SandboxError(HTTPException):
    """A resident-side request the sandbox refuses; FastAPI turns it into {"detail": ...}."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status_code=status, detail=detail)


class Notifier:
    """Wakes every waiter on any change; waiters re-check their own condition."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for fut in list(self._waiters):
            loop = fut.get_loop()
            if loop is running:
                _resolve(fut)
            elif not loop.is_closed():
                # Mutated from another thread (e.g. a test driving the state directly).
                loop.call_soon_threadsafe(_resolve, fut)
        self._waiters.clear()

    async def wait(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            await asyncio.wait_for(fut, seconds)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    data: bytes
    mime_type: str
    file_name: str
    file_path: str
    url: str | None = None  # a file the bot "sent" by HTTP URL: we never fetch it (no network)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class StoredMessage:
    message: dict[str, Any]  # the Telegram Message object, as the bot sees it
    outgoing: bool  # sent by the bot
    markup: dict[str, Any] | None = None  # reply_markup exactly as given (any keyboard type)
    raw_text: str | None = None  # text/caption before parse_mode was applied
    parse_mode: str | None = None
    deleted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # invoice terms, payment state...

    @property
    def message_id(self) -> int:
        return int(self.message["message_id"])


@dataclass
class ChatState:
    persona: Persona
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    reply_keyboard: dict[str, Any] | None = None
    force_reply: dict[str, Any] | None = None
    blocked: bool = False
    bot_entries: int = 0  # bot-sent bubbles, for unread counters on the page
    action: tuple[str, float] | None = None  # last sendChatAction and when


@dataclass
class InjectedError:
    remaining: int
    error: BotApiError
    methods: frozenset[str] | None  # lower-case method names; None = every method except getUpdates
    chat_id: int | None = None

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.methods is None:
            if method == "getupdates":
                return False
        elif method not in self.methods:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class ApiCall:
    at: float
    method: str
    chat_id: int | None
    status: int


def message_kind(msg: dict[str, Any]) -> str:
    if "successful_payment" in msg:
        return "payment"
    for key in (
        "invoice",
        "photo",
        "document",
        "voice",
        "audio",
        "video",
        "animation",
        "sticker",
        "location",
        "contact",
    ):
        if key in msg:
            return key
    return "text" if "text" in msg else "other"


def photo_size(record: FileRecord, size: tuple[int, int]) -> dict[str, Any]:
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "width": size[0],
        "height": size[1],
        "file_size": record.size,
    }


def document_object(record: FileRecord) -> dict[str, Any]:
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_name": record.file_name,
        "mime_type": record.mime_type,
        "file_size": record.size,
    }


def decode_base64(value: str) -> bytes:
    """Accept plain base64 or a data: URL (what FileReader.readAsDataURL gives the page)."""
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=False)
    except ValueError as e:
        raise SandboxError(400, "invalid base64 data") from e
