"""Refusals a person reads in a browser come as a console page in their language; scripts, HTMX swaps and the
integration API keep FastAPI's JSON with the English detail."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from core import staff
from core.context import AppContext
from db.enums import StaffRole
from db.models import StaffUser
from tests.support.console import PASSWORD, token_of

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def _zh_agent(ctx: AppContext) -> None:
    async with ctx.sessionmaker() as s:
        await staff.create_staff(s, username="zh-agent", display_name="张工", role=StaffRole.agent,
                                 password=PASSWORD, now=ctx.clock.now())
        await s.commit()


def _page(r: httpx.Response, status: int) -> str:
    assert r.status_code == status and r.headers["content-type"].startswith("text/html"), (r.status_code, r.text)
    assert "content-security-policy" in r.headers and '{"detail"' not in r.text
    return r.text


async def test_a_missing_ticket_is_a_page_in_the_agents_language(ctx, staff_users, make_client) -> None:
    await _zh_agent(ctx)
    zh, en = await make_client("zh-agent"), await make_client("agent")
    page = _page(await zh.get("/console/tickets/T-NOPE", headers=BROWSER), 404)
    assert '<html lang="zh-Hans">' in page and "未找到" in page and "没有这个工单。" in page
    assert "返回控制台首页" in page and "no such ticket" not in page and "退出" in page  # the usual header
    page = _page(await en.get("/console/tickets/T-NOPE", headers=BROWSER), 404)
    assert "There is no such ticket." in page and "Back to the console home" in page


async def test_scripts_and_the_api_keep_the_json_detail_and_htmx_gets_the_sentence_too(
        ctx, staff_users, make_client) -> None:
    agent = await make_client("agent")
    r = await agent.get("/console/tickets/T-NOPE", headers={"accept": "application/json"})
    assert r.status_code == 404 and r.json() == {"detail": "no such ticket"}
    r = await agent.get("/console/tickets/T-NOPE", headers={**BROWSER, "hx-request": "true"})
    assert r.status_code == 404 and r.json() == {"detail": "no such ticket", "message": "There is no such ticket."}
    await _zh_agent(ctx)
    zh = await make_client("zh-agent")
    r = await zh.post("/console/language", data={"language": "x" * 300, "csrf_token": await token_of(zh)},
                      headers={"hx-request": "true"})
    assert r.status_code == 422 and r.json()["message"] == "表单内容不完整或无效。请返回，刷新页面后重试。"
    r = await agent.get("/api/v1/tickets/T-NOPE", headers=BROWSER)
    assert r.status_code in (401, 404) and "detail" in r.json()


async def test_a_page_above_ones_role_and_a_stale_form_say_why(ctx, staff_users, make_client) -> None:
    await _zh_agent(ctx)
    zh = await make_client("zh-agent")
    page = _page(await zh.get("/console/admin/staff", headers=BROWSER), 403)
    assert "您无权进行此操作" in page and "您的角色无权进行此操作。" in page
    page = _page(await zh.post("/console/language", data={"language": "en", "csrf_token": "stale"},
                               headers=BROWSER), 403)
    assert "表单已过期或并非来自本控制台。请刷新页面后重试。" in page
    async with ctx.sessionmaker() as s:
        assert (await s.execute(select(StaffUser.language).where(StaffUser.username == "zh-agent"))
                ).scalar_one() == "zh_Hans"


async def test_an_invalid_form_is_a_page_and_changes_nothing(ctx, staff_users, make_client) -> None:
    en = await make_client("agent")
    token = await token_of(en)
    page = _page(await en.post("/console/language", data={"language": "x" * 300, "csrf_token": token},
                               headers=BROWSER), 422)
    assert "Please check what you entered" in page and "reload the page" in page
    r = await en.post("/console/language", data={"language": "x" * 300, "csrf_token": token})
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)  # scripts still get the field errors
    async with ctx.sessionmaker() as s:
        assert (await s.execute(select(StaffUser.language).where(StaffUser.username == "agent"))).scalar_one() == "en"


async def test_an_unknown_address_before_login_is_a_page_in_the_browsers_language(make_client) -> None:
    anonymous = await make_client()
    page = _page(await anonymous.get("/console/nowhere", headers={**BROWSER, "accept-language": "en-GB,en"}), 404)
    assert "Not found" in page and 'href="/login"' in page and "Back to the console home" not in page
    page = _page(await anonymous.get("/console/nowhere", headers=BROWSER), 404)
    assert '<html lang="zh-Hans">' in page and "未找到" in page
