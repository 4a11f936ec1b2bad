"""Text, location, contact and chat-action messages, and editing, deleting, copying and forwarding them."""

from __future__ import annotations

from typing import Any

from api.sandbox.methods.common import (
    caption_content,
    format_text,
    resolve_chat,
    send_common,
    writable_chat,
)
from api.sandbox.methods.keyboards import inline_markup
from api.sandbox.methods.params import Params
from api.sandbox.methods.table import MethodTable
from api.sandbox.records import ChatState, StoredMessage, bad_request
from api.sandbox.state import SandboxState

table = MethodTable()
method = table.method


@method("sendMessage")
async def send_message(state: SandboxState, params: Params) -> Any:
    chat = writable_chat(state, params)
    source = params.get_str("text")
    if not source or not source.strip():
        raise bad_request("message text is empty")
    text, entities = format_text(source, params.get_str("parse_mode"), params.get_json("entities"))
    if not text:
        raise bad_request("message text is empty")
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    return send_common(state, chat, params, content, raw_text=source)


@method("sendLocation")
async def send_location(state: SandboxState, params: Params) -> Any:
    chat = writable_chat(state, params)
    lat = params.get_float("latitude", required="latitude is empty")
    lon = params.get_float("longitude", required="longitude is empty")
    assert lat is not None and lon is not None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise bad_request("wrong latitude or longitude")
    return send_common(state, chat, params, {"location": {"latitude": lat, "longitude": lon}})


@method("sendContact")
async def send_contact(state: SandboxState, params: Params) -> Any:
    chat = writable_chat(state, params)
    contact = {
        "phone_number": params.get_str("phone_number", required="phone_number is empty"),
        "first_name": params.get_str("first_name", required="first_name is empty"),
    }
    if params.has("last_name"):
        contact["last_name"] = params.get_str("last_name")
    return send_common(state, chat, params, {"contact": contact})


@method("sendChatAction")
async def send_chat_action(state: SandboxState, params: Params) -> Any:
    chat = writable_chat(state, params)
    action = params.get_str("action", required="action is empty")
    assert action is not None
    allowed = {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
    if action not in allowed:
        raise bad_request("wrong parameter action in request")
    chat.action = (action, state.clock())
    state.add_entry(chat, {"kind": "action", "from": "bot", "action": action})
    return True


def _editable(state: SandboxState, params: Params) -> tuple[ChatState, StoredMessage]:
    if params.has("inline_message_id"):
        raise bad_request("inline messages are not supported by the sandbox")
    chat = resolve_chat(state, params)
    message_id = params.get_int("message_id", required="message identifier is not specified")
    assert message_id is not None
    stored = state.find_message(chat, message_id)
    if stored is None:
        raise bad_request("message to edit not found")
    if not stored.outgoing:
        raise bad_request("message can't be edited")
    return chat, stored


def _finish_edit(
    state: SandboxState, chat: ChatState, stored: StoredMessage, content: dict[str, Any], markup: dict | None
) -> Any:
    before = (
        {k: stored.message.get(k) for k in content},
        stored.message.get("reply_markup"),
    )
    after = (content, markup)
    if before == after:
        raise bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )
    for key, value in content.items():
        if value is None:
            stored.message.pop(key, None)
        else:
            stored.message[key] = value
    if markup:
        stored.message["reply_markup"] = markup
    else:
        stored.message.pop("reply_markup", None)  # an edit without reply_markup removes the keyboard
    stored.markup = markup
    stored.message["edit_date"] = state.now()
    state.message_edited(chat, stored)
    return stored.message


@method("editMessageText")
async def edit_message_text(state: SandboxState, params: Params) -> Any:
    chat, stored = _editable(state, params)
    source = params.get_str("text")
    if not source or not source.strip():
        raise bad_request("message text is empty")
    if "text" not in stored.message:
        raise bad_request("there is no text in the message to edit")
    text, entities = format_text(source, params.get_str("parse_mode"), params.get_json("entities"))
    markup = inline_markup(params)
    stored.raw_text, stored.parse_mode = source, params.get_str("parse_mode")
    return _finish_edit(state, chat, stored, {"text": text, "entities": entities or None}, markup)


@method("editMessageCaption")
async def edit_message_caption(state: SandboxState, params: Params) -> Any:
    chat, stored = _editable(state, params)
    if "text" in stored.message or not any(
        k in stored.message for k in ("photo", "document", "voice", "audio", "video", "animation")
    ):
        raise bad_request("there is no caption in the message to edit")
    content = caption_content(params)
    markup = inline_markup(params)
    stored.raw_text, stored.parse_mode = params.get_str("caption"), params.get_str("parse_mode")
    return _finish_edit(
        state,
        chat,
        stored,
        {"caption": content.get("caption"), "caption_entities": content.get("caption_entities")},
        markup,
    )


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(state: SandboxState, params: Params) -> Any:
    chat, stored = _editable(state, params)
    return _finish_edit(state, chat, stored, {}, inline_markup(params))


@method("deleteMessage")
async def delete_message(state: SandboxState, params: Params) -> Any:
    chat = resolve_chat(state, params)
    message_id = params.get_int("message_id", required="message identifier is not specified")
    assert message_id is not None
    stored = state.find_message(chat, message_id)
    if stored is None:
        raise bad_request("message to delete not found")
    state.message_deleted(chat, stored)
    return True


@method("deleteMessages")
async def delete_messages(state: SandboxState, params: Params) -> Any:
    chat = resolve_chat(state, params)
    ids = params.get_json("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message_ids must contain 1-100 identifiers")
    for message_id in ids:
        stored = state.find_message(chat, int(message_id))
        if stored is not None:  # Telegram skips messages it cannot find
            state.message_deleted(chat, stored)
    return True


def _copyable(state: SandboxState, params: Params) -> StoredMessage:
    source_chat = resolve_chat(state, params, "from_chat_id")
    message_id = params.get_int("message_id", required="message identifier is not specified")
    assert message_id is not None
    stored = state.find_message(source_chat, message_id)
    if stored is None:
        raise bad_request("message to copy not found")
    if "successful_payment" in stored.message or "invoice" in stored.message:
        raise bad_request("message can't be copied")
    return stored


_CONTENT_KEYS = (
    "text",
    "entities",
    "photo",
    "document",
    "voice",
    "audio",
    "video",
    "animation",
    "location",
    "contact",
    "caption",
    "caption_entities",
)


@method("copyMessage")
async def copy_message(state: SandboxState, params: Params) -> Any:
    source = _copyable(state, params)
    chat = writable_chat(state, params)
    content = {k: v for k, v in source.message.items() if k in _CONTENT_KEYS}
    if params.values.get("caption") is not None and "text" not in content:
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption_content(params))
    stored_message = send_common(state, chat, params, content, raw_text=source.raw_text)
    return {"message_id": stored_message["message_id"]}


@method("forwardMessage")
async def forward_message(state: SandboxState, params: Params) -> Any:
    source = _copyable(state, params)
    chat = writable_chat(state, params)
    content = {k: v for k, v in source.message.items() if k in _CONTENT_KEYS}
    origin_user = source.message["from"]
    content["forward_origin"] = {"type": "user", "sender_user": origin_user, "date": source.message["date"]}
    return send_common(state, chat, params, content, raw_text=source.raw_text)
