"""``DeferredSession`` (db/session.py, issue 13): the bot's per-update session builds its ORM ``Session`` only
when something uses it, and to every caller behaves as an ordinary ``AsyncSession``."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import make_transient_to_detached

from db.models import Resident
from db.session import DeferredSession


def _session(ctx) -> DeferredSession:
    return DeferredSession(**ctx.sessionmaker.kw)


def _resident(ctx, user_id: int = 4242) -> Resident:
    now = ctx.clock.now()
    return Resident(id=user_id, first_name="李", username=None, created_at=now, last_seen_at=now, language=None,
                    guided_mode=False, blocked=False, link_failures=0, link_locked_until=None, misses=0,
                    cache_rev=0)


async def test_unused_session_builds_nothing_and_closes_quietly(ctx) -> None:
    s = _session(ctx)
    s.info["note"] = {"kept": 1}
    assert s.bind is ctx.engine  # readable without building the session
    assert not s.in_transaction()
    await s.close()
    assert not s.started
    assert "sync_session" not in vars(s)


async def test_first_use_builds_it_with_the_info_set_before(ctx) -> None:
    s = _session(ctx)
    shared = s.info.setdefault("active_conversation", {})
    assert (await s.execute(text("SELECT 1"))).scalar_one() == 1
    assert s.started and s.in_transaction()
    shared[7] = None  # a dict handed out before the session was built is still the one it holds
    assert s.info["active_conversation"] == {7: None}
    assert s.sync_session.expire_on_commit is False  # the factory's options carried over
    await s.close()


async def test_objects_added_on_start_join_and_their_changes_are_written(ctx, session) -> None:
    session.add(_resident(ctx))
    await session.commit()
    copy = _resident(ctx)
    make_transient_to_detached(copy)  # as the resident cache hands out a copy
    s = _session(ctx)
    s.add_on_start(copy)
    assert not s.started
    copy.language = "en"  # changed before anything used the session ...
    await s.commit()  # ... and written when it is
    await s.close()
    session.expire_all()
    assert (await session.execute(select(Resident.language).where(Resident.id == 4242))).scalar_one() == "en"


async def test_an_object_added_on_start_is_the_one_queries_return(ctx, session) -> None:
    session.add(_resident(ctx))
    await session.commit()
    copy = _resident(ctx)
    make_transient_to_detached(copy)
    s = _session(ctx)
    s.add_on_start(copy)
    assert (await s.get(Resident, 4242)) is copy  # in the identity map from the start: no second instance
    s.add_on_start(_other := _resident(ctx, 4343))  # once started, added at once (a new row here)
    assert _other in s
    await s.rollback()
    await s.close()


async def test_unknown_attribute_still_raises(ctx) -> None:
    s = _session(ctx)
    try:
        s.no_such_thing  # noqa: B018
    except AttributeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
    await s.close()
