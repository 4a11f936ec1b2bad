"""The chat page in Debian's chromium (Playwright), with a real aiogram Bot on the other side."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.types import LabeledPrice
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]

WANG, LINA = 10001, 10002


@pytest.fixture
async def page(sandbox_server: str) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page()
        await page.goto(sandbox_server)
        await page.wait_for_selector(f"#persona-{WANG}[aria-selected='true']")
        yield page
        await browser.close()


async def updates(sandbox_bot: Bot) -> list:
    got = await sandbox_bot.get_updates(timeout=5)
    if got:
        await sandbox_bot.get_updates(offset=got[-1].update_id + 1, timeout=0)
    return got


async def test_page_drives_the_bot(page, sandbox_bot: Bot) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import expect

    # Typing and sending.
    await page.fill("#composer-input", "/start")
    await page.click("#send-btn")
    [update] = await updates(sandbox_bot)
    assert update.message is not None and update.message.text == "/start"
    await expect(page.locator(".msg.user").last).to_contain_text("/start")

    # Formatted text is rendered with Telegram's tags only; inline buttons send callbacks; toasts show.
    kb = InlineKeyboardBuilder()
    kb.button(text="查询余额", callback_data="balance")
    await sandbox_bot.send_message(
        WANG, "<b>您好</b> &lt;img src=x onerror=alert(1)&gt;", parse_mode="HTML", reply_markup=kb.as_markup()
    )
    bubble = page.locator(".msg.bot").last
    await expect(bubble.locator("b")).to_have_text("您好")
    await expect(bubble).to_contain_text("<img src=x onerror=alert(1)>")
    assert await bubble.locator("img").count() == 0
    await page.get_by_role("button", name="查询余额").click()
    [update] = await updates(sandbox_bot)
    assert update.callback_query is not None and update.callback_query.data == "balance"
    await sandbox_bot.answer_callback_query(update.callback_query.id, text="余额 ¥12.30")
    await expect(page.locator("#toast")).to_have_text("余额 ¥12.30")

    # Reply keyboard with a request_contact button shares the persona's own contact.
    reply_kb = ReplyKeyboardBuilder()
    reply_kb.button(text="分享手机号", request_contact=True)
    await sandbox_bot.send_message(WANG, "请分享手机号", reply_markup=reply_kb.as_markup(one_time_keyboard=True))
    await page.locator(".reply-btn", has_text="分享手机号").click()
    [update] = await updates(sandbox_bot)
    assert update.message is not None and update.message.contact is not None
    assert update.message.contact.user_id == WANG
    await expect(page.locator(".reply-btn")).to_have_count(0)

    # Invoice card with a Pay button.
    await sandbox_bot.send_invoice(
        WANG,
        title="燃气预存",
        description="预存燃气费",
        payload="topup:1",
        currency="CNY",
        prices=[LabeledPrice(label="燃气", amount=5000)],
    )
    await page.locator(".pay-btn").click()
    [update] = await updates(sandbox_bot)
    assert update.pre_checkout_query is not None
    await sandbox_bot.answer_pre_checkout_query(update.pre_checkout_query.id, ok=True)
    [update] = await updates(sandbox_bot)
    assert update.message is not None and update.message.successful_payment is not None
    await expect(page.locator(".pay-btn")).to_have_text("Paid ✓")

    # Edits re-render in place; unread counters show on other personas' tabs.
    sent = await sandbox_bot.send_message(WANG, "处理中")
    await sandbox_bot.edit_message_text("已完成", chat_id=WANG, message_id=sent.message_id)
    await expect(page.locator(f".msg.bot[data-message-id='{sent.message_id}'] .msg-text")).to_have_text(
        "已完成"
    )
    await sandbox_bot.send_message(LINA, "Outage notice")
    await expect(page.locator(f"#persona-{LINA} .unread")).to_have_text("1")
    await page.click(f"#persona-{LINA}")
    await expect(page.locator(".msg.bot").last).to_contain_text("Outage notice")
    await expect(page.locator(f"#persona-{LINA} .unread")).to_have_text("")

    # Block toggle.
    await page.click("#block-btn")
    await expect(page.locator("#block-btn")).to_have_attribute("aria-pressed", "true")
