"""A real aiogram Bot (aiohttp session) against the sandbox served by a real uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    ForceReply,
    InputMediaPhoto,
    LabeledPrice,
    Message,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder
from httpx import AsyncClient

from api.sandbox import SandboxState
from api.sandbox.media import tiny_png

WANG, LINA = 10001, 10002


async def resident_send(sandbox_client: AsyncClient, user_id: int, **payload: object) -> dict:
    r = await sandbox_client.post(f"/sandbox/api/personas/{user_id}/send", json=payload)
    assert r.status_code == 200, r.text
    return r.json()


async def chat(sandbox_client: AsyncClient, user_id: int, after: int = 0) -> dict:
    r = await sandbox_client.get(f"/sandbox/api/personas/{user_id}/chat", params={"after": after})
    assert r.status_code == 200, r.text
    return r.json()


async def next_updates(sandbox_bot: Bot, offset: int | None = None) -> list:
    updates = await sandbox_bot.get_updates(offset=offset, timeout=2)
    if updates:
        await sandbox_bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)  # confirm them
    return updates


async def test_get_me_uses_token_digits(sandbox_bot: Bot) -> None:
    me = await sandbox_bot.get_me()
    assert me.id == 424242
    assert me.username == "onestop_sandbox_bot"
    assert me.first_name == "Onestop"
    assert me.is_bot


async def test_start_keyboard_callback_toast(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    await resident_send(sandbox_client, WANG, text="/start")
    [update] = await next_updates(sandbox_bot)
    message = update.message
    assert message is not None and message.text == "/start"
    assert message.from_user is not None and message.from_user.id == WANG
    assert message.from_user.first_name == "王建国" and message.from_user.language_code == "zh-hans"
    assert message.chat.type == "private" and message.chat.id == WANG
    assert message.entities is not None and message.entities[0].type == "bot_command"

    kb = InlineKeyboardBuilder()
    kb.button(text="燃气", callback_data="svc:gas")
    kb.button(text="Water", callback_data="svc:water")
    sent = await sandbox_bot.send_message(
        WANG, "<b>请选择</b> 服务", reply_markup=kb.as_markup(), parse_mode=ParseMode.HTML
    )
    assert sent.text == "请选择 服务"
    assert sent.entities is not None and sent.entities[0].type == "bold" and sent.entities[0].length == 3
    assert sent.from_user is not None and sent.from_user.id == 424242
    assert sent.message_id == message.message_id + 1  # ids are shared by both directions

    view = await chat(sandbox_client, WANG)
    bubble = view["messages"][str(sent.message_id)]
    assert bubble["from"] == "bot"
    assert bubble["html"] == "<b>请选择</b> 服务"
    assert bubble["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "svc:gas"

    r = await sandbox_client.post(
        f"/sandbox/api/personas/{WANG}/callback", json={"message_id": sent.message_id, "data": "svc:water"}
    )
    assert r.status_code == 200, r.text
    [update] = await next_updates(sandbox_bot)
    query = update.callback_query
    assert query is not None and query.data == "svc:water"
    assert query.from_user.id == WANG
    assert query.message is not None and query.message.message_id == sent.message_id

    assert await sandbox_bot.answer_callback_query(query.id, text="已选择：水")
    view = await chat(sandbox_client, WANG, after=view["last_seq"])
    [toast] = [e for e in view["entries"] if e["kind"] == "toast"]
    assert toast["text"] == "已选择：水" and toast["show_alert"] is False

    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await sandbox_bot.answer_callback_query(query.id)


async def test_edit_and_delete(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    kb = InlineKeyboardBuilder()
    kb.button(text="OK", callback_data="ok")
    sent = await sandbox_bot.send_message(LINA, "Step 1", reply_markup=kb.as_markup())
    edited = await sandbox_bot.edit_message_text(
        "Step 2", chat_id=LINA, message_id=sent.message_id, reply_markup=kb.as_markup()
    )
    assert isinstance(edited, Message) and edited.text == "Step 2" and edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await sandbox_bot.edit_message_text(
            "Step 2", chat_id=LINA, message_id=sent.message_id, reply_markup=kb.as_markup()
        )
    # Editing without reply_markup drops the keyboard, as on Telegram.
    await sandbox_bot.edit_message_reply_markup(chat_id=LINA, message_id=sent.message_id)
    view = await chat(sandbox_client, LINA)
    current = view["messages"][str(sent.message_id)]
    assert current["text"] == "Step 2" and current["reply_markup"] is None and current["edited"]
    assert [e["kind"] for e in view["entries"]] == ["text", "edit", "edit"]
    r = await sandbox_client.post(
        f"/sandbox/api/personas/{LINA}/callback", json={"message_id": sent.message_id, "data": "ok"}
    )
    assert r.status_code == 400

    assert await sandbox_bot.delete_message(LINA, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await sandbox_bot.delete_message(LINA, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await sandbox_bot.edit_message_text("x", chat_id=LINA, message_id=sent.message_id)
    view = await chat(sandbox_client, LINA, after=view["last_seq"])
    assert view["entries"][-1]["kind"] == "delete"


async def test_errors_map_to_aiogram_exceptions(sandbox_bot: Bot, sandbox_client: AsyncClient,
                                                sandbox_state: SandboxState) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await sandbox_bot.send_message(WANG, "字" * 4097)
    assert (await sandbox_bot.send_message(WANG, "字" * 4096)).text == "字" * 4096
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await sandbox_bot.send_message(WANG, "a < b", parse_mode=ParseMode.HTML)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await sandbox_bot.send_message(99999, "hi")
    kb = InlineKeyboardBuilder()
    kb.button(text="x", callback_data="x" * 65)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await sandbox_bot.send_message(WANG, "hi", reply_markup=kb.as_markup())

    sandbox_state.inject_errors(2, retry_after=7)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as info:
            await sandbox_bot.send_message(WANG, "flood")
        assert info.value.retry_after == 7
    assert (await sandbox_bot.send_message(WANG, "after flood")).text == "after flood"
    statuses = [c.status for c in sandbox_state.calls if c.method == "sendMessage"]
    assert statuses[-3:] == [429, 429, 200]


async def test_blocked_persona(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    r = await sandbox_client.post(f"/sandbox/api/personas/{LINA}/block")
    assert r.json()["blocked"] is True
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await sandbox_bot.send_message(LINA, "outage notice")
    [update] = await next_updates(sandbox_bot)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    # Writing to the bot again unblocks it (Telegram's "Restart").
    await resident_send(sandbox_client, LINA, text="/start")
    kinds = [u.event_type for u in await next_updates(sandbox_bot)]
    assert kinds == ["my_chat_member", "message"]
    assert (await sandbox_bot.send_message(LINA, "welcome back")).text == "welcome back"


async def test_files_roundtrip(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    pdf = b"%PDF-1.4 sandbox receipt"
    doc = await sandbox_bot.send_document(
        WANG, BufferedInputFile(pdf, filename="receipt.pdf"), caption="<i>收据</i>", parse_mode=ParseMode.HTML
    )
    assert doc.document is not None and doc.document.file_name == "receipt.pdf"
    assert doc.document.mime_type == "application/pdf" and doc.caption == "收据"
    view = await chat(sandbox_client, WANG)
    bubble = view["messages"][str(doc.message_id)]
    assert bubble["kind"] == "document" and bubble["caption_html"] == "<i>收据</i>"
    r = await sandbox_client.get(bubble["file"]["url"])
    assert r.status_code == 200 and r.content == pdf and r.headers["content-type"] == "application/pdf"
    file = await sandbox_bot.get_file(doc.document.file_id)
    assert file.file_path and file.file_size == len(pdf)
    downloaded = await sandbox_bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == pdf

    png = tiny_png(12, 7)
    photo = await sandbox_bot.send_photo(WANG, BufferedInputFile(png, filename="map.png"))
    assert photo.photo is not None and (photo.photo[-1].width, photo.photo[-1].height) == (12, 7)
    # Re-sending by file_id works; a non-image upload is refused like Telegram does.
    again = await sandbox_bot.send_photo(WANG, photo.photo[-1].file_id)
    assert again.photo is not None and again.photo[-1].file_id == photo.photo[-1].file_id
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await sandbox_bot.send_photo(WANG, BufferedInputFile(b"not an image", filename="x.jpg"))

    # A resident's photo and voice note can be downloaded by the bot.
    await resident_send(sandbox_client, WANG, photo=__import__("base64").b64encode(png).decode(), caption="meter")
    await resident_send(sandbox_client, WANG, voice={"duration": 4})
    updates = await next_updates(sandbox_bot)
    photo_msg, voice_msg = (u.message for u in updates)
    assert photo_msg is not None and photo_msg.caption == "meter" and photo_msg.photo is not None
    got = await sandbox_bot.download(photo_msg.photo[-1].file_id)
    assert got is not None and got.read() == png
    assert voice_msg is not None and voice_msg.voice is not None and voice_msg.voice.duration == 4

    group = await sandbox_bot.send_media_group(
        WANG,
        [
            InputMediaPhoto(media=BufferedInputFile(png, "a.png"), caption="A"),
            InputMediaPhoto(media=photo.photo[-1].file_id),
        ],
    )
    assert len(group) == 2 and group[0].media_group_id == group[1].media_group_id


async def test_invoice_payment_flow(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    invoice = await sandbox_bot.send_invoice(
        WANG,
        title="燃气预存",
        description="预存 100 元燃气费",
        payload="topup:acc-1:10000",
        currency="CNY",
        prices=[LabeledPrice(label="燃气", amount=10000)],
        provider_token="sandbox",
    )
    assert invoice.invoice is not None and invoice.invoice.total_amount == 10000

    pay = asyncio.create_task(
        sandbox_client.post(f"/sandbox/api/personas/{WANG}/pay", json={"message_id": invoice.message_id})
    )
    [update] = await next_updates(sandbox_bot)
    query = update.pre_checkout_query
    assert query is not None and query.invoice_payload == "topup:acc-1:10000" and query.total_amount == 10000
    assert await sandbox_bot.answer_pre_checkout_query(query.id, ok=True)
    outcome = (await pay).json()
    assert outcome["ok"] is True
    [update] = await next_updates(sandbox_bot)
    assert update.message is not None and update.message.successful_payment is not None
    payment = update.message.successful_payment
    assert payment.invoice_payload == "topup:acc-1:10000" and payment.currency == "CNY"
    assert payment.telegram_payment_charge_id.startswith("sandbox-")

    view = await chat(sandbox_client, WANG)
    assert view["messages"][str(invoice.message_id)]["invoice"]["paid"] is True

    replay = await sandbox_client.post(
        f"/sandbox/api/personas/{WANG}/pay", json={"message_id": invoice.message_id, "replay": True}
    )
    assert replay.json()["ok"] is True
    [update] = await next_updates(sandbox_bot)
    assert update.message is not None and update.message.successful_payment is not None
    assert update.message.successful_payment.telegram_payment_charge_id == payment.telegram_payment_charge_id


async def test_payment_declined_by_bot(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    invoice = await sandbox_bot.send_invoice(
        WANG,
        title="Bill",
        description="Water bill",
        payload="bill:1",
        currency="CNY",
        prices=[LabeledPrice(label="Water", amount=3550)],
    )
    pay = asyncio.create_task(
        sandbox_client.post(f"/sandbox/api/personas/{WANG}/pay", json={"message_id": invoice.message_id})
    )
    [update] = await next_updates(sandbox_bot)
    assert update.pre_checkout_query is not None
    await sandbox_bot.answer_pre_checkout_query(update.pre_checkout_query.id, ok=False, error_message="账单已缴清")
    outcome = (await pay).json()
    assert outcome == {"ok": False, "error_message": "账单已缴清"}
    assert await sandbox_bot.get_updates(timeout=0) == []


async def test_long_polling_returns_as_soon_as_an_update_arrives(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(sandbox_bot.get_updates(timeout=20, request_timeout=30))
    await asyncio.sleep(0.3)
    assert not poll.done()
    await resident_send(sandbox_client, LINA, text="hello")
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 3
    assert [u.message.text for u in updates if u.message] == ["hello"]

    # An empty poll waits for its timeout and returns nothing.
    started = time.monotonic()
    assert await sandbox_bot.get_updates(offset=updates[-1].update_id + 1, timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 3


async def test_reply_keyboard_contact_and_force_reply(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    kb = ReplyKeyboardBuilder()
    kb.button(text="📱 分享手机号", request_contact=True)
    kb.button(text="取消")
    await sandbox_bot.send_message(
        WANG, "请分享手机号", reply_markup=kb.as_markup(one_time_keyboard=True, resize_keyboard=True)
    )
    view = await chat(sandbox_client, WANG)
    assert view["reply_keyboard"]["keyboard"][0][0]["request_contact"] is True
    await resident_send(sandbox_client, WANG, contact=True)
    [update] = await next_updates(sandbox_bot)
    contact = update.message.contact if update.message else None
    assert contact is not None and contact.user_id == WANG and contact.phone_number == "+8613800000001"
    assert (await chat(sandbox_client, WANG))["reply_keyboard"] is None  # one_time_keyboard hides after the tap

    await sandbox_bot.send_message(WANG, "menu", reply_markup=kb.as_markup())
    assert (await chat(sandbox_client, WANG))["reply_keyboard"] is not None
    await sandbox_bot.send_message(WANG, "removed", reply_markup=ReplyKeyboardRemove())
    assert (await chat(sandbox_client, WANG))["reply_keyboard"] is None

    ask = await sandbox_bot.send_message(WANG, "户号?", reply_markup=ForceReply(input_field_placeholder="户号"))
    view = await chat(sandbox_client, WANG)
    assert view["force_reply"]["message_id"] == ask.message_id
    await resident_send(sandbox_client, WANG, text="1234567", reply_to_message_id=ask.message_id)
    [update] = await next_updates(sandbox_bot)
    assert update.message is not None and update.message.reply_to_message is not None
    assert update.message.reply_to_message.message_id == ask.message_id

    reply = await sandbox_bot.send_message(
        WANG, "收到", reply_parameters=ReplyParameters(message_id=update.message.message_id)
    )
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "1234567"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await sandbox_bot.send_message(WANG, "x", reply_parameters=ReplyParameters(message_id=9999))


async def test_misc_methods(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    assert await sandbox_bot.delete_webhook(drop_pending_updates=True)
    info = await sandbox_bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0
    assert await sandbox_bot.set_my_commands([BotCommand(command="start", description="开始")], language_code="zh")
    assert [c.command for c in await sandbox_bot.get_my_commands(language_code="zh")] == ["start"]
    assert await sandbox_bot.get_my_commands() == []
    assert await sandbox_bot.delete_my_commands(language_code="zh")
    assert await sandbox_bot.get_my_commands(language_code="zh") == []
    assert await sandbox_bot.set_chat_menu_button()
    assert await sandbox_bot.send_chat_action(WANG, "typing")
    assert (await chat(sandbox_client, WANG))["chat_action"] == "typing"
    full = await sandbox_bot.get_chat(LINA)
    assert full.id == LINA and full.first_name == "Li Na" and full.type == "private"
    loc = await sandbox_bot.send_location(WANG, latitude=31.23, longitude=121.47)
    assert loc.location is not None and loc.location.latitude == pytest.approx(31.23)
    copied = await sandbox_bot.copy_message(chat_id=LINA, from_chat_id=WANG, message_id=loc.message_id)
    view = await chat(sandbox_client, LINA)
    assert view["messages"][str(copied.message_id)]["kind"] == "location"
    assert await sandbox_bot.log_out() and await sandbox_bot.close()


async def test_real_dispatcher_polling(sandbox_bot: Bot, sandbox_client: AsyncClient) -> None:
    """The whole loop: Dispatcher.start_polling + handlers, driven only through the resident API."""
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        kb = InlineKeyboardBuilder()
        kb.button(text="Ping", callback_data="ping")
        await message.answer(
            f"Hello, {message.from_user.first_name if message.from_user else '?'}",
            reply_markup=kb.as_markup(),
        )

    @router.callback_query(F.data == "ping")
    async def ping(query: CallbackQuery) -> None:
        await query.answer("pong", show_alert=True)

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(
        dp.start_polling(sandbox_bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    try:
        await resident_send(sandbox_client, LINA, text="/start")
        r = await sandbox_client.get(f"/sandbox/api/personas/{LINA}/chat", params={"after": 0, "wait": 5})
        view = r.json()
        for _ in range(20):
            bot_msgs = [e for e in view["entries"] if e["from"] == "bot"]
            if bot_msgs:
                break
            view = (
                await sandbox_client.get(
                    f"/sandbox/api/personas/{LINA}/chat", params={"after": view["last_seq"], "wait": 5}
                )
            ).json()
        [hello] = bot_msgs
        assert hello["text"] == "Hello, Li Na"
        r = await sandbox_client.post(
            f"/sandbox/api/personas/{LINA}/callback",
            json={"message_id": hello["message_id"], "data": "ping", "wait": 5},
        )
        assert r.json()["answer"] == {"text": "pong", "show_alert": True, "url": None}
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 10)


async def test_abandoned_long_poll_is_released(sandbox_server: str, sandbox_state: SandboxState) -> None:
    """A poller that disconnects (e.g. Dispatcher.stop_polling) must not leave a waiting handler behind."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        url = f"{sandbox_server}/bot{sandbox_state.token}/getUpdates"
        request = asyncio.create_task(session.post(url, data={"timeout": "30"}))
        for _ in range(50):
            if sandbox_state.waiting:
                break
            await asyncio.sleep(0.02)
        assert sandbox_state.waiting == 1
        request.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await request
    for _ in range(40):
        if not sandbox_state.waiting:
            break
        await asyncio.sleep(0.05)
    assert sandbox_state.waiting == 0
