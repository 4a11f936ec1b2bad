"""`onestop run` in sandbox mode: a resident talks to the real bot over the sandbox HTTP API."""

from __future__ import annotations

import pytest

from tests.support.running import Resident, RunningApp, inline_buttons

pytestmark = pytest.mark.e2e


def test_healthz_and_sandbox_page(running_app: RunningApp) -> None:
    with running_app.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        page = c.get("/sandbox")
        assert page.status_code == 200 and "composer-input" in page.text
        assert any(p["user_id"] == 10002 for p in c.get("/sandbox/api/personas").json()["personas"])


def test_new_resident_starts_picks_language_and_taps_menu(running_app: RunningApp) -> None:
    with running_app.client() as c:
        li = Resident(c, 10002)
        li.send(text="/start")
        entries = li.wait_for(lambda e: "choose your language" in (e.get("text") or ""))
        lang_msg = entries[-1]
        english = next(b for b in inline_buttons(lang_msg) if b["text"] == "English")
        li.tap(lang_msg["message_id"], english["callback_data"])
        li.wait_for(lambda e: "simple mode" in (e.get("text") or ""))
        keyboard = li.reply_keyboard()
        assert "⚙️ Settings" in keyboard and "📚 Guides & checklists" in keyboard
        li.send(text="⚙️ Settings")
        settings = li.wait_for(lambda e: "Settings" in (e.get("text") or ""))[-1]
        assert "Language: English" in settings["text"]


def test_chinese_resident_gets_chinese_menu(running_app: RunningApp) -> None:
    with running_app.client() as c:
        wang = Resident(c, 10001)  # demo data: language already Chinese
        wang.send(text="/start")
        wang.wait_for(lambda e: "欢迎回来" in (e.get("text") or ""))
        assert "📚 办事指南" in wang.reply_keyboard()
