"""The bot itself and its settings: getMe, commands, menu button, name and descriptions, getChat, no-ops."""

from __future__ import annotations

import re
from typing import Any

from api.sandbox.methods.common import resolve_chat
from api.sandbox.methods.params import Params
from api.sandbox.methods.table import Method, MethodTable
from api.sandbox.records import bad_request
from api.sandbox.state import SandboxState

table = MethodTable()
method = table.method


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
