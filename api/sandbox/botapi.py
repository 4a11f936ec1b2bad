"""Bot API methods of the sandbox, validated the way Telegram validates them.

Each method takes the `SandboxState` and the request `Params` and returns the `result`
value, or raises `BotApiError` with Telegram's error code and description.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from api.sandbox.entities import EntityParseError, parse_html, strip_text, utf16_len
from api.sandbox.media import image_size
from api.sandbox.state import (
    BotApiError,
    ChatState,
    FileRecord,
    SandboxState,
    StoredMessage,
    bad_request,
    document_object,
    photo_size,
)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
_JSON_FIELDS = {
    "reply_markup": "reply keyboard markup",
    "reply_parameters": "reply parameters",
    "entities": "message entities",
    "caption_entities": "caption entities",
    "media": "media",
    "commands": "commands",
    "scope": "bot command scope",
    "menu_button": "menu button",
    "prices": "prices",
    "allowed_updates": "allowed updates",
    "suggested_tip_amounts": "suggested tip amounts",
    "message_ids": "message identifiers",
    "link_preview_options": "link preview options",
}


@dataclass
class Upload:
    filename: str
    content_type: str | None
    data: bytes


class Params:
    """Request parameters from a query string, JSON body or (multipart) form.

    Form values arrive as strings (aiogram JSON-encodes everything that is not a string),
    JSON bodies arrive typed; the getters below accept both.
    """

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.uploads = uploads or {}

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.uploads

    def get_str(self, name: str, *, required: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(required)
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    def get_int(self, name: str, *, required: str | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(required)
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_float(self, name: str, *, required: str | None = None) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(required)
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def get_json(self, name: str) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {_JSON_FIELDS.get(name, name)} JSON object") from None
        return value


# ---------------------------------------------------------------------- shared validation


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
    chat = state.chats.get(chat_id) if chat_id is not None else None
    if chat is None:
        raise bad_request("chat not found")
    return chat


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


def validate_markup(markup: Any) -> dict[str, Any] | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        if len(rows) > 100:
            raise bad_request("REPLY_MARKUP_TOO_LONG")
        actions = (
            "url",
            "callback_data",
            "web_app",
            "login_url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "copy_text",
            "callback_game",
            "pay",
        )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not str(button.get("text") or "").strip():
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                present = [a for a in actions if a in button and button[a] not in (None, False)]
                if len(present) != 1:
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                        raise bad_request("BUTTON_DATA_INVALID")
                if "url" in button and not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
                    raise bad_request("BUTTON_URL_INVALID")
        return markup
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse keyboard button: KeyboardButton must be a String or an Object")
        normal = []
        for row in rows:
            out_row = []
            for button in row:
                button = {"text": button} if isinstance(button, str) else button
                if not isinstance(button, dict) or not str(button.get("text") or "").strip():
                    raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
                out_row.append(button)
            normal.append(out_row)
        return {**markup, "keyboard": normal}
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return markup
    raise bad_request('can\'t find field "inline_keyboard"')


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


def resolve_input_file(state: SandboxState, params: Params, name: str, kind: str) -> FileRecord:
    """A file given as an upload (directly or attach://), a known file_id, or an HTTP URL."""
    if name in params.uploads:
        upload = params.uploads[name]
        return state.store_file(
            upload.data, kind=kind, file_name=upload.filename, mime_type=upload.content_type
        )
    value = params.get_str(name)
    if not value:
        raise bad_request(f"there is no {name} in the request")
    return _file_from_string(state, params, value, kind)


def _file_from_string(state: SandboxState, params: Params, value: str, kind: str) -> FileRecord:
    if value.startswith("attach://"):
        upload = params.uploads.get(value.removeprefix("attach://"))
        if upload is None:
            raise bad_request("wrong HTTP URL specified")  # Telegram's answer to a dangling attach://
        return state.store_file(
            upload.data, kind=kind, file_name=upload.filename, mime_type=upload.content_type
        )
    if value.startswith(("http://", "https://")):
        name = value.rsplit("/", 1)[-1].split("?", 1)[0] or None
        return state.store_file(b"", kind=kind, file_name=name, url=value)
    record = state.files.get(value)
    if record is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return record


def media_content(
    state: SandboxState, record: FileRecord, kind: str, params: Params | None
) -> dict[str, Any]:
    if kind == "photo":
        size = (0, 0) if record.url else image_size(record.data)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        return {"photo": [photo_size(record, size)]}
    if kind == "voice":
        duration = (params.get_int("duration") if params else None) or 0
        return {
            "voice": {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "duration": duration,
                "mime_type": record.mime_type,
                "file_size": record.size,
            }
        }
    obj = document_object(record)
    if kind in ("audio", "video", "animation"):
        obj["duration"] = (params.get_int("duration") if params else None) or 0
        if kind != "audio":
            obj["width"] = (params.get_int("width") if params else None) or 0
            obj["height"] = (params.get_int("height") if params else None) or 0
    return {kind: obj}


# ---------------------------------------------------------------------- methods

Method = Callable[[SandboxState, Params], Awaitable[Any]]
METHODS: dict[str, Method] = {}  # lower-case name -> implementation (Telegram ignores case)
METHOD_NAMES: dict[str, str] = {}  # lower-case name -> canonical name, for the call log


def method(*names: str) -> Callable[[Method], Method]:
    def register(func: Method) -> Method:
        for name in names:
            METHODS[name.lower()] = func
            METHOD_NAMES[name.lower()] = name
        return func

    return register


@method("getMe")
async def get_me(state: SandboxState, params: Params) -> Any:
    return {
        **state.bot_user(),
        "can_join_groups": False,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("logOut", "close")
async def log_out(state: SandboxState, params: Params) -> Any:
    return True


@method("setWebhook")
async def set_webhook(state: SandboxState, params: Params) -> Any:
    url = params.get_str("url") or ""
    if url and not url.startswith("https://") and not url.startswith("http://"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if params.get_bool("drop_pending_updates"):
        state.updates.clear()
    state.webhook = (
        {
            "url": url,
            "secret_token": params.get_str("secret_token"),
            "allowed_updates": params.get_json("allowed_updates"),
        }
        if url
        else {}
    )
    return True


@method("deleteWebhook")
async def delete_webhook(state: SandboxState, params: Params) -> Any:
    state.webhook = {}
    if params.get_bool("drop_pending_updates"):
        state.updates.clear()
    return True


@method("getWebhookInfo")
async def get_webhook_info(state: SandboxState, params: Params) -> Any:
    info: dict[str, Any] = {
        "url": state.webhook.get("url", ""),
        "has_custom_certificate": False,
        "pending_update_count": len(state.updates),
    }
    if state.webhook.get("allowed_updates"):
        info["allowed_updates"] = state.webhook["allowed_updates"]
    return info


@method("getUpdates")
async def get_updates(state: SandboxState, params: Params) -> Any:
    if state.webhook.get("url"):
        raise BotApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = params.get_int("offset") or 0
    limit = min(max(params.get_int("limit") or 100, 1), 100)
    timeout = max(params.get_int("timeout") or 0, 0)
    allowed = params.get_json("allowed_updates")
    if isinstance(allowed, list):
        state.allowed_updates = [str(a) for a in allowed]
    state.confirm_updates(offset)
    await state.wait_for(lambda: bool(state.deliverable_updates(limit)), timeout)
    return state.deliverable_updates(limit)


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


async def _send_media(state: SandboxState, params: Params, kind: str) -> Any:
    chat = writable_chat(state, params)
    record = resolve_input_file(state, params, kind, kind)
    content = {**media_content(state, record, kind, params), **caption_content(params)}
    return send_common(state, chat, params, content, raw_text=params.get_str("caption"))


@method("sendPhoto")
async def send_photo(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "photo")


@method("sendDocument")
async def send_document(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "document")


@method("sendVoice")
async def send_voice(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "voice")


@method("sendAudio")
async def send_audio(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "audio")


@method("sendVideo")
async def send_video(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "video")


@method("sendAnimation")
async def send_animation(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "animation")


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


@method("sendMediaGroup")
async def send_media_group(state: SandboxState, params: Params) -> Any:
    chat = writable_chat(state, params)
    media = params.get_json("media")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad_request("wrong number of media items; must be between 2 and 10")
    group_id = str(secrets.randbits(60))
    reply_to = resolve_reply(state, chat, params)
    prepared = []
    for item in media:
        if not isinstance(item, dict) or item.get("type") not in ("photo", "document", "audio", "video"):
            raise bad_request("can't parse InputMedia: unsupported media type")
        kind = item["type"]
        ref = str(item.get("media") or "")
        if not ref:
            raise bad_request("there is no media in the request")
        record = _file_from_string(state, params, ref, kind)
        content = media_content(state, record, kind, None)
        if item.get("caption"):
            caption_params = Params(
                {
                    "caption": item["caption"],
                    "parse_mode": item.get("parse_mode"),
                    "caption_entities": item.get("caption_entities"),
                }
            )
            content.update(caption_content(caption_params))
        prepared.append((content, item.get("caption"), item.get("parse_mode")))
    messages = []
    for content, raw, parse_mode in prepared:
        stored = state.new_message(
            chat,
            outgoing=True,
            content={**content, "media_group_id": group_id},
            reply_to=reply_to,
            raw_text=raw,
            parse_mode=parse_mode,
        )
        messages.append(stored.message)
    return messages


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


def _inline_markup(params: Params) -> dict[str, Any] | None:
    markup = validate_markup(params.get_json("reply_markup"))
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    return markup


@method("editMessageText")
async def edit_message_text(state: SandboxState, params: Params) -> Any:
    chat, stored = _editable(state, params)
    source = params.get_str("text")
    if not source or not source.strip():
        raise bad_request("message text is empty")
    if "text" not in stored.message:
        raise bad_request("there is no text in the message to edit")
    text, entities = format_text(source, params.get_str("parse_mode"), params.get_json("entities"))
    markup = _inline_markup(params)
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
    markup = _inline_markup(params)
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
    return _finish_edit(state, chat, stored, {}, _inline_markup(params))


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


@method("answerCallbackQuery")
async def answer_callback_query(state: SandboxState, params: Params) -> Any:
    query_id = params.get_str("callback_query_id", required="QUERY_ID_INVALID")
    record = state.callback_queries.get(query_id or "")
    if record is None or record["answered"]:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.get_str("text")
    if text and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    answer = {"text": text, "show_alert": params.get_bool("show_alert"), "url": params.get_str("url")}
    record["answered"] = True
    record["answer"] = answer
    chat = state.chats.get(record["chat_id"])
    if chat is not None and text:
        state.add_entry(
            chat,
            {
                "kind": "toast",
                "from": "bot",
                "message_id": record["message_id"],
                "text": text,
                "show_alert": answer["show_alert"],
                "callback_query_id": query_id,
            },
        )
    state.notify()
    return True


@method("setMyCommands")
async def set_my_commands(state: SandboxState, params: Params) -> Any:
    commands = params.get_json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        name = str(command.get("command", "")) if isinstance(command, dict) else ""
        if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("command description is empty")
    state.commands[_commands_key(params)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.get_json("scope") or {"type": "default"}
    scope_key = scope.get("type", "default") if isinstance(scope, dict) else "default"
    if isinstance(scope, dict) and scope.get("chat_id") is not None:
        scope_key += f":{scope['chat_id']}"
    return scope_key, params.get_str("language_code") or ""


@method("getMyCommands")
async def get_my_commands(state: SandboxState, params: Params) -> Any:
    return state.commands.get(_commands_key(params), [])


@method("deleteMyCommands")
async def delete_my_commands(state: SandboxState, params: Params) -> Any:
    state.commands.pop(_commands_key(params), None)
    return True


@method("setChatMenuButton")
async def set_chat_menu_button(state: SandboxState, params: Params) -> Any:
    chat_id = params.get_int("chat_id")
    if chat_id is not None and chat_id not in state.chats:
        raise bad_request("chat not found")
    button = params.get_json("menu_button") or {"type": "default"}
    state.menu_buttons[chat_id] = button
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(state: SandboxState, params: Params) -> Any:
    chat_id = params.get_int("chat_id")
    return state.menu_buttons.get(chat_id) or state.menu_buttons.get(None) or {"type": "default"}


def _bot_text(field_name: str) -> tuple[Method, Method]:
    async def setter(state: SandboxState, params: Params) -> Any:
        state.bot_texts.setdefault(field_name, {})[params.get_str("language_code") or ""] = (
            params.get_str(field_name) or ""
        )
        return True

    async def getter(state: SandboxState, params: Params) -> Any:
        texts = state.bot_texts.get(field_name, {})
        return {field_name: texts.get(params.get_str("language_code") or "", texts.get("", ""))}

    return setter, getter


for _field, _suffix in (
    ("name", "Name"),
    ("description", "Description"),
    ("short_description", "ShortDescription"),
):
    _setter, _getter = _bot_text(_field)
    method(f"setMy{_suffix}")(_setter)
    method(f"getMy{_suffix}")(_getter)


@method(
    "setMessageReaction",
    "pinChatMessage",
    "unpinChatMessage",
    "unpinAllChatMessages",
    "setMyDefaultAdministratorRights",
)
async def harmless(state: SandboxState, params: Params) -> Any:
    return True


@method("getFile")
async def get_file(state: SandboxState, params: Params) -> Any:
    file_id = params.get_str("file_id", required="file_id is empty")
    record = state.files.get(file_id or "")
    if record is None:
        raise bad_request("invalid file_id")
    if record.size > 20 * 1024 * 1024:
        raise bad_request("file is too big")
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_size": record.size,
        "file_path": record.file_path,
    }


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


@method("sendInvoice")
async def send_invoice(state: SandboxState, params: Params) -> Any:
    chat = writable_chat(state, params)
    title = params.get_str("title", required="title is empty") or ""
    description = params.get_str("description", required="description is empty") or ""
    payload = params.get_str("payload", required="payload is empty") or ""
    currency = (params.get_str("currency", required="currency is empty") or "").upper()
    if not 1 <= len(title) <= 32:
        raise bad_request("INVOICE_TITLE_INVALID")
    if not 1 <= len(description) <= 255:
        raise bad_request("INVOICE_DESCRIPTION_INVALID")
    if not 1 <= len(payload.encode()) <= 128:
        raise bad_request("INVOICE_PAYLOAD_INVALID")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise bad_request("CURRENCY_INVALID")
    prices = params.get_json("prices")
    if not isinstance(prices, list) or not prices:
        raise bad_request("can't parse prices JSON object")
    total = 0
    for price in prices:
        if not isinstance(price, dict) or not price.get("label") or not isinstance(price.get("amount"), int):
            raise bad_request("can't parse prices JSON object")
        total += price["amount"]
    if total <= 0:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    provider_token = params.get_str("provider_token") or ""
    if currency == "XTR" and (provider_token or len(prices) != 1):
        raise bad_request("invoices in Telegram Stars need an empty provider_token and exactly one price")
    markup = _inline_markup(params)
    if markup is not None:
        rows = markup["inline_keyboard"]
        if not rows or not rows[0] or not rows[0][0].get("pay"):
            raise bad_request("the first button of an invoice keyboard must be a Pay button")
    invoice = {
        "title": title,
        "description": description,
        "start_parameter": params.get_str("start_parameter") or "",
        "currency": currency,
        "total_amount": total,
    }
    extra = {
        "invoice": {
            "payload": payload,
            "currency": currency,
            "total_amount": total,
            "prices": prices,
            "provider_token": provider_token,
        }
    }
    return send_common(state, chat, params, {"invoice": invoice}, extra=extra)


@method("answerPreCheckoutQuery")
async def answer_pre_checkout_query(state: SandboxState, params: Params) -> Any:
    query_id = params.get_str("pre_checkout_query_id", required="QUERY_ID_INVALID") or ""
    record = state.pre_checkout_queries.get(query_id)
    if record is None or record["answer"] is not None or record.get("expired"):
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    ok = params.get_bool("ok")
    error_message = params.get_str("error_message")
    if not ok and not error_message:
        raise bad_request("ERROR_MESSAGE_EMPTY")
    record["answer"] = {"ok": ok, "error_message": error_message}
    state.notify()
    return True


@method("getChat")
async def get_chat(state: SandboxState, params: Params) -> Any:
    chat = resolve_chat(state, params)
    info = chat.persona.chat_object()
    info.update(
        {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
    )
    return info
