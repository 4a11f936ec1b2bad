"""Guided mode: reporting a problem by buttons only — the gas leak first, outages, duplicates (issue 8)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from db.enums import OutageKind, OutageStatus, Priority, TicketKind, Utility
from db.models import OutageNotice, Ticket, TicketEvent
from tests import updates
from tests.support.demo import GRANNY, LINA
from tests.support.flows import share_location, tap_paged
from tests.support.walker import Walker

HOTLINE = "0000-9600119"  # gas_emergency in knowledge/site.yaml


async def _tickets(ctx) -> list[Ticket]:
    async with ctx.sessionmaker() as s:
        return list((await s.execute(select(Ticket).where(Ticket.kind == TicketKind.fault))).scalars())


async def test_gas_leak_safety_first_then_place_and_own_number_one_emergency_ticket(granny, demo_town_guided) -> None:
    await granny.start()
    screen = await granny.tap("🛠")
    assert screen.flat[0].startswith("1 ") and "🔥" in screen.flat[0]  # the gas leak is option 1
    screen = await granny.tap("🔥")
    # The very first message is the safety advice; the emergency line is given before any question.
    assert "燃气泄漏" in screen.texts[0] and ("不要点火" in screen.texts[0] or "明火" in screen.texts[0])
    assert any(HOTLINE in t for t in screen.texts[:-1])
    assert "哪里" in screen.text and any("🏡" in b for b in screen.flat) and any("📍" in b for b in screen.flat)
    screen = await granny.tap("🏡")
    assert any("📱" in b for b in screen.flat)
    # Somebody else's contact card is refused politely and nothing moves on.
    screen = await granny.share_contact("13900000009", own=False)
    assert "别人" in screen.texts[0] and any("📱" in b for b in screen.flat)
    screen = await granny.share_contact("13800000003")
    assert "燃气泄漏" in screen.text and "138****0003" in screen.text and "南山路" in screen.text
    assert await _tickets(demo_town_guided) == []  # nothing is filed before the plain confirmation

    # Back keeps what was entered: back to the phone, back to the place, and forward again.
    await granny.back()
    await granny.back()
    await granny.tap("🏡")
    screen = await granny.tap("☎️")  # the number on file this time
    assert "138****0003" in screen.text

    send = granny.screen.find("✅")
    granny.bot.clear()
    await granny.dp.feed_update(granny.bot, updates.text(send, user_id=GRANNY))
    await granny.dp.feed_update(granny.bot, updates.text(send, user_id=GRANNY))  # a double tap
    [ticket] = await _tickets(demo_town_guided)
    assert granny.bot.texts()[-2] == f"已经提交过了，工单号{ticket.number}。"  # the second tap is answered
    assert ticket.category == "gas_leak" and ticket.priority is Priority.emergency
    assert ticket.account_id is not None and ticket.contact_phone == "13800000003" and ticket.resident_id == GRANNY
    said = "\n".join(granny.bot.texts())
    assert ticket.number in said and " ".join(ticket.number.split("-")[2]) in said  # read aloud: 0 0 0 1
    assert "抢修" in said


async def test_gas_leak_from_a_shared_location_asks_nothing_more_than_the_number(lina, demo_town_guided) -> None:
    await lina.start()
    await lina.tap("🛠")
    screen = await lina.tap("🔥")
    assert "Gas leak" in screen.texts[0] and "No flames" in screen.texts[0]
    assert not any("🏡" in b for b in screen.flat)  # Li Na has no linked account
    screen = await share_location(lina)
    assert any("📱" in b for b in screen.flat)  # straight to the phone: no district question in an emergency
    await lina.share_contact("13800000002")
    screen = await lina.tap("✅")
    [ticket] = await _tickets(demo_town_guided)
    assert ticket.latitude == 31.30 and ticket.priority is Priority.emergency
    assert "emergency" in " ".join(screen.texts) and ticket.number in " ".join(screen.texts)


async def test_water_leak_by_location_and_district_with_typed_number_and_bad_input(lina, demo_town_guided) -> None:
    await lina.start()
    await lina.tap("🛠")
    screen = await lina.tap("💧")
    assert any("💦" in b for b in screen.flat) and not any("🔥" in b for b in screen.flat)
    # A typed word where a button is expected changes nothing.
    screen = await lina._feed(updates.text("purple elephant", user_id=LINA))
    assert "did not understand" in screen.texts[0] and any("💦" in b for b in screen.flat)
    n = next(i for i, b in enumerate(screen.flat, 1) if "💦" in b)
    screen = await lina.type_number(n)  # typing the number is the same as tapping
    assert "Where" in screen.text
    await share_location(lina)
    screen = lina.screen
    assert "district" in screen.text
    screen = await tap_paged(lina, "城西区")
    assert "only your home" in screen.text
    screen = await lina.tap("🏢")  # the whole building (R8: the extent)
    await lina.share_contact("+86 138 0000 0002")
    screen = await lina.back()  # back to the phone, then forward: nothing lost
    screen = await lina.share_contact("13800000002")
    assert "城西区" in screen.text and "Water leak" in screen.text and "type a few words" in screen.text
    assert "The whole building" in screen.text
    # Words are optional; typed here they are kept with the report.
    screen = await lina._feed(updates.text("water coming through the kitchen ceiling", user_id=LINA))
    assert "added your words" in screen.texts[0] and "kitchen ceiling" in screen.text
    screen = await lina.tap("✅")
    [ticket] = await _tickets(demo_town_guided)
    assert (ticket.category, ticket.district, ticket.utility) == ("water_leak", "城西区", Utility.water)
    assert ticket.extent == "building" and ticket.address is None
    assert ticket.priority is Priority.normal and ticket.contact_phone == "13800000002"
    assert ticket.description == "water coming through the kitchen ceiling"
    assert "registered" in " ".join(screen.texts) and "My requests" in " ".join(screen.flat)
    # Back from the final screen goes home, never into the sent form.
    screen = await lina.back()
    assert any("➕" in b for b in screen.flat)


async def test_known_outage_is_told_with_its_notice_and_nothing_is_filed(granny, demo_town_guided, clock) -> None:
    async with demo_town_guided.sessionmaker() as s:
        s.add(OutageNotice(
            number="TQ-20261123-0001", utility=Utility.gas, kind=OutageKind.emergency,
            status=OutageStatus.announced, reason_zh="燃气管道抢修", reason_en="Gas main repair",
            area={"districts": ["城南区"]}, starts_at=clock.now() - timedelta(hours=1),
            restore_at=clock.now() + timedelta(hours=4), created_at=clock.now(), announced_at=clock.now()))
        await s.commit()
    await granny.start()
    await granny.tap("🛠")
    await granny.tap("🔧")
    screen = await granny.tap("🚫")  # no gas
    screen = await granny.tap("🏡")
    assert any("燃气管道抢修" in t for t in screen.texts) and any("👍" in b for b in screen.flat)
    screen = await granny.tap("👍")
    assert await _tickets(demo_town_guided) == [] and any("➕" in b for b in screen.flat)
    # Something else after all: it can still be reported.
    await granny.tap("🛠")
    await granny.tap("🔧")
    await granny.tap("🚫")
    await granny.tap("🏡")
    screen = await granny.tap("🛠")
    assert any("🚪" in b for b in screen.flat)  # on with the report: how far it reaches


async def test_a_second_report_at_the_same_place_is_added_to_the_open_ticket(granny, demo_town_guided) -> None:
    for _ in range(2):
        await granny.start()
        await granny.tap("🛠")
        await granny.tap("🔧")
        await granny.tap("📟")  # meter problem
        await granny.tap("🏡")
        await granny.tap("🚪")
        screen = await granny.tap("☎️")
        screen = await granny.tap("✅")
    [ticket] = await _tickets(demo_town_guided)
    said = " ".join(granny.screens[-2].texts)
    assert ticket.number in said and "已经报过" in granny.screens[-2].text
    assert "已经报过" in " ".join(screen.texts)
    async with demo_town_guided.sessionmaker() as s:
        reports = (await s.execute(select(TicketEvent).where(TicketEvent.kind == "report"))).scalars().all()
    assert len(reports) == 1


async def test_category_choice_is_shown_again_after_back(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("🛠")
    await granny.tap("🔧")
    await granny.tap("📟")
    screen = await granny.back()
    assert "您选的是" in screen.text and "表" in screen.text


async def test_several_addresses_water_first_and_paged(demo_town_guided, dp, bot) -> None:
    from db.enums import LinkMethod
    from db.models import AccountLink, Resident, UtilityAccount

    wang = 10001  # two linked accounts (gas, water); a third one is linked here
    async with demo_town_guided.sessionmaker() as s:
        (await s.get(Resident, wang)).guided_mode = True
        extra = (await s.execute(select(UtilityAccount).order_by(UtilityAccount.id).offset(9).limit(1))).scalar_one()
        s.add(AccountLink(resident_id=wang, account_id=extra.id, verified_at=demo_town_guided.clock.now(),
                          method=LinkMethod.contact, relation="self", alerts_enabled=True))
        await s.commit()
        water = (await s.execute(select(UtilityAccount).join(AccountLink).where(
            AccountLink.resident_id == wang, UtilityAccount.utility == Utility.water))).scalar_one()
    walker = Walker(dp, bot, wang)
    await walker.start()
    await walker.tap("🛠")
    await walker.tap("💧")
    screen = await walker.tap("🚱")
    addresses = [b for b in screen.flat if "🏡" in b]
    assert len(addresses) == 3 and f"{water.street}{water.building}号" in addresses[0]  # the water address first
    assert any("➡️" in b for b in screen.flat)
    screen = await walker.tap("➡️")
    assert any("📍" in b for b in screen.flat) and any("🗺" in b for b in screen.flat)
    screen = await walker.tap("➡️")  # "More" goes round to the first page again
    screen = await walker.tap(addresses[0].split(" ", 1)[1])
    assert any("🚪" in b for b in screen.flat)
    screen = await walker.tap("🚪")
    assert any("📱" in b for b in screen.flat)


async def test_every_category_button_fits_in_both_languages(granny, lina, demo_town_guided) -> None:
    """The walker checks every screen it sees: emoji, 2-6 words (2-12 characters in Chinese), six buttons."""
    for walker in (granny, lina):
        await walker.start()
        await walker.tap("🛠")
        for utility in ("🔧", "💧", "⚡"):
            screen = await walker.tap(utility)
            seen = set(screen.flat)
            while any("➡️" in b for b in screen.flat):
                screen = await walker.tap("➡️")
                if set(screen.flat) <= seen:
                    break
                seen |= set(screen.flat)
            assert not any("🔥" in b for b in seen)  # the gas leak has its own first button
            await walker.back()


async def test_two_taps_at_the_same_instant_file_one_ticket(granny, demo_town_guided) -> None:
    import asyncio

    await granny.start()
    await granny.tap("🛠")
    await granny.tap("🔧")
    await granny.tap("🚫")
    await granny.tap("🏡")
    await granny.tap("🚪")
    await granny.tap("☎️")
    send = granny.screen.find("✅")
    await asyncio.gather(*(granny.dp.feed_update(granny.bot, updates.text(send, user_id=GRANNY)) for _ in range(2)))
    [ticket] = await _tickets(demo_town_guided)
    assert ticket.category == "no_gas"
    assert sum(ticket.number in t for t in granny.bot.texts()) >= 2  # both taps are answered with the number
