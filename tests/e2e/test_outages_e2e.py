"""Issue 7, "Done when", through the running sandbox (`onestop run`) and the staff console over HTTP:

an operator announces a planned water outage for one district; only the residents there receive it, in their
languages; a resident who asks "为什么没水" gets the notice; the restoration notice follows.

Demo residents: 王建国 (10001, Chinese) has a linked account in 城东区; Li Na (10002) chooses English and, having
no account, subscribes to 城东区 in the bot; 张奶奶 (10003, Chinese) lives in 城南区 and must hear nothing.
Everything goes through the real outbox sender of the running process into the sandbox's Bot API.
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.clock import LOCAL_TZ
from tests.support.running import Resident, RunningApp, cli_secret, inline_buttons

pytestmark = pytest.mark.e2e

REASON_ZH = "更换人民路主管道阀门"
REASON_EN = "Replacing a main valve on Renmin Road"


def _text(entry: dict) -> str:
    return entry.get("text") or entry.get("caption") or ""


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def _login(c: httpx.Client, env: dict[str, str], username: str, role: str) -> str:
    password = cli_secret("create-staff", username, "--role", role, env=env)
    r = c.post("/login", data={"username": username, "password": password, "next": "/",
                               "csrf_token": _csrf(c.get("/login").text)})
    assert r.status_code == 303, r.text
    return _csrf(c.get("/console/outages").text)


def _progress(c: httpx.Client, outage_id: int) -> list[dict[str, int]]:
    """Counts of every broadcast of the notice, as the console's progress boxes show them."""
    page = c.get(f"/console/outages/{outage_id}").text
    boxes = []
    for bid in dict.fromkeys(re.findall(r'class="progress-box" id="bc-(\d+)"', page)):
        frag = c.get(f"/console/broadcasts/{bid}/progress", headers={"HX-Request": "true"}).text
        boxes.append({k: int(v) for k, v in re.findall(r'data-k="(\w+)">(\d+)<', frag)})
    return boxes


def _wait_delivered(c: httpx.Client, outage_id: int, broadcasts: int, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        boxes = _progress(c, outage_id)
        if len(boxes) >= broadcasts and all(b.get("pending") == 0 and b.get("sent", 0) > 0 for b in boxes):
            return boxes
        time.sleep(0.3)
    raise AssertionError(f"broadcasts not delivered in {timeout}s: {_progress(c, outage_id)}")


def _new_bot_entries(c: httpx.Client, r: Resident) -> list[dict]:
    data = c.get(f"/sandbox/api/personas/{r.id}/chat", params={"after": r.seq}).json()
    return [e for e in data["entries"] if e.get("from") == "bot"]


def test_planned_water_outage_announced_asked_and_restored(running_app: RunningApp) -> None:
    with running_app.client() as c:
        wang, li, zhang = Resident(c, 10001), Resident(c, 10002), Resident(c, 10003)

        # Li Na: English, no account; she subscribes to 城东区 under "⚡ Outages".
        li.send(text="/start")
        lang_msg = li.wait_for(lambda e: "choose your language" in _text(e), timeout=60)[-1]
        li.tap(lang_msg["message_id"], next(b for b in inline_buttons(lang_msg) if b["text"] == "English")
               ["callback_data"])
        li.wait_for(lambda e: "simple mode" in _text(e), timeout=60)
        li.send(text="⚡ Outages")
        overview = li.wait_for(lambda e: "choose a district" in _text(e), timeout=60)[-1]
        li.tap(overview["message_id"], inline_buttons(overview)[0]["callback_data"])
        picker = li.wait_for(lambda e: "Choose the districts" in _text(e), timeout=60)[-1]
        east = next(b for b in inline_buttons(picker) if "城东区" in b["text"])
        li.tap(picker["message_id"], east["callback_data"])
        deadline = time.monotonic() + 60
        while "✅ 城东区" not in str(c.get(f"/sandbox/api/personas/{li.id}/chat").json()):
            assert time.monotonic() < deadline, "the subscription was not confirmed"
            time.sleep(0.2)
        li.seq = c.get(f"/sandbox/api/personas/{li.id}/chat").json()["last_seq"]
        wang.seq = c.get(f"/sandbox/api/personas/{wang.id}/chat").json()["last_seq"]
        zhang.seq = c.get(f"/sandbox/api/personas/{zhang.id}/chat").json()["last_seq"]

        # The operator drafts a planned water outage for 城东区, a month ahead (R9: ≥ 7 working days).
        token = _login(c, running_app.env, "e2e-operator", "operator")
        day = (datetime.now(LOCAL_TZ) + timedelta(days=30)).date()
        form = {"utility": "water", "kind": "planned", "districts": ["城东区"], "streets": "", "buildings": "",
                "reason_zh": REASON_ZH, "reason_en": REASON_EN, "starts_at": f"{day}T08:00",
                "restore_at": f"{day}T16:00", "csrf_token": token}
        soon = datetime.now(LOCAL_TZ).date() + timedelta(days=2)
        late = c.post("/console/outages", data={**form, "starts_at": f"{soon}T08:00", "restore_at": f"{soon}T16:00"})
        assert late.status_code == 303
        late_id = int(late.headers["location"].rsplit("/", 1)[1])
        refused = c.post(f"/console/outages/{late_id}/announce", data={"csrf_token": token})
        assert refused.status_code == 409 and "7 working days" in refused.text  # R9: refused, with the reason
        c.post(f"/console/outages/{late_id}/cancel", data={"csrf_token": token})

        r = c.post("/console/outages", data=form)
        assert r.status_code == 303, r.text
        outage_id = int(r.headers["location"].rsplit("/", 1)[1])
        detail = c.get(f"/console/outages/{outage_id}").text
        # The audience by language, before sending: 王建国 (中文) and Li Na (English); not 张奶奶.
        assert re.search(r'id="audience-total">2<', detail), detail
        assert re.search(r'id="audience-zh">1<', detail) and re.search(r'id="audience-en">1<', detail)

        assert c.post(f"/console/outages/{outage_id}/announce", data={"csrf_token": token}).status_code == 303
        notice_zh = wang.wait_for(lambda e: "计划停水" in _text(e), timeout=60)[-1]
        assert REASON_ZH in _text(notice_zh) and "城东区" in _text(notice_zh)
        notice_en = li.wait_for(lambda e: "Planned water outage" in _text(e), timeout=60)[-1]
        assert REASON_EN in _text(notice_en) and "计划停水" not in _text(notice_en)
        assert _wait_delivered(c, outage_id, 1)[0]["sent"] == 2
        assert _new_bot_entries(c, zhang) == [], "a resident outside the district was told"

        # The day of the work: move the notice's times around "now" (the running process has a real clock).
        now = datetime.now(UTC).replace(tzinfo=None)
        db = running_app.env["DATABASE_URL"].split("///", 1)[1]
        with sqlite3.connect(db, timeout=60) as conn:
            conn.execute("UPDATE outage_notice SET starts_at = ?, restore_at = ? WHERE id = ?",
                         ((now - timedelta(hours=2)).isoformat(" "), (now + timedelta(hours=4)).isoformat(" "),
                          outage_id))

        # 王建国 asks in his own words: the notice, its reason, the estimated restoration and an apology.
        wang.send(text="为什么没水")
        answer = _text(wang.wait_for(lambda e: "计划停水" in _text(e), timeout=60)[-1])
        assert REASON_ZH in answer and "预计恢复" in answer and "歉意" in answer
        # Someone outside the area asking the same is not given this notice.
        zhang.send(text="为什么没水")
        other = zhang.wait_for(lambda e: bool(_text(e)), timeout=60)
        assert all(REASON_ZH not in _text(e) for e in other)

        # Supply is back: the restoration notice follows to the same two residents.
        wang.seq = c.get(f"/sandbox/api/personas/{wang.id}/chat").json()["last_seq"]
        zhang.seq = c.get(f"/sandbox/api/personas/{zhang.id}/chat").json()["last_seq"]
        assert c.post(f"/console/outages/{outage_id}/restore", data={"csrf_token": token}).status_code == 303
        assert "已恢复供应" in _text(wang.wait_for(lambda e: "已恢复供应" in _text(e), timeout=60)[-1])
        li.wait_for(lambda e: "Supply restored" in _text(e), timeout=60)
        boxes = _wait_delivered(c, outage_id, 2)
        assert [b["sent"] for b in boxes] == [2, 2], boxes
        # (Her earlier question may still be getting its last reply; no outage message reaches her.)
        assert not any("恢复供应" in _text(e) or REASON_ZH in _text(e) for e in _new_bot_entries(c, zhang))
