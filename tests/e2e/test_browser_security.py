"""Issue 12 in a real browser (Debian chromium through Playwright) against the real `onestop run` sandbox.

1. The main console pages and the sandbox page work under the strict CSP: using them records no violation
   (``securitypolicyviolation`` events and console errors are collected from before the first script runs).
2. "Done when": a resident sends an HTML document with ``<script>`` and an SVG with script through the sandbox
   and the bot; the agent opens both from the console conversation, and nothing runs (they are downloads,
   no dialog appears, the page is untouched); a real PNG photo still previews inline.
"""

from __future__ import annotations

import asyncio
import base64
import re

import httpx
import pytest

from tests.e2e.test_console_browser import (  # noqa: F401  (console_app is a fixture)
    CHROMIUM,
    LAUNCH_ARGS,
    WANG,
    Persona,
    _login,
    console_app,
)
from tests.support.security import HTML_DOC, SVG_DOC, image_bytes

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


async def _violations(page) -> list[str]:
    return await page.evaluate("window.__csp || []")


async def test_pages_work_under_the_csp_and_resident_files_run_nothing(console_app) -> None:  # noqa: F811
    from playwright.async_api import async_playwright, expect

    app, passwords = console_app
    png = image_bytes("PNG")
    async with async_playwright() as pw, httpx.AsyncClient(base_url=app.base, timeout=30) as http:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = await browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
        await context.add_init_script(WATCH_CSP)
        dialogs: list[str] = []
        console_errors: list[str] = []
        context.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
        page = await context.new_page()
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

        await _login(page, app.base, "li.ming", passwords["li.ming"])
        await page.goto(f"{app.base}/console/queue")
        await expect(page.locator("#live-status.on")).to_be_visible(timeout=10_000)  # live.js runs

        # The resident asks for a person and sends the three files through the bot.
        wang = Persona(http, WANG)
        await wang.start()
        await wang.send(text="👩‍💼 人工服务")
        await wang.wait_for("人工")
        for name, data, mime in (("账单.html", HTML_DOC, "text/html"), ("meter.svg", SVG_DOC, "image/svg+xml")):
            await wang.send(document={"data": base64.b64encode(data).decode(), "file_name": name, "mime_type": mime})
            await asyncio.sleep(0.6)  # slower than the per-resident throttle (settings.throttle_rate)
        await wang.send(photo={"data": base64.b64encode(png).decode(), "file_name": "meter.png"}, caption="表")
        row = page.locator("#waiting tr[data-conversation]").filter(has_text="王建国")
        await expect(row).to_be_visible(timeout=10_000)
        await row.locator("button.claim").click()
        await page.wait_for_url(re.compile(r"/console/conversations/\d+$"))
        docs = page.locator("#messages a", has_text=re.compile(r"账单\.html|meter\.svg"))
        for _ in range(15):  # the bot relays the three files at its own pace (2 shared cores): wait for all
            if await docs.count() == 2 and await page.locator("#messages img.thumb").count():
                break
            await page.wait_for_timeout(1000)
            await page.reload()
        await expect(docs).to_have_count(2)

        # The photo previews inline: the browser decoded a real image from the verified response.
        img = page.locator("#messages img.thumb").last
        await expect(img).to_be_visible(timeout=10_000)
        await page.wait_for_function("(img) => img.complete && img.naturalWidth === 8", arg=await img.element_handle())

        # Opening each document downloads it; nothing of it runs in the console's origin.
        for i in range(2):
            async with page.expect_download() as info:
                await docs.nth(i).click(modifiers=[])
            download = await info.value
            assert download.suggested_filename in ("账单.html", "meter.svg")
            headers = await page.evaluate("""async (href) => { const r = await fetch(href);
                return [r.headers.get('content-type'), r.headers.get('content-disposition'),
                        r.headers.get('content-security-policy'), r.headers.get('x-content-type-options')]; }""",
                                          await docs.nth(i).get_attribute("href"))
            assert headers[0] == "application/octet-stream" and headers[1].startswith("attachment;")
            assert headers[2].startswith("sandbox") and headers[3] == "nosniff"
        # Even typed straight into the address bar, the file is a download, never a page.
        href = await docs.nth(0).get_attribute("href")
        probe = await context.new_page()
        async with probe.expect_download():
            with pytest.raises(Exception, match="Download is starting"):
                await probe.goto(f"{app.base}{href}")
        await probe.close()
        await asyncio.sleep(0.5)
        assert dialogs == [], f"a resident's file ran script: {dialogs}"
        assert await page.title() != "pwned" and "pwned" not in await page.locator("body").inner_text()

        # Use the chat page as an agent does: the R14 hint (htmx), canned text (conversation.js), a reply.
        await page.fill("#reply-text", "这个我不知道")
        await expect(page.locator("#guard-hint .guard-hint")).to_contain_text("我不知道", timeout=5_000)
        await page.fill("#reply-text", "您好，文件已收到。")
        await page.keyboard.press("Control+Enter")
        await wang.wait_for("文件已收到")
        assert await _violations(page) == []

        # Closing asks first (data-confirm in common.js, not an inline onsubmit): dismissed, nothing happens.
        await page.click("#close-chat")
        await expect(page.locator(".page-head .badge").first).not_to_have_text("closed")
        assert any("结束对话并发送评价" in d for d in dialogs)  # "Close this chat…?" in the agent's Chinese
        dialogs.clear()

        for path in ("/", "/console/queue", "/console/tickets", "/console/appointments", "/console/knowledge",
                     "/console/notices"):
            r = await page.goto(f"{app.base}{path}")
            assert r is not None and r.status == 200, path
            assert await _violations(page) == [], path
        admin = await context.new_page()
        admin.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        await context.clear_cookies()
        await _login(admin, app.base, "boss", passwords["boss"])
        for path in ("/console/reports", "/console/audit", "/console/billing", "/console/outages", "/sandbox"):
            r = await admin.goto(f"{app.base}{path}")
            assert r is not None and r.status == 200, path
            if path == "/sandbox":  # the sandbox page's own script runs: personas are listed
                await expect(admin.locator("#personas")).to_contain_text("王建国", timeout=10_000)
            assert await _violations(admin) == [], path
        csp_errors = [m for m in console_errors if "Content Security Policy" in m]
        assert csp_errors == [], csp_errors
        # The watcher is live and the policy enforced: injected markup with an inline handler is blocked.
        await admin.goto(f"{app.base}/console/queue")
        await admin.evaluate("""document.body.insertAdjacentHTML('beforeend',
            '<img src="/static/none.png" onerror="window.__ran = 1">')""")
        await admin.wait_for_function("window.__csp.length > 0")
        assert "script-src" in (await _violations(admin))[0] and await admin.evaluate("window.__ran") is None
        await browser.close()
