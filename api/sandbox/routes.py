"""HTTP side of the sandbox: the Bot API emulator, file downloads, the resident JSON API and the chat page.

Bot API (what aiogram talks to with ``TelegramAPIServer.from_base("http://HOST:PORT/sandbox")``)::

    GET|POST /sandbox/bot<token>/<method>          JSON, urlencoded or multipart; answers {"ok": ..., ...}
    GET      /sandbox/file/bot<token>/<file_path>  download a file after getFile

Resident API (used by the chat page and by end-to-end tests; JSON in, JSON out)::

    GET  /sandbox/api/personas[?after=REV&wait=S]  {"personas": [...], "revision": REV}; long-polls changes
    POST /sandbox/api/personas                     add {"first_name", "user_id"?, "last_name"?, "username"?,
                                                   "phone"?, "language_code"?} -> persona (201)
    POST /sandbox/api/personas/{id}/block          toggle "blocked the bot" ({"blocked": bool} to set it)
    POST /sandbox/api/personas/{id}/send           one of:
             {"text": "..."}                       a leading /command gets a bot_command entity
             {"contact": true}                     the persona's own contact (the request_contact button)
             {"contact": {"phone_number", "first_name", "last_name"?, "user_id"?}}   another contact
             {"location": {"latitude", "longitude"}}
             {"photo": BASE64 | {"data": BASE64, "file_name"?}, "caption"?}
             {"voice": true | BASE64 | {"duration"?, "data"?}}
             {"document": BASE64 | {"data": BASE64, "file_name"?, "mime_type"?}, "caption"?}
             optional "reply_to_message_id"; multipart/form-data works too (file parts photo/voice/document)
         -> the message as the page sees it, plus "update_id" and "telegram_message" (what the bot gets)
    POST /sandbox/api/personas/{id}/callback       {"message_id", "data", "force"?, "wait"?}
         -> {"callback_query_id", "update_id", "answer"?}; 400 unless that bot message has that button
            (force: true sends it anyway); wait: S waits up to S seconds for answerCallbackQuery
    POST /sandbox/api/personas/{id}/pay            {"message_id", "replay"?, "timeout"?}
         -> {"ok": true, "successful_payment", "message"} | {"ok": false, "error_message", "timeout"?}
    GET  /sandbox/api/personas/{id}/chat?after=SEQ&wait=S
         -> {"entries": [...], "messages": {id: current state}, "reply_keyboard", "force_reply",
             "chat_action", "persona", "last_seq"}; entries have seq, kind (text/photo/document/voice/audio/
             video/invoice/payment/location/contact/toast/action/edit/delete), from ("bot"/"user"), text, html
             (safe), caption, reply_markup, file {url, name, mime_type, size}; long-polls up to S seconds
    GET  /sandbox/api/bot                          bot identity, commands, menu buttons, webhook, queue size
    GET  /sandbox/api/updates                      unconfirmed updates (read only)
    GET  /sandbox/api/calls[?method=sendMessage]   Bot API call log: [{"at", "method", "chat_id", "status"}]
    POST /sandbox/api/inject_errors                {"count", "error_code"?, "retry_after"?, "description"?,
                                                   "methods"?, "chat_id"?} (see SandboxState.inject_errors)
    POST /sandbox/api/reset                        forget chats, updates and files; keep personas
    GET  /sandbox/files/{file_id}                  the bytes of any file the bot or a resident sent
    GET  /sandbox                                  the phone-like chat page
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
from collections.abc import Awaitable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from api.files import file_response
from api.sandbox.botapi import METHOD_NAMES, METHODS, Params, Upload
from api.sandbox.personas import Persona
from api.sandbox.state import BotApiError, SandboxError, SandboxState, decode_base64

router = APIRouter()

_TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
_MAX_WAIT = 60.0
T = TypeVar("T")


def get_state(request: Request) -> SandboxState:
    state = getattr(request.app.state, "sandbox", None)
    if state is None:
        raise SandboxError(503, "the sandbox is not enabled in this app")
    return state


async def read_params(request: Request) -> Params:
    values: dict[str, Any] = dict(request.query_params)
    uploads: dict[str, Upload] = {}
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            body = await request.body()
            if body.strip():
                try:
                    data = json.loads(body)
                except ValueError:
                    raise BotApiError(400, "Bad Request: can't parse JSON object") from None
                if not isinstance(data, dict):
                    raise BotApiError(400, "Bad Request: parameters must be a JSON object")
                values.update(data)
        elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    uploads[key] = Upload(value.filename or key, value.content_type, await value.read())
                else:
                    values[key] = value
    return Params(values, uploads)


async def unless_disconnected(request: Request, awaitable: Awaitable[T]) -> tuple[bool, T | None]:
    """Run a long poll but give up when the client goes away, so it does not linger until its timeout
    (and keep a server from shutting down). Returns (finished, result)."""
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.5)
            if done:
                return True, task.result()
            if await request.is_disconnected():
                return False, None
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _token_ok(state: SandboxState, token: str) -> bool:
    """Only the sandbox's own bot token: anyone else reaching the port can neither send nor read (F10)."""
    return hmac.compare_digest(token.encode(), state.token.encode())


def _api_error(error: BotApiError) -> JSONResponse:
    return JSONResponse(error.payload(), status_code=error.error_code)


def _chat_id_hint(params: Params) -> int | None:
    try:
        return params.get_int("chat_id")
    except BotApiError:
        return None


# ---------------------------------------------------------------------- Bot API


@router.api_route("/sandbox/bot{token}/{method}", methods=["GET", "POST"], include_in_schema=False)
async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
    state = get_state(request)
    match = _TOKEN_RE.match(token)
    if match is None or not _token_ok(state, token):
        return _api_error(BotApiError(401, "Unauthorized"))
    state.bot_id = int(match.group(1))
    func = METHODS.get(method.lower())
    if func is None:
        return _api_error(BotApiError(404, "Not Found"))
    name = METHOD_NAMES[method.lower()]
    try:
        params = await read_params(request)
    except BotApiError as e:
        state.record_call(name, None, e.error_code)
        return _api_error(e)
    chat_id = _chat_id_hint(params)
    injected = state.take_injected_error(name, chat_id)
    if injected is not None:
        state.record_call(name, chat_id, injected.error_code)
        return _api_error(injected)
    try:
        if name == "getUpdates":
            finished, result = await unless_disconnected(request, func(state, params))
            if not finished:
                return JSONResponse({"ok": False, "error_code": 499, "description": "client went away"}, 499)
        else:
            result = await func(state, params)
    except BotApiError as e:
        state.record_call(name, chat_id, e.error_code)
        return _api_error(e)
    state.record_call(name, chat_id, 200)
    return JSONResponse({"ok": True, "result": result})


@router.get("/sandbox/file/bot{token}/{file_path:path}", include_in_schema=False)
async def bot_file(token: str, file_path: str, request: Request) -> Response:
    state = get_state(request)
    if not _token_ok(state, token):
        return _api_error(BotApiError(401, "Unauthorized"))
    record = state.file_by_path(file_path)
    if record is None or record.url:
        return _api_error(BotApiError(404, "Not Found"))
    return file_response(record.data, filename=record.file_name)


@router.get("/sandbox/files/{file_id}", include_in_schema=False)
async def sandbox_file(file_id: str, request: Request) -> Response:
    state = get_state(request)
    record = state.files.get(file_id)
    if record is None:
        raise SandboxError(404, "file not found")
    if record.url:
        return RedirectResponse(record.url)
    # The chat page previews verified images; everything else downloads (issue 12 F1).
    return file_response(record.data, filename=record.file_name, inline_image=True)


# ---------------------------------------------------------------------- resident API


class PersonaIn(BaseModel):
    first_name: str = Field(min_length=1, max_length=64)
    user_id: int | None = Field(default=None, gt=0)
    last_name: str | None = None
    username: str | None = None
    phone: str = ""
    language_code: str = "zh-hans"


class BlockIn(BaseModel):
    blocked: bool | None = None


class CallbackIn(BaseModel):
    message_id: int
    data: str
    force: bool = False
    wait: float = Field(default=0, ge=0, le=_MAX_WAIT)


class PayIn(BaseModel):
    message_id: int
    replay: bool = False
    timeout: float | None = Field(default=None, ge=0, le=_MAX_WAIT)


class InjectIn(BaseModel):
    count: int = Field(default=1, ge=1)
    error_code: int = 429
    retry_after: int = Field(default=1, ge=0)
    description: str | None = None
    methods: list[str] | None = None
    chat_id: int | None = None


@router.get("/sandbox/api/personas")
async def list_personas(
    request: Request,
    after: Annotated[int | None, Query()] = None,
    wait: Annotated[float, Query(ge=0, le=_MAX_WAIT)] = 0,
) -> dict[str, Any]:
    state = get_state(request)
    if after is not None and wait:
        await unless_disconnected(request, state.wait_for(lambda: state.revision > after, wait))
    return {"personas": [state.persona_view(p) for p in state.personas.values()], "revision": state.revision}


@router.post("/sandbox/api/personas", status_code=201)
async def add_persona(body: PersonaIn, request: Request) -> dict[str, Any]:
    state = get_state(request)
    persona = Persona(
        user_id=body.user_id or state.next_persona_id(),
        first_name=body.first_name,
        last_name=body.last_name,
        username=body.username,
        phone=body.phone,
        language_code=body.language_code,
    )
    state.add_persona(persona)
    return state.persona_view(persona)


@router.post("/sandbox/api/personas/{user_id}/block")
async def block_persona(
    user_id: int, request: Request, body: Annotated[BlockIn | None, Body()] = None
) -> dict[str, Any]:
    state = get_state(request)
    state.set_blocked(user_id, body.blocked if body else None)
    return state.persona_view(state.persona(user_id))


async def _send_payload(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        payload: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                payload[key] = Upload(value.filename or key, value.content_type, await value.read())
            else:
                payload[key] = value
        if "latitude" in payload and "longitude" in payload:
            payload["location"] = {"latitude": payload.pop("latitude"), "longitude": payload.pop("longitude")}
        if payload.get("contact") in ("true", "1"):
            payload["contact"] = True
        if payload.get("voice") in ("true", "1"):
            payload["voice"] = True
        return payload
    try:
        data = await request.json()
    except ValueError:
        raise SandboxError(400, "body must be JSON or multipart/form-data") from None
    if not isinstance(data, dict):
        raise SandboxError(400, "body must be a JSON object")
    return data


def _file_arg(value: Any, default_name: str | None = None) -> tuple[bytes, str | None, str | None]:
    """(data, file_name, mime_type) from an upload, a base64 string or {"data", "file_name", "mime_type"}."""
    if isinstance(value, Upload):
        return value.data, value.filename, value.content_type
    if isinstance(value, str):
        return decode_base64(value), default_name, None
    if isinstance(value, dict) and isinstance(value.get("data"), str):
        return decode_base64(value["data"]), value.get("file_name") or default_name, value.get("mime_type")
    raise SandboxError(400, 'file must be base64, {"data": base64, ...} or a multipart upload')


@router.post("/sandbox/api/personas/{user_id}/send")
async def persona_send(user_id: int, request: Request) -> dict[str, Any]:
    state = get_state(request)
    state.persona(user_id)
    payload = await _send_payload(request)
    reply_to = payload.get("reply_to_message_id")
    reply_to_id = int(reply_to) if reply_to not in (None, "") else None
    caption = payload.get("caption") or None
    if payload.get("text") not in (None, ""):
        return state.send_text(user_id, str(payload["text"]), reply_to_message_id=reply_to_id)
    if payload.get("contact"):
        contact = payload["contact"]
        return state.send_contact(user_id, None if contact is True else contact)
    if payload.get("location"):
        loc = payload["location"]
        try:
            lat, lon = float(loc["latitude"]), float(loc["longitude"])
        except (KeyError, TypeError, ValueError):
            raise SandboxError(400, "location needs numeric latitude and longitude") from None
        return state.send_location(user_id, lat, lon)
    if payload.get("photo"):
        data, name, _ = _file_arg(payload["photo"], "photo.jpg")
        return state.send_photo(user_id, data, file_name=name, caption=caption)
    if payload.get("voice"):
        voice = payload["voice"]
        duration = int(
            payload.get("duration") or (voice.get("duration") if isinstance(voice, dict) else 0) or 3
        )
        recorded: bytes | None = None  # none given: the sandbox makes up a voice of that duration
        if isinstance(voice, Upload | str) or (isinstance(voice, dict) and voice.get("data")):
            recorded = _file_arg(voice)[0]
        return state.send_voice(user_id, recorded, duration=duration)
    if payload.get("document"):
        data, name, mime = _file_arg(payload["document"], "document.bin")
        return state.send_document(
            user_id,
            data,
            file_name=payload.get("file_name") or name,
            mime_type=payload.get("mime_type") or mime,
            caption=caption,
        )
    raise SandboxError(400, "send one of: text, contact, location, photo, voice, document")


@router.post("/sandbox/api/personas/{user_id}/callback")
async def persona_callback(user_id: int, body: CallbackIn, request: Request) -> dict[str, Any]:
    state = get_state(request)
    result = state.press_button(user_id, body.message_id, body.data, force=body.force)
    if body.wait:
        result["answer"] = await state.wait_callback_answer(result["callback_query_id"], body.wait)
    return result


@router.post("/sandbox/api/personas/{user_id}/pay")
async def persona_pay(user_id: int, body: PayIn, request: Request) -> dict[str, Any]:
    state = get_state(request)
    return await state.pay(user_id, body.message_id, replay=body.replay, wait=body.timeout)


@router.get("/sandbox/api/personas/{user_id}/chat")
async def persona_chat(
    user_id: int,
    request: Request,
    after: Annotated[int, Query(ge=0)] = 0,
    wait: Annotated[float, Query(ge=0, le=_MAX_WAIT)] = 0,
) -> dict[str, Any]:
    state = get_state(request)
    chat = state.chat(user_id)
    if wait:

        def changed() -> bool:
            return bool(chat.entries) and chat.entries[-1]["seq"] > after

        await unless_disconnected(request, state.wait_for(changed, wait))
    return state.chat_view(user_id, after)


@router.get("/sandbox/api/bot")
async def bot_info(request: Request) -> dict[str, Any]:
    state = get_state(request)
    return {
        "bot": state.bot_user(),
        "commands": [
            {"scope": scope, "language_code": lang, "commands": cmds}
            for (scope, lang), cmds in state.commands.items()
        ],
        "menu_buttons": {str(k) if k is not None else "default": v for k, v in state.menu_buttons.items()},
        "webhook": {k: v for k, v in state.webhook.items() if k != "secret_token"},
        "pending_updates": len(state.updates),
        "texts": state.bot_texts,
    }


@router.get("/sandbox/api/updates")
async def pending_updates(request: Request) -> dict[str, Any]:
    return {"updates": get_state(request).updates}


@router.get("/sandbox/api/calls")
async def api_calls(request: Request, method: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    state = get_state(request)
    calls = [c for c in state.calls if method is None or c.method.lower() == method.lower()]
    return {
        "calls": [{"at": c.at, "method": c.method, "chat_id": c.chat_id, "status": c.status} for c in calls]
    }


@router.post("/sandbox/api/inject_errors")
async def inject_errors(body: InjectIn, request: Request) -> dict[str, Any]:
    get_state(request).inject_errors(
        body.count,
        error_code=body.error_code,
        retry_after=body.retry_after,
        description=body.description,
        methods=body.methods,
        chat_id=body.chat_id,
    )
    return {"ok": True}


@router.post("/sandbox/api/reset")
async def reset(request: Request) -> dict[str, Any]:
    get_state(request).reset()
    return {"ok": True}


# ---------------------------------------------------------------------- chat page


@lru_cache(maxsize=1)
def _page() -> str:
    return (Path(__file__).parent / "page.html").read_text(encoding="utf-8")


@router.get("/sandbox", response_class=HTMLResponse, include_in_schema=False)
@router.get("/sandbox/", response_class=HTMLResponse, include_in_schema=False)
async def chat_page(request: Request) -> HTMLResponse:
    get_state(request)
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store"})
