"""Issue 12 F7 (the sandbox is served only without a token, on loopback or on purpose) and F10 (the emulated
Bot API answers only the sandbox's own token)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from core.settings import Settings


@pytest.mark.parametrize(("token", "host", "opt_in", "served"), [
    (None, "127.0.0.1", False, True),
    (None, "localhost", False, True),
    (None, "::1", False, True),
    (None, "127.0.0.2", False, True),
    (None, "0.0.0.0", False, False),
    (None, "192.168.1.20", False, False),
    (None, "onestop.example.cn", False, False),
    (None, "0.0.0.0", True, True),
    ("123:real", "127.0.0.1", False, False),
    ("123:real", "0.0.0.0", True, False),  # a real bot never gets a fake Telegram next to it
])
def test_serve_sandbox_decision(token, host, opt_in, served) -> None:
    s = Settings(_env_file=None, telegram_bot_token=token and SecretStr(token), host=host, sandbox_opt_in=opt_in)
    assert s.serve_sandbox() is served


def test_opt_in_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ONESTOP_SANDBOX", "1")
    assert Settings(_env_file=None, host="0.0.0.0").serve_sandbox()
    monkeypatch.setenv("ONESTOP_SANDBOX", "0")
    assert not Settings(_env_file=None, host="0.0.0.0").serve_sandbox()


SANDBOX_PATHS = ["/sandbox", "/sandbox/api/personas", "/sandbox/api/updates", "/sandbox/files/x",
                 "/sandbox/bot1000000001:x/getMe", "/sandbox/file/bot1000000001:x/a.jpg"]


@pytest.mark.parametrize(("token", "host", "opt_in"), [
    (None, "0.0.0.0", False), ("123:real", "127.0.0.1", False), ("123:real", "0.0.0.0", True),
])
async def test_sandbox_is_404_when_not_served(ctx, token, host, opt_in) -> None:
    ctx.settings.telegram_bot_token = token and SecretStr(token)
    ctx.settings.host, ctx.settings.sandbox_opt_in = host, opt_in
    api_app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url="http://t") as c:
        for path in SANDBOX_PATHS:
            assert (await c.get(path)).status_code == 404, path
        assert (await c.post("/sandbox/api/personas/10001/send", json={"text": "hi"})).status_code == 404


async def test_sandbox_served_on_loopback(staff_client) -> None:
    assert (await staff_client.get("/sandbox")).status_code == 200
    assert (await staff_client.get("/sandbox/api/personas")).status_code == 200


async def test_bot_api_needs_the_sandboxs_own_token(api_app, staff_client, ctx) -> None:
    state = api_app.state.sandbox
    assert state.token == ctx.settings.bot_token  # the in-process bot is built with this very token
    assert (await staff_client.post("/sandbox/api/personas/10001/send", json={"text": "my account is 12345"})
            ).status_code == 200
    for stranger in ("1000000001:SANDBOX-onestop-demo-token", "1:x", state.token + "x",
                     state.token.split(":")[0] + ":guess"):
        for method in ("getUpdates", "getMe", "sendMessage"):
            r = await staff_client.post(f"/sandbox/bot{stranger}/{method}", json={"chat_id": 10001, "text": "pwned"})
            assert r.status_code == 401 and "result" not in r.json(), (stranger, method)
        assert (await staff_client.get(f"/sandbox/file/bot{stranger}/photos/a.jpg")).status_code == 401
    chat = (await staff_client.get("/sandbox/api/personas/10001/chat")).json()
    assert not any(e.get("from") == "bot" for e in chat["entries"])  # nothing was sent as the bot
    r = await staff_client.post(f"/sandbox/bot{state.token}/getUpdates", json={"timeout": 0})
    assert r.status_code == 200 and "12345" in str(r.json()["result"])  # the real bot still reads its updates


def test_the_token_is_secret_per_run_and_shared_by_one_installation() -> None:
    a, b = Settings(_env_file=None), Settings(_env_file=None)
    assert a.bot_token != b.bot_token and a.bot_token == a.bot_token
    assert "onestop-demo-token" not in a.bot_token
    k1 = Settings(_env_file=None, secret_key=SecretStr("k"))
    k2 = Settings(_env_file=None, secret_key=SecretStr("k"))
    assert k1.bot_token == k2.bot_token != Settings(_env_file=None, secret_key=SecretStr("other")).bot_token
