"""The console speaks gettext catalogs in each staff member's language (issue 16): Chinese by default, English on
request, chosen per person on the account page; before login the browser's Accept-Language decides."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import select

from core import staff
from core.context import AppContext
from core.i18n import CONSOLE_DOMAIN, CONSOLE_LOCALES_DIR, LOCALES, ROOT, compile_catalogs, missing_translations
from core.i18n import read_fragments as catalog_of
from db.enums import StaffRole
from db.models import StaffUser
from tests.support.console import PASSWORD, csrf_from, token_of

API = ROOT / "api"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# What a page may still show in Chinese outside the catalogs: language names, "中" for a Chinese-speaking
# resident in the queue, and the address examples of the outage form.
CJK = re.compile(r"[\u4e00-\u9fff]+")
LITERAL_CJK = {"中文", "中", "城东区", "人民路", "城南区", "南山路"}


async def _zh_agent(ctx: AppContext, username: str = "zh-agent") -> int:
    async with ctx.sessionmaker() as s:
        user = await staff.create_staff(s, username=username, display_name="张工", role=StaffRole.agent,
                                        password=PASSWORD, now=ctx.clock.now())
        await s.commit()
        assert user.language == "zh_Hans", "a new member of staff reads the console in Chinese"
        return user.id


async def _language(ctx: AppContext, user_id: int) -> str:
    async with ctx.sessionmaker() as s:
        return (await s.execute(select(StaffUser.language).where(StaffUser.id == user_id))).scalar_one()


def test_every_console_msgid_is_translated_in_both_catalogs() -> None:
    """Every _() / N_() text of the templates and console modules, extracted with Babel (Jinja2's extractor for
    templates), has a non-empty translation in zh_Hans and en, with the same placeholders."""
    sources = (API / "templates", API / "console", API / "templating.py", API / "errors.py", API / "deps.py",
               API / "limits.py")
    assert missing_translations(CONSOLE_LOCALES_DIR, *sources, domain=CONSOLE_DOMAIN) == {loc: [] for loc in LOCALES}
    for locale in LOCALES:
        for msg in catalog_of(CONSOLE_LOCALES_DIR, locale, CONSOLE_DOMAIN):
            if msg.id:
                assert set(PLACEHOLDER.findall(msg.string)) == set(PLACEHOLDER.findall(msg.id)), (locale, msg.id)
                # Catalog texts are trusted markup, also inside attribute values: no straight double quote.
                assert '"' not in msg.string, (locale, msg.id)
    zh = catalog_of(CONSOLE_LOCALES_DIR, "zh_Hans", CONSOLE_DOMAIN)
    assert zh.get("Queue").string == "接入队列" and zh.get("Log out").string == "退出"


def test_console_catalogs_compile_with_the_bot_catalogs(tmp_path) -> None:
    counts = compile_catalogs(ROOT / "bot" / "locales")
    assert counts["console zh_Hans"] == counts["console en"] > 100 and counts["zh_Hans"] == counts["en"] > 0
    assert (CONSOLE_LOCALES_DIR / "zh_Hans" / "LC_MESSAGES" / "console.mo").is_file()


def test_no_template_writes_chinese_inline() -> None:
    """Texts live in the catalogs, not in the templates (the old "Queue 接入队列" style)."""
    found = {(p.name, w) for p in (API / "templates").rglob("*.html") for w in CJK.findall(p.read_text("utf-8"))}
    assert {(name, w) for name, w in found if w not in LITERAL_CJK} == set()


async def test_two_staff_members_read_the_same_page_in_their_own_language_at_once(
        ctx: AppContext, staff_users, make_client) -> None:
    await _zh_agent(ctx)
    zh, en = await make_client("zh-agent"), await make_client("agent")
    pages = await asyncio.gather(*[c.get(path) for _ in range(6) for c in (zh, en)
                                   for path in ("/console/queue", "/", "/console/tickets")])
    for i, page in enumerate(pages):
        assert page.status_code == 200
        if i % 6 < 3:  # zh first, then en, for each round
            assert '<html lang="zh-Hans">' in page.text and "退出" in page.text and "Log out" not in page.text
        else:
            assert '<html lang="en">' in page.text and "Log out" in page.text and "退出" not in page.text
    queue_zh, queue_en = pages[0].text, pages[3].text
    assert "暂无等待的居民。" in queue_zh and "Nobody is waiting." in queue_en
    assert ">接入队列</a>" in queue_zh and ">Queue</a>" in queue_en  # the navigation too


async def test_every_page_renders_in_chinese(ctx: AppContext, make_client) -> None:
    async with ctx.sessionmaker() as s:
        await staff.create_staff(s, username="zh-admin", display_name="管理员", role=StaffRole.admin,
                                 password=PASSWORD, now=ctx.clock.now())
        await s.commit()
    c = await make_client("zh-admin")
    for path in ("/", "/console/queue", "/console/tickets", "/console/appointments", "/console/outages",
                 "/console/billing", "/console/corrections", "/console/reconnection", "/console/proxy",
                 "/console/reports", "/console/approvals", "/console/knowledge", "/console/notices", "/console/audit",
                 "/console/admin/staff", "/console/inbox", "/console/password"):
        page = await c.get(path)
        assert page.status_code == 200 and '<html lang="zh-Hans">' in page.text, path
        assert "Log out" not in page.text, path


async def test_switching_the_language_needs_csrf_and_sticks_to_the_person(
        ctx: AppContext, staff_users, make_client) -> None:
    user_id = await _zh_agent(ctx)
    c = await make_client("zh-agent")
    page = await c.get("/console/password")
    assert "后台语言" in page.text and 'action="/console/language"' in page.text
    refused = await c.post("/console/language", data={"language": "en"})
    assert refused.status_code == 403 and await _language(ctx, user_id) == "zh_Hans"
    token = await token_of(c, "/console/password")
    r = await c.post("/console/language", data={"language": "en", "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/console/password?saved=language")
    assert await _language(ctx, user_id) == "en"
    after = await c.get(r.headers["location"])
    assert '<html lang="en">' in after.text and "The console now speaks your language." in after.text
    assert 'value="en" lang="en" selected' in after.text
    bad = await c.post("/console/language", data={"language": "fr", "csrf_token": token})
    assert bad.status_code == 422 and await _language(ctx, user_id) == "en"
    # Another device, a later session: the same language.
    other = await make_client("zh-agent")
    assert '<html lang="en">' in (await other.get("/console/queue")).text
    # Back to Chinese.
    r = await c.post("/console/language", data={"language": "zh_Hans", "csrf_token": token})
    assert r.status_code == 303 and "接入队列" in (await c.get("/console/queue")).text


async def test_the_login_page_follows_the_browser(api_app) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url="http://testserver") as c:
        default = await c.get("/login")
        english = await c.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,zh-CN;q=0.8"})
        chinese = await c.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
        preferred = await c.get("/login", headers={"Accept-Language": "fr-FR, en;q=0.5"})
        assert '<html lang="zh-Hans">' in default.text and "员工登录" in default.text
        assert '<html lang="en">' in english.text and "Staff login" in english.text
        assert "员工登录" in chinese.text and "Staff login" in preferred.text
        token = csrf_from(english.text)
        wrong = await c.post("/login", data={"username": "nobody", "password": "x", "csrf_token": token},
                             headers={"Accept-Language": "zh"})
        assert wrong.status_code == 401 and "用户名或密码错误。" in wrong.text
