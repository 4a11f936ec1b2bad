"""R16: the assisted-service desk in the console lists each proxy application with what is still missing."""

from __future__ import annotations

import re

from core import proxy
from tests.support.console import add_resident


async def test_r16_desk_lists_applications_and_the_missing_documents(ctx, make_client, staff_users) -> None:
    await add_resident(ctx, 10001, name="王建国")
    async with ctx.sessionmaker() as s:
        await proxy.record(s, resident_id=10001, relation="other", documents=["own_id", "owner_id"],
                           now=ctx.clock.now())
    page = (await (await make_client("agent")).get("/console/proxy"))
    assert page.status_code == 200
    [row] = re.findall(r'<tr data-application="\d+" class="missed">(.*?)</tr>', page.text, re.S)
    assert "王建国" in row and "Not family" in row
    assert "❌ The owner&#39;s signed authorisation letter" in row and "❌ Property documents" in row
    assert "✅ Your own ID card" in row and "✅ The owner&#39;s ID card" in row
    assert row.strip().endswith("<td>2</td>")  # two documents missing
    assert (await (await make_client()).get("/console/proxy")).status_code in (302, 303, 401)
