"""The sandbox over HTTP (ASGI): raw Bot API requests in every encoding, and the resident JSON API."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from api.sandbox import Persona, SandboxState, router
from api.sandbox.media import tiny_png
from tests.support.sandbox import TOKEN

API = f"/sandbox/bot{TOKEN}"
SANDBOX_JS = (Path(__file__).resolve().parents[3] / "api/static/sandbox/sandbox.js").read_text("utf-8")
WANG, LINA, ZHANG = 10001, 10002, 10003


async def call(sandbox_client: AsyncClient, method: str, **params: object) -> dict:
    r = await sandbox_client.post(f"{API}/{method}", json=params)
    body = r.json()
    assert (r.status_code == 200) == body["ok"], body
    return body


async def send(sandbox_client: AsyncClient, user_id: int, **payload: object) -> dict:
    r = await sandbox_client.post(f"/sandbox/api/personas/{user_id}/send", json=payload)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------------- Bot API transport


async def test_token_and_method_checks(sandbox_client: AsyncClient) -> None:
    r = await sandbox_client.post("/sandbox/botnot-a-token/getMe")
    assert r.status_code == 401
    assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    r = await sandbox_client.post(f"{API}/sendTelepathy")
    assert r.status_code == 404
    assert r.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    r = await sandbox_client.get(f"{API}/GETME")  # method names are case-insensitive
    assert r.json()["result"]["id"] == 424242


async def test_every_encoding_is_accepted(sandbox_client: AsyncClient) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    r1 = await sandbox_client.post(
        f"{API}/sendMessage", json={"chat_id": WANG, "text": "json", "reply_markup": markup}
    )
    r2 = await sandbox_client.post(
        f"{API}/sendMessage", data={"chat_id": str(WANG), "text": "form", "reply_markup": json.dumps(markup)}
    )
    r3 = await sandbox_client.post(
        f"{API}/sendMessage",
        data={"chat_id": str(WANG), "text": "multipart"},
        files={"unused": ("x.txt", b"x")},
    )
    r4 = await sandbox_client.get(f"{API}/sendMessage", params={"chat_id": WANG, "text": "query"})
    results = [r.json()["result"] for r in (r1, r2, r3, r4)]
    assert [m["text"] for m in results] == ["json", "form", "multipart", "query"]
    assert [m["message_id"] for m in results] == [1, 2, 3, 4]
    assert results[0]["reply_markup"] == markup and results[1]["reply_markup"] == markup
    assert results[0]["chat"] == {"id": WANG, "type": "private", "first_name": "王建国"}
    assert results[0]["from"]["is_bot"] is True


async def test_multipart_upload_by_attach_and_by_field(sandbox_client: AsyncClient) -> None:
    png = tiny_png()
    r = await sandbox_client.post(
        f"{API}/sendPhoto",
        data={"chat_id": str(WANG), "photo": "attach://pic"},
        files={"pic": ("p.png", png, "image/png")},
    )
    photo = r.json()["result"]["photo"][-1]
    assert (photo["width"], photo["height"], photo["file_size"]) == (8, 8, len(png))
    r = await sandbox_client.post(
        f"{API}/sendDocument",
        data={"chat_id": str(WANG)},
        files={"document": ("电费.csv", b"a,b\n1,2\n", "text/csv")},
    )
    doc = r.json()["result"]["document"]
    assert doc["file_name"] == "电费.csv" and doc["mime_type"] == "text/csv"
    got = (await call(sandbox_client, "getFile", file_id=doc["file_id"]))["result"]
    r = await sandbox_client.get(f"/sandbox/file/bot{TOKEN}/{got['file_path']}")
    assert r.content == b"a,b\n1,2\n"
    r = await sandbox_client.get(f"/sandbox/files/{doc['file_id']}")
    # A resident's or the bot's file is never served as what its name claims (issue 12 F1).
    assert (
        r.headers["content-type"] == "application/octet-stream"
        and r.headers["content-disposition"].startswith("attachment;")
        and "filename*=UTF-8''%E7%94%B5%E8%B4%B9.csv" in r.headers["content-disposition"]
    )
    r = await sandbox_client.post(f"{API}/sendPhoto", data={"chat_id": str(WANG), "photo": "attach://missing"})
    assert r.status_code == 400
    body = await sandbox_client.post(f"{API}/getFile", json={"file_id": "nope"})
    assert body.json()["description"] == "Bad Request: invalid file_id"


async def test_telegram_validation(sandbox_client: AsyncClient) -> None:
    async def error(method: str, **params: object) -> tuple[int, str]:
        r = await sandbox_client.post(f"{API}/{method}", json=params)
        return r.status_code, r.json()["description"]

    assert await error("sendMessage", text="x") == (400, "Bad Request: chat_id is empty")
    assert await error("sendMessage", chat_id=1, text="x") == (400, "Bad Request: chat not found")
    assert await error("sendMessage", chat_id=WANG, text="  ") == (400, "Bad Request: message text is empty")
    assert await error("sendMessage", chat_id=WANG, text="x" * 4097) == (
        400,
        "Bad Request: message is too long",
    )
    rows = [[{"text": str(i), "callback_data": str(i)}] for i in range(101)]
    assert (await error("sendMessage", chat_id=WANG, text="x", reply_markup={"inline_keyboard": rows}))[
        0
    ] == 400
    assert (
        await call(
            sandbox_client, "sendMessage", chat_id=WANG, text="x", reply_markup={"inline_keyboard": rows[:100]}
        )
    )["ok"]
    no_action = {"inline_keyboard": [[{"text": "plain"}]]}
    assert (await error("sendMessage", chat_id=WANG, text="x", reply_markup=no_action))[0] == 400
    status, description = await error(
        "sendMessage",
        chat_id=WANG,
        text="x",
        reply_markup={"inline_keyboard": [[{"text": "d", "callback_data": "数" * 22}]]},
    )
    assert (status, description) == (400, "Bad Request: BUTTON_DATA_INVALID")  # 66 bytes > 64
    r = await sandbox_client.post(
        f"{API}/sendMessage", data={"chat_id": str(WANG), "text": "x", "reply_markup": "{oops"}
    )
    assert r.json()["description"] == "Bad Request: can't parse reply keyboard markup JSON object"
    assert (
        await error(
            "sendInvoice", chat_id=WANG, title="t", description="d", payload="p", currency="CNY", prices=[]
        )
    )[0] == 400
    assert await error("answerCallbackQuery", callback_query_id="1") == (
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )
    assert (await error("sendChatAction", chat_id=WANG, action="dancing"))[0] == 400
    # "@username" addressing works for personas that have one.
    state_persona = await sandbox_client.post(
        "/sandbox/api/personas", json={"first_name": "Tom", "username": "tom_q"}
    )
    assert (await call(sandbox_client, "sendMessage", chat_id="@tom_q", text="hi"))["result"]["chat"][
        "id"
    ] == state_persona.json()["user_id"]


async def test_get_updates_offset_limit_allowed_updates(sandbox_client: AsyncClient) -> None:
    for text in ("one", "two", "three"):
        await send(sandbox_client, WANG, text=text)
    result = (await call(sandbox_client, "getUpdates", limit=2))["result"]
    assert [u["message"]["text"] for u in result] == ["one", "two"]
    ids = [u["update_id"] for u in result]
    result = (await call(sandbox_client, "getUpdates", offset=ids[1] + 1))["result"]
    assert [u["message"]["text"] for u in result] == ["three"]
    # Confirmed updates are gone; a callback_query is dropped when only messages are allowed.
    sent = (
        await call(
            sandbox_client,
            "sendMessage",
            chat_id=WANG,
            text="k",
            reply_markup={"inline_keyboard": [[{"text": "b", "callback_data": "b"}]]},
        )
    )["result"]
    await sandbox_client.post(
        f"/sandbox/api/personas/{WANG}/callback", json={"message_id": sent["message_id"], "data": "b"}
    )
    await send(sandbox_client, WANG, text="four")
    result = (
        await call(sandbox_client, "getUpdates", offset=result[0]["update_id"] + 1, allowed_updates=["message"])
    )["result"]
    assert [list(u)[1] for u in result] == ["message"]
    # Negative offset keeps only the last N.
    await send(sandbox_client, WANG, text="five")
    result = (await call(sandbox_client, "getUpdates", offset=-1))["result"]
    assert [u["message"]["text"] for u in result] == ["five"]


async def test_webhook_blocks_get_updates(sandbox_client: AsyncClient) -> None:
    assert (await call(sandbox_client, "setWebhook", url="https://example.com/hook"))["result"] is True
    r = await sandbox_client.post(f"{API}/getUpdates")
    assert r.status_code == 409
    info = (await call(sandbox_client, "getWebhookInfo"))["result"]
    assert info["url"] == "https://example.com/hook"
    await call(sandbox_client, "deleteWebhook")
    assert (await call(sandbox_client, "getUpdates"))["result"] == []


async def test_injected_errors_over_http(sandbox_client: AsyncClient, sandbox_state: SandboxState) -> None:
    r = await sandbox_client.post(
        "/sandbox/api/inject_errors", json={"count": 1, "retry_after": 3, "methods": ["sendMessage"]}
    )
    assert r.status_code == 200
    assert (await call(sandbox_client, "getMe"))["ok"]  # other methods are unaffected
    r = await sandbox_client.post(f"{API}/sendMessage", json={"chat_id": WANG, "text": "x"})
    assert r.status_code == 429
    assert r.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    sandbox_state.inject_errors(1, error_code=502, chat_id=LINA)
    assert (await call(sandbox_client, "sendMessage", chat_id=WANG, text="x"))["ok"]
    r = await sandbox_client.post(f"{API}/sendMessage", json={"chat_id": LINA, "text": "x"})
    assert r.status_code == 502
    calls = (await sandbox_client.get("/sandbox/api/calls", params={"method": "sendMessage"})).json()["calls"]
    assert [c["status"] for c in calls] == [429, 200, 502]


# ---------------------------------------------------------------------- resident API


async def test_personas_add_and_block(sandbox_client: AsyncClient, sandbox_state: SandboxState) -> None:
    personas = (await sandbox_client.get("/sandbox/api/personas")).json()["personas"]
    assert [(p["user_id"], p["first_name"], p["phone"], p["language_code"]) for p in personas] == [
        (WANG, "王建国", "+8613800000001", "zh-hans"),
        (LINA, "Li Na", "+8613800000002", "en"),
        (ZHANG, "张奶奶", "+8613800000003", "zh-hans"),
    ]
    r = await sandbox_client.post("/sandbox/api/personas", json={"first_name": "赵师傅", "phone": "+8613800000004"})
    assert r.status_code == 201 and r.json()["user_id"] == ZHANG + 1
    assert (
        await sandbox_client.post("/sandbox/api/personas", json={"first_name": "x", "user_id": WANG})
    ).status_code == 409
    assert (await sandbox_client.post(f"/sandbox/api/personas/{ZHANG}/block")).json()["blocked"] is True
    assert (await sandbox_client.post(f"/sandbox/api/personas/{ZHANG}/block", json={"blocked": True})).json()[
        "blocked"
    ]
    assert (await sandbox_client.post(f"/sandbox/api/personas/{ZHANG}/block")).json()["blocked"] is False
    kinds = [u["my_chat_member"]["new_chat_member"]["status"] for u in sandbox_state.updates]
    assert kinds == ["kicked", "member"]
    assert (await sandbox_client.get("/sandbox/api/personas/4242/chat")).status_code == 404


async def test_resident_message_kinds(sandbox_client: AsyncClient) -> None:
    text = await send(sandbox_client, WANG, text="/start ref-42")
    assert text["telegram_message"]["text"] == "/start ref-42" and text["update_id"] >= 1
    assert (
        text["kind"] == "text"
        and text["from"] == "user"
        and text["html"] == ('<span class="bot-command">/start</span> ref-42')
    )
    contact = await send(
        sandbox_client, WANG, contact={"phone_number": "13900000000", "first_name": "邻居", "user_id": 5}
    )
    assert contact["contact"] == {"phone_number": "13900000000", "first_name": "邻居", "user_id": 5}
    loc = await send(sandbox_client, WANG, location={"latitude": 39.9, "longitude": 116.4})
    assert loc["location"] == {"latitude": 39.9, "longitude": 116.4}
    png = tiny_png()
    photo = await send(sandbox_client, WANG, photo=base64.b64encode(png).decode())
    assert photo["kind"] == "photo" and photo["file"]["mime_type"] == "image/png"
    assert (await sandbox_client.get(photo["file"]["url"])).content == png
    doc = await send(
        sandbox_client, WANG, document={"data": base64.b64encode(b"hello").decode(), "file_name": "a.txt"}
    )
    assert doc["file"]["name"] == "a.txt" and doc["file"]["mime_type"] == "text/plain"
    voice = await send(sandbox_client, WANG, voice=True)
    assert voice["kind"] == "voice" and voice["file"]["mime_type"] == "audio/ogg"
    r = await sandbox_client.post(
        f"/sandbox/api/personas/{WANG}/send",
        files={"photo": ("m.png", png, "image/png")},
        data={"caption": "电表"},
    )
    assert r.json()["caption"] == "电表"
    r = await sandbox_client.post(
        f"/sandbox/api/personas/{WANG}/send", json={"photo": base64.b64encode(b"no").decode()}
    )
    assert r.status_code == 400
    assert (await sandbox_client.post(f"/sandbox/api/personas/{WANG}/send", json={})).status_code == 400

    updates = (await call(sandbox_client, "getUpdates"))["result"]
    messages = [u["message"] for u in updates]
    assert messages[0]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert [m["message_id"] for m in messages] == list(range(1, 8))
    assert all(m["from"]["id"] == WANG and m["chat"]["id"] == WANG for m in messages)


async def test_callback_requires_a_real_button_unless_forced(sandbox_client: AsyncClient) -> None:
    sent = (
        await call(
            sandbox_client,
            "sendMessage",
            chat_id=LINA,
            text="pick",
            reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
        )
    )["result"]
    url = f"/sandbox/api/personas/{LINA}/callback"
    assert (await sandbox_client.post(url, json={"message_id": sent["message_id"], "data": "zzz"})).status_code == 400
    assert (await sandbox_client.post(url, json={"message_id": 999, "data": "a"})).status_code == 400
    assert (
        await sandbox_client.post(
            f"/sandbox/api/personas/{WANG}/callback", json={"message_id": sent["message_id"], "data": "a"}
        )
    ).status_code == 400
    # The queued callback_query is a snapshot: editing the message afterwards does not change it.
    pressed = await sandbox_client.post(url, json={"message_id": sent["message_id"], "data": "a"})
    assert pressed.status_code == 200
    await call(sandbox_client, "editMessageText", chat_id=LINA, message_id=sent["message_id"], text="picked")
    queued = (await call(sandbox_client, "getUpdates"))["result"][-1]
    assert queued["update_id"] == pressed.json()["update_id"]
    assert queued["callback_query"]["message"]["text"] == "pick"
    assert "edit_date" not in queued["callback_query"]["message"]
    forged = await sandbox_client.post(url, json={"message_id": 999, "data": "admin:delete", "force": True})
    assert forged.status_code == 200
    updates = (await call(sandbox_client, "getUpdates"))["result"]
    query = updates[-1]["callback_query"]
    assert query["data"] == "admin:delete" and "message" not in query


async def test_chat_long_poll_wakes_on_new_entries(sandbox_client: AsyncClient) -> None:
    first = (await sandbox_client.get(f"/sandbox/api/personas/{LINA}/chat")).json()
    assert first["entries"] == [] and first["reply_keyboard"] is None
    started = time.monotonic()
    poll = asyncio.create_task(
        sandbox_client.get(f"/sandbox/api/personas/{LINA}/chat", params={"after": first["last_seq"], "wait": 10})
    )
    await asyncio.sleep(0.2)
    assert not poll.done()
    await call(sandbox_client, "sendMessage", chat_id=LINA, text="<b>停水</b>通知", parse_mode="HTML")
    view = (await poll).json()
    assert time.monotonic() - started < 3
    [entry] = view["entries"]
    assert (
        entry["kind"] == "text"
        and entry["html"] == "<b>停水</b>通知"
        and entry["raw_text"] == "<b>停水</b>通知"
    )
    assert entry["seq"] == view["last_seq"]
    # Entries of other chats do not wake this chat's poll.
    started = time.monotonic()
    poll = asyncio.create_task(
        sandbox_client.get(f"/sandbox/api/personas/{LINA}/chat", params={"after": view["last_seq"], "wait": 0.5})
    )
    await call(sandbox_client, "sendMessage", chat_id=WANG, text="other chat")
    assert (await poll).json()["entries"] == []
    assert time.monotonic() - started >= 0.45


async def test_pay_validation_and_timeout(sandbox_client: AsyncClient, sandbox_state: SandboxState) -> None:
    sandbox_state.pay_timeout = 0.2
    text = (await call(sandbox_client, "sendMessage", chat_id=WANG, text="not an invoice"))["result"]
    url = f"/sandbox/api/personas/{WANG}/pay"
    assert (await sandbox_client.post(url, json={"message_id": text["message_id"]})).status_code == 400
    inv = (
        await call(
            sandbox_client,
            "sendInvoice",
            chat_id=WANG,
            title="T",
            description="D",
            payload="p",
            currency="XTR",
            prices=[{"label": "Stars", "amount": 5}],
        )
    )["result"]
    outcome = (await sandbox_client.post(url, json={"message_id": inv["message_id"]})).json()
    assert outcome["ok"] is False and outcome["timeout"] is True
    query_id = sandbox_state.updates[-1]["pre_checkout_query"]["id"]
    late = await sandbox_client.post(
        f"{API}/answerPreCheckoutQuery", json={"pre_checkout_query_id": query_id, "ok": True}
    )
    assert late.status_code == 400
    assert (await sandbox_client.post(url, json={"message_id": inv["message_id"], "replay": True})).status_code == 400


async def test_reset_keeps_personas_and_cursors(sandbox_client: AsyncClient, sandbox_state: SandboxState) -> None:
    await send(sandbox_client, WANG, text="before")
    seq, update_id = sandbox_state.seq, sandbox_state.updates[-1]["update_id"]
    assert (await sandbox_client.post("/sandbox/api/reset")).json() == {"ok": True}
    assert sandbox_state.updates == [] and len(sandbox_state.personas) == 3
    await send(sandbox_client, WANG, text="after")
    assert sandbox_state.seq > seq and sandbox_state.updates[-1]["update_id"] > update_id


async def test_chat_page_is_served(sandbox_client: AsyncClient) -> None:
    r = await sandbox_client.get("/sandbox")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script>" not in r.text and "<style>" not in r.text  # issue 12 F3: the CSP allows neither
    assert '<script src="/static/sandbox/sandbox.js" defer></script>' in r.text
    page = r.text + SANDBOX_JS
    for marker in (
        'id="composer-input"',
        'id="send-btn"',
        'id="personas"',
        "inline-btn",
        "reply-btn",
        "persona-",
        'id="block-btn"',
        'id="contact-btn"',
        'id="photo-btn"',
        'id="voice-btn"',
        'id="location-btn"',
    ):
        assert marker in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # no CDN


async def test_custom_personas_and_missing_state() -> None:
    app = FastAPI()
    app.include_router(router)
    app.state.sandbox = SandboxState([Persona(user_id=7, first_name="Solo", phone="8613900000007")])
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/sandbox/api/personas/7/send", json={"contact": True})
        assert r.json()["contact"] == {"phone_number": "8613900000007", "first_name": "Solo", "user_id": 7}
    bare = FastAPI()
    bare.include_router(router)
    async with AsyncClient(transport=ASGITransport(app=bare), base_url="http://t") as c:
        assert (await c.get("/sandbox/api/personas")).status_code == 503
