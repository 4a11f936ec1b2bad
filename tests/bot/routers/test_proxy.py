"""R16: applying for the owner asks the applicant's relation and which of the four documents they have (own
ID, proof of relation, owner's ID, property documents), records it, and the assisted-service checklist lists
what is missing — through the real dispatcher."""

from __future__ import annotations

from sqlalchemy import select

from bot.keyboards.proxy import ProxyAct, ProxyCallback
from bot.routers.accounts import AccountAction, AccountCallback
from core import accounts, proxy
from core.demo import bill_code
from db.models import ProxyApplication
from tests import updates
from tests.support.demo import LINA, WANG


def _tap(data) -> object:
    return updates.callback(data.pack(), user_id=LINA)


async def _applications(session) -> list[ProxyApplication]:
    return list((await session.execute(select(ProxyApplication))).scalars())


async def test_r16_relation_documents_recorded_and_missing_listed(demo_town_en, dp, bot, session) -> None:
    await dp.feed_update(bot, _tap(AccountCallback(action=AccountAction.link)))
    await dp.feed_update(bot, _tap(AccountCallback(action=AccountAction.relation_relative)))
    assert "How are you related" in bot.texts()[-1]
    await dp.feed_update(bot, updates.text("her son", user_id=LINA))  # typed: the buttons are asked for
    assert "buttons above" in bot.texts()[-1]
    await dp.feed_update(bot, _tap(ProxyCallback(act=ProxyAct.relation, v="child")))
    assert "four things" in bot.texts()[-1]
    for doc in ("own_id", "owner_id", "property_docs", "property_docs", "property_docs"):  # toggled off, on
        await dp.feed_update(bot, _tap(ProxyCallback(act=ProxyAct.toggle, v=doc)))
    markup = bot.sent("EditMessageReplyMarkup")[-1].reply_markup
    ticks = [b.text[0] for row in markup.inline_keyboard for b in row][:4]
    assert ticks == ["✅", "⬜", "✅", "✅"]
    await dp.feed_update(bot, _tap(ProxyCallback(act=ProxyAct.done)))
    texts = bot.texts()
    checklist = next(t for t in reversed(texts) if "checklist" in t)
    assert "❌ Proof of your relation" in checklist and "Still missing: 1" in checklist
    assert "✅ Your own ID card" in checklist and "assisted-service desk" in checklist
    assert "10-digit account number" in texts[-1]  # then on to linking, as before
    (app,) = await _applications(session)
    assert (app.resident_id, app.relation, app.documents) == (LINA, "child", ["own_id", "owner_id", "property_docs"])
    assert proxy.missing(app.documents) == [proxy.Document.relation_proof]
    # The link itself still works and is recorded as a relative's.
    gas = (await accounts.linked_accounts(session, WANG))[0]
    await dp.feed_update(bot, updates.text(gas.number, user_id=LINA))
    await dp.feed_update(bot, updates.text(bill_code(gas.number), user_id=LINA))
    assert (await accounts.get_link(session, LINA, gas.id)).relation == "relative"


async def test_r16_not_family_needs_the_owners_authorisation(demo_town_en, dp, bot, session) -> None:
    await dp.feed_update(bot, _tap(AccountCallback(action=AccountAction.link)))
    await dp.feed_update(bot, _tap(AccountCallback(action=AccountAction.relation_relative)))
    await dp.feed_update(bot, _tap(ProxyCallback(act=ProxyAct.relation, v="other")))
    await dp.feed_update(bot, _tap(ProxyCallback(act=ProxyAct.done)))
    checklist = next(t for t in reversed(bot.texts()) if "checklist" in t)
    assert "❌ The owner's signed authorisation letter" in checklist and "Still missing: 4" in checklist
    (app,) = await _applications(session)
    assert app.relation == "other" and app.documents == []
    # A forged toggle outside the form changes nothing.
    await dp.feed_update(bot, _tap(ProxyCallback(act=ProxyAct.toggle, v="own_id")))
    assert (await _applications(session))[0].documents == []
