"""Bot fixtures: residents in simple (guided) mode, played through the real Dispatcher."""

from __future__ import annotations

import pytest

from core.demo import load_demo
from db.models import Resident
from tests.support.demo import GRANNY, LINA
from tests.support.walker import Walker


@pytest.fixture
async def demo_town_guided(ctx):
    """The demo utility, with Li Na speaking English in simple mode."""
    async with ctx.sessionmaker() as session:
        await load_demo(session, now=ctx.clock.now())
        lina = await session.get(Resident, LINA)
        lina.language, lina.guided_mode = "en", True
        await session.commit()
    return ctx


@pytest.fixture
def granny(demo_town_guided, dp, bot) -> Walker:
    """张奶奶: simple mode, one linked account, Chinese."""
    return Walker(dp, bot, GRANNY)


@pytest.fixture
def lina(demo_town_guided, dp, bot) -> Walker:
    """A new resident in simple mode who speaks English."""
    return Walker(dp, bot, LINA, language_code="en")
