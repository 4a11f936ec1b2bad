"""Reply markup validation (inline and reply keyboards) and the callback query answer."""

from __future__ import annotations

import re
from typing import Any

from api.sandbox.methods.params import Params
from api.sandbox.methods.table import MethodTable
from api.sandbox.records import bad_request
from api.sandbox.state import SandboxState

table = MethodTable()
method = table.method


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


def inline_markup(params: Params) -> dict[str, Any] | None:
    markup = validate_markup(params.get_json("reply_markup"))
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    return markup


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
