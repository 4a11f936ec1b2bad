"""In-memory world of the sandbox: personas, their private chats with the bot, the update queue, files.

Everything lives in one `SandboxState` object that the app factory creates and puts at
`app.state.sandbox`. All mutation happens on the event loop; long polls (getUpdates, the
chat page, a payment waiting for answerPreCheckoutQuery) wait on `Notifier`.

The class is assembled from one layer per concern, each building on the one before:
`world` (construction, reset, waiting, bot identity) → `updates` (update queue, injected errors,
call log) → `chats` (personas, files, messages, the page's log) → `resident` (what a persona does).
The records and errors they share are in `records`.
"""

from __future__ import annotations

from api.sandbox.records import (
    ApiCall,
    BotApiError,
    ChatState,
    FileRecord,
    InjectedError,
    SandboxError,
    StoredMessage,
    bad_request,
    decode_base64,
    document_object,
    message_kind,
    photo_size,
)
from api.sandbox.resident import ResidentActions
from api.sandbox.world import BOT_FIRST_NAME, BOT_USERNAME

__all__ = [
    "BOT_FIRST_NAME",
    "BOT_USERNAME",
    "ApiCall",
    "BotApiError",
    "ChatState",
    "FileRecord",
    "InjectedError",
    "SandboxError",
    "SandboxState",
    "StoredMessage",
    "bad_request",
    "decode_base64",
    "document_object",
    "message_kind",
    "photo_size",
]


class SandboxState(ResidentActions):
    """The whole offline Telegram: personas, chats, updates, files, bot settings."""
