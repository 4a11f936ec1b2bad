"""Guided mode: balance, top-up, linking by one's own number and family help (R15, R16) — buttons only."""

from __future__ import annotations

from sqlalchemy import select

from core import account_numbers
from core.accounts import MAX_LINK_FAILURES
from core.demo import bill_code
from db.enums import LinkMethod, Utility
from db.models import AccountLink, ProxyApplication, Resident
from tests import updates
from tests.support.demo import GRANNY, LINA

LINA_WATER = account_numbers.make(Utility.water, 1005)  # demo: Li Na's phone is on file for it
OTHER_GAS = account_numbers.make(Utility.gas, 1010)  # demo: somebody else's account (a relative's, in the test)


async def links(ctx, resident_id: int) -> list[AccountLink]:
    async with ctx.sessionmaker() as s:
        return list((await s.execute(select(AccountLink).where(AccountLink.resident_id == resident_id)
                                     .order_by(AccountLink.id))).scalars())


async def failures(ctx, resident_id: int) -> int:
    async with ctx.sessionmaker() as s:
        return (await s.get(Resident, resident_id)).link_failures


async def fill_proxy_form(who, relation: str, *, have: list[bool]):
    """R16 in simple mode: the relation, then each of the four documents in turn; returns the last screen."""
    screen = await who.tap(relation)
    for yes in have:
        assert "1" in screen.text or "2" in screen.text or "3" in screen.text or "4" in screen.text
        screen = await who.tap("✅" if yes else "❌")
    return screen


async def test_new_resident_links_by_sharing_her_own_number_then_sees_balance_and_chart(lina, demo_town_guided) -> None:
    await lina.start()
    screen = await lina.tap("💳")
    assert "not linked" in screen.text
    link_screen = await lina.tap("🔗")
    assert any("📱" in b for b in link_screen.flat)

    # Somebody else's contact card is refused, reveals nothing and counts as a failed attempt.
    screen = await lina.share_contact("13800000002", own=False)
    assert "own number" in screen.texts[0]
    assert not any("东风街" in t for t in screen.texts) and await links(demo_town_guided, LINA) == []
    assert await failures(demo_town_guided, LINA) == 1

    # Her own number: the accounts with it on file are offered as buttons (utility + street, no room, no name).
    pick = await lina.share_contact("+86 138 0000 0002")
    [label] = [b for b in pick.flat if "💧" in b]
    assert "Water" in label and "号" in label and "李" not in label
    assert (await lina.back()).flat == link_screen.flat  # Back returns to the previous screen
    pick = await lina.share_contact("+86 138 0000 0002")
    screen = await lina.tap("💧")
    assert any("linked" in t for t in screen.texts)
    assert any(type(r).__name__ == "SendPhoto" for r in lina.bot.requests)  # the 12-month chart
    assert "Money left" in screen.text or "You owe" in screen.text
    assert any("💰" in b for b in screen.flat)
    [link] = await links(demo_town_guided, LINA)
    assert link.method is LinkMethod.contact and link.relation == "self"
    assert await failures(demo_town_guided, LINA) == 0  # a success clears the failed attempts

    # Low-credit and arrears alerts by one tap, and off again.
    screen = await lina.tap("🔔")
    assert "runs low" in screen.texts[0] and any("🔕" in b for b in screen.flat)
    assert (await links(demo_town_guided, LINA))[0].alerts_enabled is True
    screen = await lina.tap("🔕")
    assert (await links(demo_town_guided, LINA))[0].alerts_enabled is False
    assert "Notices of unpaid bills still come" in screen.texts[0]  # R11: the payment notice is not optional

    # Back from the balance goes to the list of accounts, never into the finished linking form.
    screen = await lina.back()
    assert any("💧" in b for b in screen.flat) and "Tap one" in screen.text


async def test_five_foreign_contacts_lock_linking(lina, demo_town_guided) -> None:
    await lina.start()
    await lina.tap("💳")
    await lina.tap("🔗")
    for _ in range(MAX_LINK_FAILURES):
        screen = await lina.share_contact("13800000002", own=False)
    assert any("paused" in t for t in screen.texts)
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.get(Resident, LINA)).link_locked_until is not None
    screen = await lina.tap("🔗")
    assert "paused" in screen.text and not any("📱" in b for b in screen.flat)
    assert await links(demo_town_guided, LINA) == []


async def test_balance_top_up_sends_the_invoice_with_ic_card_note_and_back_keeps_the_screens(granny,
                                                                                             demo_town_guided) -> None:
    await granny.start()
    accounts_screen = await granny.tap("💳")
    screen = await granny.tap("燃气")
    assert any(type(r).__name__ == "SendPhoto" for r in granny.bot.requests)
    assert "余额" in screen.text or "欠费" in screen.text
    account_screen = screen
    amounts = await granny.tap("💰")
    assert [b.split(" ", 2)[-1] for b in amounts.flat[:4]] == ["¥50.00", "¥100.00", "¥200.00", "¥500.00"]
    screen = await granny.tap("¥100.00")
    [invoice] = granny.bot.sent("SendInvoice")
    assert invoice.currency == "CNY" and [p.amount for p in invoice.prices] == [10000]
    assert any("IC卡" in t for t in screen.texts)  # granny's gas meter takes an IC card: the honesty note
    assert "支付" in screen.text
    assert (await granny.back()).flat == amounts.flat
    screen = await granny.back()
    assert screen.flat == account_screen.flat
    assert not any(type(r).__name__ == "SendPhoto" for r in granny.bot.requests)  # no second chart on Back
    assert (await granny.back()).flat == accounts_screen.flat

    # A typed word where a button is expected changes nothing.
    await granny.tap("燃气")
    granny.bot.clear()
    screen = await granny._feed(updates.text("一百块", user_id=GRANNY))
    assert granny.bot.sent("SendInvoice") == []


async def test_family_member_links_a_relatives_account_with_the_bill_code(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("💳")
    relation = await granny.tap("👪")
    assert any("代办" in t for t in relation.texts[:-1])  # the proxy rules from general.proxy, in short messages
    await fill_proxy_form(granny, "子女", have=[True, True, True, True])
    screen = await granny.tap("🔢")
    assert "10位户号" in screen.text
    screen = await granny._feed(updates.text("12345", user_id=GRANNY))
    assert "不是户号" in screen.texts[0]
    screen = await granny._feed(updates.text(OTHER_GAS[:4] + " " + OTHER_GAS[4:], user_id=GRANNY))
    assert "6位验证码" in screen.text
    wrong = "000000" if bill_code(OTHER_GAS) != "000000" else "111111"
    screen = await granny._feed(updates.text(wrong, user_id=GRANNY))
    assert f"{MAX_LINK_FAILURES - 1}" in screen.texts[0] and len(await links(demo_town_guided, GRANNY)) == 1
    # Back keeps the number she typed; Next goes on without typing it again.
    screen = await granny.back()
    assert OTHER_GAS in screen.text
    await granny.tap("➡️")
    screen = await granny._feed(updates.text(bill_code(OTHER_GAS), user_id=GRANNY))
    assert any("已绑定" in t for t in screen.texts) and "家人" in screen.text
    new = (await links(demo_town_guided, GRANNY))[-1]
    assert new.relation == "relative" and new.method is LinkMethod.bill_code


async def test_family_member_links_by_own_number_on_file_for_the_relative(lina, demo_town_guided) -> None:
    await lina.start()
    await lina.tap("💳")
    relation = await lina.tap("👪")
    assert any("your own ID" in t for t in relation.texts[:-1])  # the proxy rules first (general.proxy)
    family = await fill_proxy_form(lina, "Son or daughter", have=[True, True, True, True])
    screen = await lina.tap("📚")  # the whole guide of the topic, then Back to the family screen
    assert any("behalf" in t for t in screen.texts)
    assert (await lina.back()).flat == family.flat
    screen = await lina.share_contact("13800000002", own=False)
    assert await links(demo_town_guided, LINA) == [] and await failures(demo_town_guided, LINA) == 1
    await lina.share_contact("13800000002")
    screen = await lina.tap("💧")
    assert "relative" in screen.text
    [link] = await links(demo_town_guided, LINA)
    assert link.relation == "relative" and link.method is LinkMethod.contact


async def test_accounts_with_phone_matches_like_verify_and_skips_linked_and_dismantled(demo_town_guided) -> None:
    from core import accounts
    from db.enums import AccountState
    from db.models import UtilityAccount

    async with demo_town_guided.sessionmaker() as s:
        [water] = await accounts.accounts_with_phone(s, resident_id=LINA, phone="+86 138-0000-0002")
        assert water.number == LINA_WATER
        assert await accounts.accounts_with_phone(s, resident_id=LINA, phone="0002") == []  # too short to match
        # 王建国's two accounts, but not for himself: they are linked already.
        assert len(await accounts.accounts_with_phone(s, resident_id=LINA, phone="13800000001")) == 2
        assert await accounts.accounts_with_phone(s, resident_id=10001, phone="13800000001") == []
        (await s.get(UtilityAccount, water.id)).state = AccountState.dismantled
        await s.commit()
        assert await accounts.accounts_with_phone(s, resident_id=LINA, phone="13800000002") == []
        lina = await s.get(Resident, LINA)
        for _ in range(MAX_LINK_FAILURES - 1):
            result = await accounts.record_failed_link(s, resident=lina, now=demo_town_guided.clock.now())
        assert result.attempts_left == 1
        result = await accounts.record_failed_link(s, resident=lina, now=demo_town_guided.clock.now())
        assert result.status is accounts.LinkStatus.locked and lina.link_locked_until is not None


async def test_r16_simple_mode_asks_relation_and_documents_and_lists_what_is_missing(granny, demo_town_guided) -> None:
    """R16: simple mode records the proxy application through core.proxy, like the normal bot, and the
    assisted-service checklist names exactly the missing documents; Back never re-submits the form."""
    await granny.start()
    await granny.tap("💳")
    screen = await granny.tap("👪")
    assert "户主是您的什么人" in screen.text
    await granny.tap("➡️")  # five relations: the last two on the next page
    screen = await granny.tap("🤝")  # not family: the relation is shown by the owner's authorisation letter
    assert "第1项" in screen.text and "代办人本人身份证" in screen.text
    screen = await granny.tap("✅")
    assert "第2项" in screen.text and "授权委托书" in screen.text
    screen = await granny.back()  # Back to the first document, then on again: answers kept
    assert "第1项" in screen.text
    await granny.tap("✅")
    await granny.tap("❌")
    await granny.tap("✅")
    screen = await granny.tap("❌")
    checklist = "\n".join(screen.texts[:-1])
    assert "代办资料清单" in checklist and "还缺 2 项" in checklist
    assert "授权委托书" in checklist and "房屋产权证明" in checklist
    assert "代办人本人身份证" not in checklist and "户主本人身份证" not in checklist
    assert any("🔢" in b for b in screen.flat)  # on to linking the relative's account
    async with demo_town_guided.sessionmaker() as s:
        [app] = (await s.execute(select(ProxyApplication).where(ProxyApplication.resident_id == GRANNY))).scalars()
    assert app.relation == "other" and sorted(app.documents) == ["own_id", "owner_id"]
    screen = await granny.back()
    assert "户主是您的什么人" not in screen.text and not any("第" in t and "项" in t for t in screen.texts)
