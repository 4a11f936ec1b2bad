"""Receiving updates: getUpdates (long polling), the webhook settings, and ending the bot's session."""

from __future__ import annotations

from typing import Any

from api.sandbox.methods.params import Params
from api.sandbox.methods.table import MethodTable
from api.sandbox.records import BotApiError, bad_request
from api.sandbox.state import SandboxState

table = MethodTable()
method = table.method


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
