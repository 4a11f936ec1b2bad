"""Invoices and the pre-checkout answer; the resident's side of a payment is `SandboxState.pay`."""

from __future__ import annotations

import re
from typing import Any

from api.sandbox.methods.common import send_common, writable_chat
from api.sandbox.methods.keyboards import inline_markup
from api.sandbox.methods.params import Params
from api.sandbox.methods.table import MethodTable
from api.sandbox.records import bad_request
from api.sandbox.state import SandboxState

table = MethodTable()
method = table.method


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
    markup = inline_markup(params)
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
