"""Staff see the written notices on file (R1: one copy kept) and open the PDF the resident received."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.enums import StaffRole
from db.models import AuditLog, ChecklistNotice
from tests.support.console import login
from tests.support.context import NOW
from tests.support.knowledge_bot import make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")


async def _file(session) -> None:
    await make_resident(session, user_id=10001, first_name="王建国")
    await make_resident(session, user_id=10002, first_name="Li Na", language="en")
    session.add_all([
        ChecklistNotice(reference="GZ-20261122-0001", resident_id=10001, topic="gas.transfer", language="zh_Hans",
                        have=["new-owner-id"], missing=["property-doc", "agent-id"], pdf=b"%PDF-1.7 first",
                        created_at=NOW - timedelta(days=1)),
        ChecklistNotice(reference="GZ-20261123-0001", resident_id=10002, topic="water.transfer", language="en",
                        have=[], missing=["id"], pdf=b"%PDF-1.7 second", created_at=NOW),
    ])
    await session.commit()


async def test_agent_lists_searches_and_opens_a_notice_and_the_opening_is_audited(
        ctx, session, staff_client, staff_users) -> None:
    await _file(session)
    assert (await login(staff_client, "agent")).status_code == 303

    page = await staff_client.get("/console/notices")
    assert page.status_code == 200
    assert page.text.index("GZ-20261123-0001") < page.text.index("GZ-20261122-0001")  # newest first
    assert "燃气过户" in page.text and "王建国" in page.text and 'href="/console/notices"' in page.text

    for q, shown, hidden in (("10001", "GZ-20261122-0001", "GZ-20261123-0001"),
                             ("gz-20261123", "GZ-20261123-0001", "GZ-20261122-0001"),
                             ("water.transfer", "GZ-20261123-0001", "GZ-20261122-0001")):
        text = (await staff_client.get("/console/notices", params={"q": q})).text
        assert shown in text and hidden not in text, q
    nothing = (await staff_client.get("/console/notices", params={"q": "%' OR 1=1 --"})).text
    assert "GZ-2026" not in nothing

    pdf = await staff_client.get("/console/notices/GZ-20261122-0001.pdf")
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.7 first"
    assert pdf.headers["content-type"] == "application/pdf"
    assert "no-store" in pdf.headers["cache-control"]
    # Issue 12 F1: a stored file like any other (attachment, nosniff, CSP sandbox).
    assert pdf.headers["content-disposition"].startswith("attachment;") and "filename*=UTF-8''" in \
        pdf.headers["content-disposition"]
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-security-policy"].startswith("sandbox")
    assert (await staff_client.get("/console/notices/GZ-20991231-9999.pdf")).status_code == 404

    session.expire_all()
    [entry] = (await session.execute(select(AuditLog).where(AuditLog.action == "notice.view"))).scalars().all()
    assert (entry.staff_id, entry.target_type, entry.target_id) == (staff_users[StaffRole.agent], "notice",
                                                                    "GZ-20261122-0001")


async def test_residents_cannot_reach_the_notices(ctx, session, staff_client) -> None:
    await _file(session)
    for path in ("/console/notices", "/console/notices/GZ-20261122-0001.pdf"):
        r = await staff_client.get(path, follow_redirects=False)
        assert r.status_code in (303, 401, 403) and b"%PDF" not in r.content
