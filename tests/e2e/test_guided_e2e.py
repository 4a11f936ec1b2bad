"""Issue #8 "Done when", against the running `onestop run` sandbox (real bot, real HTTP, real database).

A new resident turns on simple mode, links her account, checks the balance, books a safety inspection and
reports a gas leak without typing a single character: every message she sends is the text of a reply-keyboard
button the bot showed her at that moment, an inline button she tapped, or her own contact shared by the
contact button. (/start is what Telegram's "Start" button sends.)
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from core import account_numbers
from db.enums import Utility
from tests.support.running import Resident, RunningApp, inline_buttons

pytestmark = pytest.mark.e2e

LINA = 10002
LINA_WATER = account_numbers.make(Utility.water, 1005)  # demo data: Li Na's phone is on file for it
MAX_TEXT = 300
PACE = 0.6  # seconds between two taps: a person's pace (the bot drops floods of > 20 updates in 10 s)


def text_of(entry: dict) -> str:
    return entry.get("text") or entry.get("caption") or ""


def has(fragment: str):
    return lambda e: fragment in text_of(e)


def keyboard_of(entry: dict) -> list[dict]:
    """The reply keyboard a bot message came with (the guided screen), as given to sendMessage."""
    markup = entry.get("given_reply_markup") or {}
    return [b for row in markup.get("keyboard", []) for b in row]


class GuidedResident(Resident):
    """A resident who only presses what the bot shows: buttons of the current reply keyboard and contacts."""

    def __init__(self, client, user_id: int) -> None:
        super().__init__(client, user_id)
        self.typed: list[str] = []  # every text sent, to prove each was a button of the keyboard shown
        self.last = 0.0

    def send(self, **body: object) -> None:
        time.sleep(max(0.0, self.last + PACE - time.monotonic()))
        self.last = time.monotonic()
        super().send(**body)

    def screen(self) -> list[dict]:
        """Bot messages until the next guided screen (a message with a reply keyboard)."""
        seen = self.wait_for(lambda e: bool(keyboard_of(e)))
        for entry in seen:
            assert len(text_of(entry)) <= MAX_TEXT, text_of(entry)
        return seen

    def press(self, fragment: str) -> list[dict]:
        labels = self.reply_keyboard()
        matches = [label for label in labels if fragment in label]
        assert matches, f"no button with {fragment!r} in {labels}"
        self.typed.append(matches[0])
        self.send(text=matches[0])
        return self.screen()

    def share_contact(self) -> list[dict]:
        assert any(b.get("request_contact") for b in self.keyboard_buttons()), "no share-contact button shown"
        self.send(contact=True)
        return self.screen()

    def keyboard_buttons(self) -> list[dict]:
        kb = self.c.get(f"/sandbox/api/personas/{self.id}/chat").json().get("reply_keyboard") or {}
        return [b for row in kb.get("keyboard", []) for b in row]


def tap_inline(resident: Resident, entry: dict, fragment: str) -> None:
    [button] = [b for b in inline_buttons(entry) if fragment in b["text"]][:1]
    resident.tap(entry["message_id"], button["callback_data"])


def db_rows(app: RunningApp, sql: str, *args: object) -> list[tuple]:
    path = app.env["DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, args).fetchall()


def test_guided_resident_links_checks_balance_books_inspection_and_reports_gas_leak_by_buttons_only(
        running_app: RunningApp) -> None:
    with running_app.client() as c:
        lina = GuidedResident(c, LINA)
        lina.send(text="/start")
        lang = lina.wait_for(has("choose your language"))[-1]
        tap_inline(lina, lang, "English")
        offer = lina.wait_for(lambda e: any("simple mode" in b["text"] for b in inline_buttons(e)))[-1]
        tap_inline(lina, offer, "simple mode")
        home = lina.screen()[-1]
        assert len(keyboard_of(home)) == 6

        # Link her account: share her own number, then tap the account offered (nothing shown before).
        assert "not linked" in text_of(lina.press("💳")[-1])
        lina.press("🔗")
        pick = lina.share_contact()
        assert not any(LINA_WATER in text_of(e) for e in pick)
        seen = lina.press("💧")
        assert any("linked" in text_of(e) for e in seen)
        photo = next(e for e in seen if e.get("kind") == "photo")
        assert c.get(photo["file"]["url"]).content[:8] == b"\x89PNG\r\n\x1a\n"  # the 12-month chart
        balance = text_of(seen[-1])
        assert "Money left: ¥" in balance or "You owe ¥" in balance
        assert db_rows(running_app, "SELECT relation FROM account_link WHERE resident_id = ?", LINA) == [("self",)]

        # Book a gas safety inspection: address from the account, the first day and window offered.
        lina.press("🏠")
        lina.press("📅")
        lina.press("🛡")
        lina.press("🏡")
        lina.press("📅")
        seen = lina.press("🕘")
        if any(b.get("request_contact") for b in lina.keyboard_buttons()):
            seen = lina.share_contact()
        assert "check" in text_of(seen[-1]).lower()  # a plain-words confirmation before anything is sent
        seen = lina.press("✅")
        [(appt_number, service, status)] = db_rows(
            running_app, "SELECT number, service, status FROM appointment WHERE resident_id = ?", LINA)
        assert service == "safety_inspection" and status == "requested"
        assert any(appt_number in text_of(e) for e in seen)

        # Report a gas leak: safety advice first, then the place and her number, then the emergency ticket.
        lina.press("🏠")
        lina.press("🛠")
        seen = lina.press("🔥")
        assert "flames" in " ".join(text_of(e) for e in seen).lower()
        lina.press("🏡")
        if any(b.get("request_contact") for b in lina.keyboard_buttons()):
            lina.share_contact()
        seen = lina.press("✅")
        [(number, category, priority, phone, address)] = db_rows(
            running_app, "SELECT number, category, priority, contact_phone, address FROM ticket "
                         "WHERE resident_id = ? AND kind = 'fault'", LINA)
        assert category == "gas_leak" and priority == "emergency"
        assert phone.endswith("13800000002") and "东风街" in address  # her own number, her account's address
        assert any(number in text_of(e) for e in seen)

        # She never typed: every text she sent was a button of the keyboard on her screen.
        assert len(lina.typed) >= 12
        sent = [e for e in c.get(f"/sandbox/api/personas/{LINA}/chat").json()["entries"] if e.get("from") == "user"]
        texts = [e.get("text") for e in sent if e.get("kind") == "text"]
        assert texts == ["/start", *lina.typed]
