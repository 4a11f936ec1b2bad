"""R11: the supply is cut no earlier than 3 days after the payment notice; after paying, residents register
for reconnection and are served in order of registration — a queue operators see in the console and each
resident sees as a position in the bot."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from bot.routers.reconnection import ReconnectCallback
from core import reconnection, tickets
from core.alerts import ARREARS
from db.enums import AccountState, LedgerKind, LinkMethod, MeterType, StaffRole, Utility
from db.models import (
    AccountLink,
    AlertLog,
    LedgerEntry,
    OutboxNotification,
    ReconnectionRequest,
    Resident,
    StaffUser,
    UtilityAccount,
)
from tests import updates
from tests.support.console import csrf, login


async def _account(session, n: int, *, state: AccountState, balance_fen: int, now) -> UtilityAccount:
    acc = UtilityAccount(number=f"10000000{n:02d}", utility=Utility.gas, holder_name="王", district="城东区",
                         street="人民路", building=str(n), meter_type=MeterType.ordinary, state=state,
                         created_at=now, updated_at=now)
    session.add(acc)
    await session.flush()
    session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.charge, amount_fen=-5000,
                            posted_at=now - timedelta(days=60)))
    if balance_fen >= 0:
        session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.payment, amount_fen=5000 + balance_fen,
                                posted_at=now - timedelta(hours=1)))
    return acc


async def _resident(session, rid: int, account: UtilityAccount, now) -> Resident:
    r = Resident(id=rid, first_name="居民", language="en", guided_mode=False, blocked=False, link_failures=0,
                 misses=0, created_at=now)
    session.add(r)
    session.add(AccountLink(resident_id=rid, account_id=account.id, verified_at=now, method=LinkMethod.contact,
                            relation="self", alerts_enabled=True))
    await session.flush()
    return r


async def test_r11_registration_needs_payment_and_queues_in_order(ctx, session, clock, staff_users) -> None:
    now = clock.now()
    unpaid = await _account(session, 1, state=AccountState.sealed, balance_fen=-5000, now=now)
    accs = [await _account(session, n, state=AccountState.sealed, balance_fen=0, now=now) for n in (2, 3, 4)]
    residents = [await _resident(session, 20000 + i, a, now) for i, a in enumerate(accs)]
    await session.commit()
    with pytest.raises(tickets.TransitionError, match="paid"):
        await reconnection.register(session, ctx=ctx, account=unpaid, resident=None)
    places = []
    for acc, res in zip(accs, residents, strict=True):
        places.append(await reconnection.register(session, ctx=ctx, account=acc, resident=res))
        clock.advance(minutes=5)
    assert [p.position for p in places] == [1, 2, 3]
    again = await reconnection.register(session, ctx=ctx, account=accs[1], resident=residents[1])
    assert again.position == 2 and again.request.id == places[1].request.id  # registering twice keeps the place
    q = await reconnection.queue(session)
    assert [r.account.number for r in q] == [a.number for a in accs]
    # Served strictly in order of registration.
    ids, acc_ids, res_ids = [p.request.id for p in places], [a.id for a in accs], [r.id for r in residents]
    numbers = [a.number for a in accs]
    with pytest.raises(tickets.NotAllowed, match="order of registration"):
        await reconnection.serve(session, ctx=ctx, request_id=ids[2], staff=await _op(session))
    await session.rollback()
    await reconnection.serve(session, ctx=ctx, request_id=ids[0], staff=await _op(session))
    assert (await session.get(UtilityAccount, acc_ids[0])).state is AccountState.connected
    assert (await session.get(UtilityAccount, acc_ids[2])).state is AccountState.sealed
    last = await session.get(ReconnectionRequest, ids[2])
    assert (await reconnection.position(session, last)).position == 2
    told = (await session.execute(select(OutboxNotification).where(
        OutboxNotification.kind == "account.reconnected"))).scalars().all()
    assert [t.resident_id for t in told] == [res_ids[0]] and numbers[0] in told[0].payload["text"]


async def _op(session) -> StaffUser:
    return (await session.execute(select(StaffUser).where(StaffUser.role == StaffRole.operator))).scalar_one()


async def test_r11_cut_off_not_before_3_days_after_the_notice(ctx, session, clock, staff_users) -> None:
    now = clock.now()
    acc = await _account(session, 5, state=AccountState.connected, balance_fen=-5000, now=now)
    await session.commit()
    op = await _op(session)
    with pytest.raises(tickets.TransitionError, match="no payment notice"):
        await reconnection.seal_for_arrears(session, ctx=ctx, account=acc, staff=op)
    session.add(AlertLog(account_id=acc.id, kind=ARREARS, day=now.date(), created_at=now))
    await session.commit()
    clock.advance(days=2, hours=23, minutes=59)
    with pytest.raises(tickets.TransitionError, match="3 days"):
        await reconnection.seal_for_arrears(session, ctx=ctx, account=acc, staff=op)
    assert (await session.get(UtilityAccount, acc.id)).state is AccountState.connected
    clock.advance(minutes=1)
    await reconnection.seal_for_arrears(session, ctx=ctx, account=acc, staff=op)
    assert acc.state is AccountState.sealed


async def test_r11_resident_sees_their_position_in_the_bot(ctx, session, dp, bot, clock) -> None:
    now = clock.now()
    first = await _account(session, 6, state=AccountState.sealed, balance_fen=0, now=now)
    mine = await _account(session, 7, state=AccountState.sealed, balance_fen=0, now=now)
    await _resident(session, 20010, first, now)
    me = await _resident(session, 20011, mine, now)
    await session.commit()
    await reconnection.register(session, ctx=ctx, account=first, resident=None)
    clock.advance(minutes=1)
    await dp.feed_update(bot, updates.callback(ReconnectCallback(account_id=mine.id).pack(), user_id=me.id))
    text = bot.texts()[-1]
    assert "number <b>2</b> in the queue" in text and "1 registered before you" in text
    # A forged button for someone else's account changes nothing.
    await dp.feed_update(bot, updates.callback(ReconnectCallback(account_id=first.id).pack(), user_id=me.id))
    assert len(await reconnection.queue(session)) == 2


async def test_r11_console_queue_in_order(ctx, session, clock, staff_users) -> None:
    now = clock.now()
    a = await _account(session, 8, state=AccountState.sealed, balance_fen=0, now=now)
    b = await _account(session, 9, state=AccountState.sealed, balance_fen=0, now=now)
    await session.commit()
    pa = await reconnection.register(session, ctx=ctx, account=a, resident=None)
    clock.advance(minutes=1)
    pb = await reconnection.register(session, ctx=ctx, account=b, resident=None)
    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await login(c, "agent")).status_code == 303
        assert (await c.get("/console/reconnection")).status_code == 403  # operators and up
        await c.post("/logout", data={"csrf_token": await csrf(c)})
        assert (await login(c, "operator")).status_code == 303
        page = await c.get("/console/reconnection")
        assert page.status_code == 200 and page.text.index(a.number) < page.text.index(b.number)
        h = {"X-CSRF-Token": await csrf(c)}
        r = await c.post(f"/console/reconnection/{pb.request.id}/serve", headers=h)
        assert "order of registration" in httpx.URL(r.headers["location"]).params["error"]
        r = await c.post(f"/console/reconnection/{pa.request.id}/serve", headers=h)
        assert r.status_code == 303 and "error" not in r.headers["location"]
        r = await c.post("/console/reconnection/seal", data={"number": b.number}, headers=h)
        assert "connected account" in httpx.URL(r.headers["location"]).params["error"]  # sealed already
    async with ctx.sessionmaker() as s:
        assert (await s.get(UtilityAccount, a.id)).state is AccountState.connected
        assert (await s.get(UtilityAccount, b.id)).state is AccountState.sealed
