"""Issue 3 done-when, end to end: the real `onestop run` in sandbox mode; a resident asks
"二手房燃气怎么过户", gets the transfer checklist, ticks items and receives the PDF notice."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from db.models import ChecklistNotice, QuestionLog
from tests.support.running import Resident, RunningApp, inline_buttons

pytestmark = pytest.mark.e2e


def _view(entry: dict) -> dict:
    return entry.get("message") or entry  # edits carry the message's new state


def _text(entry: dict) -> str:
    view = _view(entry)
    return view.get("text") or view.get("caption") or ""


def _button(entry: dict, prefix: str, index: int = 0) -> str:
    data = [b["callback_data"] for b in inline_buttons(_view(entry)) if b.get("callback_data", "").startswith(prefix)]
    assert len(data) > index, (prefix, inline_buttons(_view(entry)))
    return data[index]


def test_resident_gets_the_transfer_checklist_and_the_pdf_notice(running_app: RunningApp) -> None:
    with running_app.client() as c:
        wang = Resident(c, 10001)
        wang.send(text="二手房燃气怎么过户")
        answer = wang.wait_for(lambda e: any(b.get("callback_data", "").startswith("ck:")
                                             for b in inline_buttons(_view(e))))[-1]
        assert "燃气过户" in _text(answer)

        wang.tap(answer["message_id"], _button(answer, "ck:"))
        checklist = wang.wait_for(lambda e: "还缺 7 项" in _text(e))[-1]
        wang.tap(checklist["message_id"], _button(checklist, "ck:", 0))
        ticked = wang.wait_for(lambda e: "还缺 6 项" in _text(e))[-1]
        wang.tap(checklist["message_id"], _button(ticked, "ck:", 2))
        ticked = wang.wait_for(lambda e: "还缺 5 项" in _text(e))[-1]
        wang.tap(checklist["message_id"], _button(ticked, "nt:"))

        doc = wang.wait_for(lambda e: bool(_view(e).get("file")), timeout=30)[-1]
        file = _view(doc)["file"]
        assert file["name"].startswith("一次性告知单-GZ-") and file["name"].endswith(".pdf")
        pdf = c.get(file["url"]).content
        reference = file["name"].removeprefix("一次性告知单-").removesuffix(".pdf")
        assert pdf.startswith(b"%PDF-") and reference.encode() in pdf
        assert reference in _text(doc)

    url = running_app.env["DATABASE_URL"].replace("sqlite+aiosqlite", "sqlite")
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            row = s.execute(select(ChecklistNotice).where(ChecklistNotice.reference == reference)).scalar_one()
            assert row.resident_id == 10001 and row.topic == "gas.transfer" and row.pdf == pdf
            assert row.have == ["new-owner-id", "old-card"]
            log = s.execute(select(QuestionLog).where(QuestionLog.resident_id == 10001)).scalars().all()[-1]
            assert (log.topic, log.outcome.value) == ("gas.transfer", "answered")
    finally:
        engine.dispose()
