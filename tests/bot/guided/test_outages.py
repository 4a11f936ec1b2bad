"""Guided mode: outages at the resident's addresses in short messages, district notices by buttons (R9)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from db.enums import OutageKind, OutageStatus, Utility
from db.models import DistrictSubscription, OutageNotice
from tests import updates
from tests.support.demo import GRANNY, LINA


async def add_outage(ctx, number: str, *, district: str, start_in: timedelta, hours: int = 6,
                     utility: Utility = Utility.gas, kind: OutageKind = OutageKind.planned,
                     status: OutageStatus = OutageStatus.announced) -> None:
    now = ctx.clock.now()
    async with ctx.sessionmaker() as s:
        s.add(OutageNotice(number=number, utility=utility, kind=kind, status=status,
                           reason_zh="更换燃气主管道阀门" * 3, reason_en="Replacing a valve on the gas main",
                           area={"districts": [district]}, starts_at=now + start_in,
                           restore_at=now + start_in + timedelta(hours=hours), created_at=now, announced_at=now))
        await s.commit()


async def test_current_and_planned_outages_at_my_address_in_short_messages(granny, demo_town_guided) -> None:
    await add_outage(demo_town_guided, "TD-1", district="城南区", start_in=timedelta(hours=-1),
                     kind=OutageKind.emergency)
    await add_outage(demo_town_guided, "TD-2", district="城南区", start_in=timedelta(days=9))
    await add_outage(demo_town_guided, "TD-3", district="城北区", start_in=timedelta(hours=-1))  # not her address
    await add_outage(demo_town_guided, "TD-4", district="城南区", start_in=timedelta(days=2), status=OutageStatus.draft)
    await granny.start()
    await granny.tap("➕")
    screen = await granny.tap("⚡")
    notices, head = screen.texts[:-1], screen.text
    assert len(notices) == 2 and "1" in head and "计划" in head
    current, planned = notices
    assert "正在停" in current and "原因" in current and "抱歉" in current and "城南区" in current
    assert "到大约" in planned
    assert all(len(t) <= 300 for t in screen.texts)

    # Subscribe to a district, then stop; Back does not send the notices again.
    screen = await granny.tap("🔔")
    screen = await granny.tap("城东区")
    assert "城东区" in screen.texts[0] and any("🔕" in b and "城东区" in b for b in screen.flat)
    async with demo_town_guided.sessionmaker() as s:
        subs = [d.district for d in (await s.execute(select(DistrictSubscription)
                                                     .where(DistrictSubscription.resident_id == GRANNY))).scalars()]
    assert subs == ["城东区"]
    screen = await granny.back()
    assert screen.texts == [screen.text] and "城东区" in screen.text  # only the summary, with the subscription
    await granny.tap("🔔")
    screen = await granny.tap("🔕")
    assert "不再" in screen.texts[0]
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.execute(select(DistrictSubscription))).first() is None


async def test_resident_without_an_address_subscribes_to_a_district_and_then_sees_its_outage(lina,
                                                                                             demo_town_guided) -> None:
    await add_outage(demo_town_guided, "TD-9", district="城西区", start_in=timedelta(hours=-2), utility=Utility.water)
    await lina.start()
    await lina.tap("➕")
    screen = await lina.tap("⚡")
    assert "do not know your address" in screen.text
    screen = await lina.tap("🔗")  # "Link my account" leads to the balance screen
    assert "not linked" in screen.text and any("🔗" in b for b in screen.flat)
    await lina.home()
    await lina.tap("➕")
    await lina.tap("⚡")
    await lina.tap("🔔")
    # A typed district name is not a button: nothing is subscribed.
    await lina._feed(updates.text("城西区", user_id=LINA))
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.execute(select(DistrictSubscription))).first() is None
    await lina.tap("城西区")
    await lina.back()
    await lina.back()
    screen = await lina.tap("⚡")
    [notice] = screen.texts[:-1]
    assert "water" in notice.lower() and "Now" in notice and "sorry" in notice.lower()
    assert "城西区" in screen.text
