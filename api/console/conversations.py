"""One handed-off conversation: claim, talk (R14 guard), notes, canned replies, transfer (R6), close (R4)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AgentDep, CsrfDep, CtxDep, SessionDep, is_htmx
from api.files import file_response, safe_filename, verified_type
from api.security import SessionData
from api.templating import N_, render
from core import canned, handoff, language_guard
from core.context import AppContext
from core.staff import owns
from db.enums import ConversationStatus, MessageDirection
from db.models import Conversation, ConversationMessage, Resident, StaffUser

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])

MAX_UPLOAD = 10 * 1024 * 1024  # Telegram bots may send photos up to 10 MB by URL


async def _load(session: AsyncSession, conversation_id: int, user: StaffUser) -> Conversation:
    conv = await handoff.get_conversation(session, conversation_id)
    if conv is None or not handoff.can_view(user, conv):
        raise HTTPException(404, N_("no such conversation"))  # also for chats of others: do not reveal them
    return conv


async def _staff_names(session: AsyncSession, conv: Conversation) -> dict[int, str]:
    ids = {m.staff_id for m in conv.messages if m.staff_id} | {i for i in (conv.owner_id, conv.transfer_to_id) if i}
    ids |= {int(m.text.split("\n")[0].split(":")[1]) for m in conv.messages
            if m.direction == MessageDirection.system and m.text and m.text.startswith("transfer_offered:")}
    return await handoff.staff_names(session, ids)


def _page(request: Request, *, ctx: AppContext, conv: Conversation, resident: Resident | None, user: StaffUser,
          names: dict[int, str], context: dict, targets: list[StaffUser], error: str | None = None,
          warning: handoff.GuardWarning | None = None, draft: str = "", status_code: int = 200):
    lang = conv.language
    return render(
        request, "console/conversation.html", status_code=status_code, conv=conv, resident=resident,
        names=names, context=context, targets=targets, error=error, warning=warning, draft=draft,
        is_owner=conv.status == ConversationStatus.active and owns(conv.owner_id, user),
        offered=owns(conv.transfer_to_id, user), canned=canned.REPLIES, lang=lang,
        canned_texts={c.key: c.text(lang) for c in canned.REPLIES},
        topics=canned.topic_choices(ctx.catalogue, lang), now=ctx.clock.now(),
    )


async def _render_page(request: Request, session, ctx: AppContext, conv_id: int, user: StaffUser, **kw):
    if sa_inspect(user).expired_attributes:  # a failed action rolled back and expired everything
        await session.refresh(user)
    conv = await _load(session, conv_id, user)
    resident = await session.get(Resident, conv.resident_id)
    context = dict(conv.context or {})
    if resident is not None and conv.status != ConversationStatus.closed:
        # Fresh balances and tickets; the snapshot taken at handoff keeps the last bot exchange.
        live = await handoff.build_context(session, ctx=ctx, resident=resident, now=ctx.clock.now())
        context.update({k: v for k, v in live.items() if k != "last_exchange"})
    targets = await handoff.transfer_targets(session, staff=user)
    return _page(request, ctx=ctx, conv=conv, resident=resident, user=user, names=await _staff_names(session, conv),
                 context=context, targets=targets, **kw)


def _back(conv_id: int) -> RedirectResponse:
    return RedirectResponse(f"/console/conversations/{conv_id}", status_code=303)


@router.get("/console/conversations/{conv_id}")
async def conversation_page(conv_id: int, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep):
    return await _render_page(request, session, ctx, conv_id, user)


@router.get("/console/conversations/{conv_id}/messages")
async def messages_fragment(conv_id: int, request: Request, user: AgentDep, session: SessionDep):
    conv = await _load(session, conv_id, user)
    return render(request, "console/_messages.html", conv=conv, names=await _staff_names(session, conv))


async def _action(request: Request, session, ctx: AppContext, conv_id: int, user: StaffUser, coro_factory):
    conv = await _load(session, conv_id, user)
    try:
        await coro_factory(conv)
    except handoff.HandoffError as e:
        await session.rollback()
        return await _render_page(request, session, ctx, conv_id, user, error=e.message, status_code=e.status)
    return _back(conv_id)


@router.post("/console/conversations/{conv_id}/claim")
async def claim(conv_id: int, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep):
    await _load(session, conv_id, user)
    try:
        await handoff.claim(session, ctx=ctx, conversation_id=conv_id, staff=user)
    except handoff.HandoffError as e:
        return await _render_page(request, session, ctx, conv_id, user, error=e.message, status_code=e.status)
    return _back(conv_id)


@router.post("/console/conversations/{conv_id}/reply")
async def reply(
    conv_id: int, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
    text: Annotated[str, Form(max_length=handoff.MAX_TEXT + 500)] = "",
    action: Annotated[str, Form()] = "send",
):
    """Send (R14 guard first), send anyway (override, audited) or replace the draft by its polite version."""
    conv = await _load(session, conv_id, user)
    warning = error = None
    draft = ""
    err_status = 200
    if action == "suggest":
        draft = language_guard.polite_version(text)
    else:
        try:
            await handoff.reply(session, ctx=ctx, conversation=conv, staff=user, text=text,
                                override=action == "override")
        except handoff.GuardWarning as w:
            warning, draft = w, text
        except handoff.HandoffError as e:
            error, draft, err_status = e.message, text, e.status
    if is_htmx(request):
        resp = render(request, "console/_composer.html", conv=conv, warning=warning, error=error, draft=draft)
        if warning is None and error is None and action != "suggest":
            resp.headers["HX-Trigger"] = "live-message"
        return resp
    if warning is None and error is None and action != "suggest":
        return _back(conv_id)
    status = warning.status if warning else err_status
    return await _render_page(request, session, ctx, conv_id, user, warning=warning, error=error, draft=draft,
                              status_code=status)


@router.post("/console/guard/check")
async def guard_check(request: Request, user: AgentDep, text: Annotated[str, Form(max_length=20000)] = ""):
    """Live R14 hint while the agent types (the send itself checks again on the server)."""
    hits = language_guard.check(text)
    return render(request, "console/_guard_hint.html", hits=hits)


@router.post("/console/conversations/{conv_id}/file")
async def send_file(
    conv_id: int, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
    upload: Annotated[UploadFile, File()], caption: Annotated[str, Form(max_length=1000)] = "",
):
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return await _render_page(request, session, ctx, conv_id, user, error="The file is larger than 10 MB.",
                                  status_code=413)
    codec = request.app.state.sessions
    base = (ctx.settings.public_url or str(request.base_url)).rstrip("/")

    expires = int((ctx.clock.now() + MEDIA_URL_TTL).timestamp())

    def url_for(msg: ConversationMessage) -> str:
        return f"{base}/media/chat/{msg.id}/{media_signature(codec, msg.id, expires)}"

    async def go(conv: Conversation) -> None:
        # F10: store the type the bytes prove, never the browser's claim (an "image/png" that is HTML).
        await handoff.reply_file(session, ctx=ctx, conversation=conv, staff=user, data=data,
                                 file_name=safe_filename(upload.filename), mime_type=verified_type(data),
                                 caption=caption, url_for=url_for)

    return await _action(request, session, ctx, conv_id, user, go)


@router.post("/console/conversations/{conv_id}/note")
async def note(conv_id: int, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
               text: Annotated[str, Form(max_length=5000)] = ""):
    return await _action(request, session, ctx, conv_id, user,
                         lambda conv: handoff.add_note(session, ctx=ctx, conversation=conv, staff=user, text=text))


@router.post("/console/conversations/{conv_id}/transfer")
async def transfer(conv_id: int, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                   to_staff_id: Annotated[int, Form()], note: Annotated[str, Form(max_length=1000)] = ""):
    return await _action(request, session, ctx, conv_id, user, lambda conv: handoff.offer_transfer(
        session, ctx=ctx, conversation=conv, staff=user, to_staff_id=to_staff_id, note=note))


@router.post("/console/conversations/{conv_id}/transfer/{answer}")
async def transfer_answer(conv_id: int, answer: str, request: Request, user: AgentDep, ctx: CtxDep,
                          session: SessionDep):
    if answer == "cancel":
        return await _action(request, session, ctx, conv_id, user, lambda conv: handoff.cancel_transfer(
            session, ctx=ctx, conversation=conv, staff=user))
    if answer not in ("accept", "decline"):
        raise HTTPException(404, N_("unknown transfer action"))
    return await _action(request, session, ctx, conv_id, user, lambda conv: handoff.answer_transfer(
        session, ctx=ctx, conversation=conv, staff=user, accept=answer == "accept"))


@router.post("/console/conversations/{conv_id}/close")
async def close(conv_id: int, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep):
    return await _action(request, session, ctx, conv_id, user,
                         lambda conv: handoff.close(session, ctx=ctx, conversation=conv, staff=user))


@router.get("/console/canned/checklist")
async def checklist(request: Request, user: AgentDep, ctx: CtxDep, slug: str, lang: str = "zh_Hans"):
    """A topic's complete R1 checklist as plain text, to insert into a reply."""
    text = canned.checklist_text(ctx.catalogue, slug, lang)
    if text is None:
        raise HTTPException(404, N_("no such topic"))
    return PlainTextResponse(text)


# -- files ---------------------------------------------------------------------------------------------------------
# Every stored file goes out through api.files.file_response (issue 12 F1/F10): attachment, nosniff, CSP sandbox.

MEDIA_URL_TTL = timedelta(days=3)  # Telegram fetches at once; the outbox may retry for a while


def media_signature(codec, message_id: int, expires: int) -> str:
    # The session codec's HMAC keyed by the app secret: unguessable per message and expiry, no storage needed.
    return f"{expires}-{codec.csrf_token(SessionData(nonce=f'chat-file:{message_id}:{expires}'))}"


def _telegram(ctx: AppContext):
    """The Bot that downloads residents' files: the entry point (onestop.runner) puts it in ``ctx.extras``,
    since api and bot are sibling layers and the console never builds one itself."""
    bot = ctx.extras.get("bot")
    if bot is None:
        raise LookupError("no Telegram client in this process")
    return bot


@router.get("/console/conversations/{conv_id}/files/{message_id}")
async def message_file(conv_id: int, message_id: int, request: Request, user: AgentDep, ctx: CtxDep,
                       session: SessionDep):
    conv = await _load(session, conv_id, user)
    msg = next((m for m in conv.messages if m.id == message_id), None)
    if msg is None or not (msg.file_id or msg.direction == MessageDirection.outbound):
        raise HTTPException(404, N_("no file"))
    name = msg.file_name or f"{msg.content_type}-{msg.id}"
    if msg.file_id is None:  # an agent's upload, stored with the message
        await session.refresh(msg, ["file_data"])
        if msg.file_data is None:
            raise HTTPException(404, N_("no file"))
        return file_response(msg.file_data, filename=name, inline_image=True, cache="private, max-age=3600")
    try:
        bot = _telegram(ctx)
        tg_file = await bot.get_file(msg.file_id)
        data = await bot.download_file(tg_file.file_path)
    except Exception as e:  # expired or unknown file: Telegram keeps files only for a while
        raise HTTPException(404, N_("the file is no longer available from Telegram")) from e
    body = data.read() if hasattr(data, "read") else bytes(data or b"")
    return file_response(body, filename=name, inline_image=True, cache="private, max-age=3600")


media_router = APIRouter(include_in_schema=False)


@media_router.get("/media/chat/{message_id}/{signature}")
async def public_media(message_id: int, signature: str, request: Request, ctx: CtxDep, session: SessionDep):
    """An agent's upload fetched by Telegram, which has no cookie: the expiring HMAC in the URL is the permission.

    It is served like every stored file (attachment, nosniff, CSP sandbox), so even a leaked link cannot
    run anything in the console's origin, and it stops working after MEDIA_URL_TTL.
    """
    expires_s, _, _mac = signature.partition("-")
    if not expires_s.isdigit() or int(expires_s) < ctx.clock.now().timestamp():
        raise HTTPException(404, N_("not found"))
    if not hmac.compare_digest(media_signature(request.app.state.sessions, message_id, int(expires_s)), signature):
        raise HTTPException(404, N_("not found"))
    msg = await session.get(ConversationMessage, message_id)
    if msg is None or msg.direction != MessageDirection.outbound:
        raise HTTPException(404, N_("not found"))
    await session.refresh(msg, ["file_data"])
    if msg.file_data is None:
        raise HTTPException(404, N_("not found"))
    return file_response(msg.file_data, filename=msg.file_name)


@router.get("/console/conversations", response_class=HTMLResponse)
async def conversations_index(user: AgentDep):
    return RedirectResponse("/console/queue", status_code=303)
