"""Issue #4 "Done when", against the running `onestop run` sandbox (real bot, real HTTP, real database).

A new resident links a demo account by sharing her contact, sees the balance with a chart, tops up with the
sandbox invoice and sees the new balance; a payment replayed twice is recorded once; five wrong codes lock.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from core import account_numbers
from db.enums import Utility
from tests.support.running import Resident, RunningApp, inline_buttons

pytestmark = pytest.mark.e2e

LINA = 10002
LINA_WATER = account_numbers.make(Utility.water, 1005)  # demo data: the 5th account has Li Na's phone on file
MONEY = r"¥([\d,]+\.\d{2})"


def text_of(entry: dict) -> str:
    return entry.get("text") or entry.get("caption") or ""


def has(fragment: str):
    return lambda e: fragment in text_of(e)


def fen(amount: str) -> int:
    return int(Decimal(amount.replace(",", "")) * 100)


def button(entry: dict, text: str) -> dict:
    for b in inline_buttons(entry):
        if text in b["text"]:
            return b
    raise AssertionError(f"no button {text!r} in {[b['text'] for b in inline_buttons(entry)]}")


def speak_english(resident: Resident) -> None:
    resident.send(text="/start")
    lang_msg = resident.wait_for(has("choose your language"))[-1]
    resident.tap(lang_msg["message_id"], button(lang_msg, "English")["callback_data"])
    resident.wait_for(has("simple mode"))


def open_link_form(resident: Resident, number: str) -> None:
    resident.send(text="💳 Balance & top-up")
    overview = resident.wait_for(lambda e: any("Link an account" in b["text"] for b in inline_buttons(e)))[-1]
    resident.tap(overview["message_id"], button(overview, "Link an account")["callback_data"])
    whose = resident.wait_for(has("Whose account"))[-1]
    resident.tap(whose["message_id"], button(whose, "My own account")["callback_data"])
    resident.wait_for(has("10-digit account number"))
    resident.send(text=number)
    resident.wait_for(has("prove the account is yours"))


def balance_of(detail: dict) -> int:
    m = re.search(r"Balance \(prepaid credit\): " + MONEY, text_of(detail))
    assert m, text_of(detail)
    return fen(m.group(1))


def test_new_resident_links_sees_chart_tops_up_and_a_replay_counts_once(running_app: RunningApp) -> None:
    with running_app.client() as c:
        lina = Resident(c, LINA)
        speak_english(lina)
        open_link_form(lina, LINA_WATER[:4] + " " + LINA_WATER[4:])
        assert any(b.get("request_contact") for row in (c.get(f"/sandbox/api/personas/{LINA}/chat").json()
                                                        ["reply_keyboard"] or {}).get("keyboard", []) for b in row)

        # She taps "Share my phone number": the sandbox sends her own contact (user_id = her id).
        lina.send(contact=True)
        seen = lina.wait_for(has("Alerts:"))
        assert any("Verified" in text_of(e) for e in seen)
        photo = next(e for e in seen if e.get("kind") == "photo")
        assert "last 12 months" in text_of(photo)
        png = c.get(photo["file"]["url"])
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n" and len(png.content) > 2000
        detail = seen[-1]
        text = text_of(detail)
        assert LINA_WATER in text and "李*" in text and "李娜" not in text
        for label in ("Address:", "Meter:", "Account state:", "Last reading:", "Average use:", "Credit lasts:"):
            assert label in text
        before = balance_of(detail)

        # Top up ¥100 with the sandbox invoice.
        lina.tap(detail["message_id"], button(detail, "Top up")["callback_data"])
        amounts = lina.wait_for(has("Choose how much to pay"))[-1]
        lina.tap(amounts["message_id"], button(amounts, "¥100.00")["callback_data"])
        invoice = lina.wait_for(lambda e: e.get("kind") == "invoice")[-1]
        assert invoice["invoice"]["total_amount"] == 10000 and invoice["invoice"]["currency"] == "CNY"
        paid = c.post(f"/sandbox/api/personas/{LINA}/pay", json={"message_id": invoice["message_id"]}).json()
        assert paid["ok"] is True, paid
        receipt = lina.wait_for(has("Payment received"))[-1]
        m = re.search(r"New balance: " + MONEY, text_of(receipt))
        assert m and fen(m.group(1)) == before + 10000, text_of(receipt)
        assert re.search(r"Receipt: CZ", text_of(receipt))

        # Telegram delivers the same successful_payment again (and again): counted once.
        for _ in range(2):
            replay = c.post(f"/sandbox/api/personas/{LINA}/pay",
                            json={"message_id": invoice["message_id"], "replay": True}).json()
            assert replay["ok"] is True and replay["replayed"] is True
            again = lina.wait_for(has("already recorded"))[-1]
            m2 = re.search(r"New balance: " + MONEY, text_of(again))
            assert m2 and fen(m2.group(1)) == before + 10000
        # Paying the same invoice a second time is refused by the sandbox, as by Telegram.
        assert c.post(f"/sandbox/api/personas/{LINA}/pay", json={"message_id": invoice["message_id"]}).status_code \
            == 409

        # The balance view agrees with the ledger: one payment of ¥100 more.
        lina.tap(again["message_id"], button(again, "Balance")["callback_data"])
        view = lina.wait_for(has("Alerts:"))[-1]
        assert balance_of(view) == before + 10000
        assert "Last payment: ¥100.00" in text_of(view)


def test_five_wrong_codes_lock_linking(running_app: RunningApp) -> None:
    with running_app.client() as c:
        r = c.post("/sandbox/api/personas", json={"first_name": "Guesser", "phone": "+8613900009999",
                                                   "language_code": "en"})
        assert r.status_code == 201, r.text
        guesser = Resident(c, r.json()["user_id"])
        speak_english(guesser)
        open_link_form(guesser, LINA_WATER)
        for left in (4, 3, 2, 1):
            guesser.send(text="000000")
            guesser.wait_for(has(f"Attempts left: {left}"))
        guesser.send(text="000000")
        guesser.wait_for(has("linking is paused"))
        # Locked: even the right phone (a contact of someone else) or a new attempt gets nowhere for an hour.
        guesser.send(text="💳 Balance & top-up")
        overview = guesser.wait_for(lambda e: any("Link an account" in b["text"] for b in inline_buttons(e)))[-1]
        assert "have not linked" in text_of(overview)
        guesser.tap(overview["message_id"], button(overview, "Link an account")["callback_data"])
        guesser.wait_for(has("linking is paused"))
