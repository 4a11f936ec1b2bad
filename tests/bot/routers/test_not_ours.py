"""R8: a fault that is not the utility's responsibility — inside an appliance bought elsewhere (gas), the
building's shared pipes (water), the wiring beyond the meter (power) — gets an explanation and where to turn,
in the bot and in simple mode, in the resident's language; it can still be reported, and nothing is filed
unless they do."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.enums import TicketKind
from db.models import Ticket
from tests.support.chat import Chat
from tests.support.demo import WANG, ZHANG, set_language
from tests.support.walker import Walker


async def _tickets(ctx) -> list[Ticket]:
    async with ctx.sessionmaker() as session:
        return list((await session.execute(select(Ticket).where(Ticket.kind == TicketKind.fault))).scalars())


@pytest.mark.parametrize(("utility", "button", "where_to_turn"), [
    ("Gas", "Appliance bought elsewhere", "after-sales number on its warranty card"),
    ("Water", "Building's shared pipes", "property management company"),
    ("Power", "Wiring inside my home", "licensed electrician"),
])
async def test_r8_not_ours_is_explained_in_the_bot(ctx, dp, bot, demo_town, utility, button, where_to_turn) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("🛠 Report a fault")
    await chat.press(utility)
    await chat.press(button)
    assert where_to_turn in chat.last()
    assert await _tickets(ctx) == []
    # Still theirs to decide: "report it anyway" continues the ordinary report.
    await chat.press("Report it anyway")
    assert chat.said("Where is the problem")


async def test_r8_in_chinese_and_in_simple_mode(ctx, dp, bot, demo_town) -> None:
    chat = Chat(dp, bot, WANG)  # 王 reads Chinese
    await chat.send("🛠 故障报修")
    await chat.press("供水")
    await chat.press("楼内公共管道")
    assert "物业" in chat.last() and "二次供水" in chat.last()
    granny = Walker(dp, bot, ZHANG)
    await granny.start()
    await granny.tap("🛠")
    await granny.tap("⚡")
    screen = await granny.tap("🔌 家里电线开关")
    assert "电表以后的线路" in screen.text and "持证电工" in screen.text
    assert any("仍然报修" in b for b in screen.flat) and any("👩‍💼" in b for b in screen.flat)
    screen = await granny.tap("仍然报修")
    assert any("🏡" in b or "📍" in b for b in screen.flat)  # on to "where", as an ordinary report
    assert await _tickets(ctx) == []
