import pytest

from core.demo import load_demo
from db.models import Resident
from tests.guided.walker import Walker

GRANNY = 10003  # 张奶奶: simple mode, one linked account, Chinese
LINA = 10002  # new, no accounts


@pytest.fixture
async def demo(ctx):
    async with ctx.sessionmaker() as session:
        await load_demo(session, now=ctx.clock.now())
        lina = await session.get(Resident, LINA)
        lina.language, lina.guided_mode = "en", True
        await session.commit()
    return ctx


@pytest.fixture
def granny(demo, dp, bot) -> Walker:
    return Walker(dp, bot, GRANNY)


@pytest.fixture
def lina(demo, dp, bot) -> Walker:
    """A new resident in simple mode who speaks English."""
    return Walker(dp, bot, LINA, language_code="en")
