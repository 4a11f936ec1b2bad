"""Validation every sending method shares: the target chat, text and entities, the reply, the stored message."""

from __future__ import annotations

from typing import Any

from api.sandbox.entities import EntityParseError, parse_html, strip_text, utf16_len
from api.sandbox.methods.keyboards import validate_markup
from api.sandbox.methods.params import Params
from api.sandbox.records import BotApiError, ChatState, StoredMessage, bad_request
from api.sandbox.state import SandboxState

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def resolve_chat(state: SandboxState, params: Params, name: str = "chat_id") -> ChatState:
    raw = params.values.get(name)
    if raw is None or raw == "":
        raise bad_request(f"{name} is empty")
    if isinstance(raw, str) and raw.startswith("@"):
        for chat in state.chats.values():
            if chat.persona.username and "@" + chat.persona.username.lower() == raw.lower():
                return chat
        raise bad_request("chat not found")
    chat_id = params.get_int(name)
    found = state.chats.get(chat_id) if chat_id is not None else None
    if found is None:
        raise bad_request("chat not found")
    return found


def writable_chat(state: SandboxState, params: Params) -> ChatState:
    chat = resolve_chat(state, params)
    if chat.blocked:
        raise BotApiError(403, "Forbidden: bot was blocked by the user")
    return chat


def format_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None, *, caption: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """Apply parse_mode (HTML is parsed into entities like Telegram; others are passed through)."""
    if parse_mode and parse_mode.upper() == "HTML":
        try:
            text, parsed = parse_html(text)
        except EntityParseError as e:
            raise bad_request(f"can't parse entities: {e}") from None
        entities = parsed
    elif entities is not None and not isinstance(entities, list):
        raise bad_request("can't parse entities JSON object")
    text, entities = strip_text(text, list(entities or []))
    limit = CAPTION_LIMIT if caption else TEXT_LIMIT
    if utf16_len(text) > limit:
        raise bad_request("message caption is too long" if caption else "message is too long")
    return text, entities


def resolve_reply(state: SandboxState, chat: ChatState, params: Params) -> StoredMessage | None:
    reply = params.get_json("reply_parameters")
    message_id: int | None
    allow_missing = params.get_bool("allow_sending_without_reply")
    if isinstance(reply, dict):
        message_id = int(reply["message_id"]) if reply.get("message_id") is not None else None
        allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
    else:
        message_id = params.get_int("reply_to_message_id")
    if message_id is None:
        return None
    stored = state.find_message(chat, message_id)
    if stored is None and not allow_missing:
        raise bad_request("message to be replied not found")
    return stored


def send_common(
    state: SandboxState,
    chat: ChatState,
    params: Params,
    content: dict[str, Any],
    *,
    raw_text: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    markup = validate_markup(params.get_json("reply_markup"))
    reply_to = resolve_reply(state, chat, params)
    stored = state.new_message(
        chat,
        outgoing=True,
        content=content,
        markup=markup,
        reply_to=reply_to,
        raw_text=raw_text,
        parse_mode=params.get_str("parse_mode"),
        extra=extra,
    )
    return stored.message


def caption_content(params: Params) -> dict[str, Any]:
    caption = params.get_str("caption")
    if not caption:
        return {}
    text, entities = format_text(
        caption, params.get_str("parse_mode"), params.get_json("caption_entities"), caption=True
    )
    content: dict[str, Any] = {"caption": text} if text else {}
    if entities:
        content["caption_entities"] = entities
    return content
