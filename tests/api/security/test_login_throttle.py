"""Issue 12 F6: login throttling that cannot be turned against staff, answers that reveal nothing, and checks
that run before any database work; shared through Redis between processes."""

from __future__ import annotations

import statistics
import time
import uuid

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import event

from api.app import create_app
from core.throttle import Limits, LoginThrottle
from tests.support.console import PASSWORD, csrf_from


def _client(api_app, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app, client=(address, 40000)),
                             base_url="http://testserver")


async def _login(c: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    token = csrf_from((await c.get("/login")).text)
    return await c.post("/login", data={"username": username, "password": password, "csrf_token": token})


async def test_lockout_from_one_address_does_not_block_the_admin_elsewhere(api_app, staff_users) -> None:
    async with _client(api_app, "203.0.113.7") as attacker, _client(api_app, "198.51.100.2") as office:
        for _ in range(api_app.state.login_throttle.limits.per_user_address):
            assert (await _login(attacker, "admin", "guess")).status_code == 401
        r = await _login(attacker, "admin", PASSWORD)
        assert r.status_code == 429, "locked from the attacker's address, even with the right password"
        assert (await _login(office, "admin", PASSWORD)).status_code == 303


async def test_address_limit_over_many_usernames(api_app, staff_users) -> None:
    api_app.state.login_throttle.limits = Limits(per_user_address=5, per_address=8, window=900)
    async with _client(api_app, "203.0.113.9") as sprayer, _client(api_app, "198.51.100.3") as office:
        for i in range(8):
            assert (await _login(sprayer, f"user{i}", "guess")).status_code == 401
        assert (await _login(sprayer, "agent", PASSWORD)).status_code == 429
        assert (await _login(office, "agent", PASSWORD)).status_code == 303


async def test_unknown_and_known_users_answer_identically(api_app, staff_users) -> None:
    async with _client(api_app, "192.0.2.1") as c:
        a, b = await _login(c, "nobody-here", "x"), await _login(c, "agent", "x")
        assert a.status_code == b.status_code == 401
        assert _error(a.text) == _error(b.text)
        for _ in range(5):
            await _login(c, "ghost", "x")
            await _login(c, "operator", "x")
        ghost, real = await _login(c, "ghost", "x"), await _login(c, "operator", "x")
        assert ghost.status_code == real.status_code == 429 and _error(ghost.text) == _error(real.text)


def _error(html: str) -> str:
    start = html.index('class="error"')
    return html[start:html.index("</p>", start)]


async def test_a_locked_login_touches_no_database(api_app, ctx, staff_users) -> None:
    statements: list[str] = []
    async with _client(api_app, "192.0.2.5") as c:
        for _ in range(5):
            await _login(c, "agent", "x")
        token = csrf_from((await c.get("/login")).text)

        def record(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        event.listen(ctx.engine.sync_engine, "before_cursor_execute", record)
        try:
            r = await c.post("/login", data={"username": "agent", "password": PASSWORD, "csrf_token": token})
        finally:
            event.remove(ctx.engine.sync_engine, "before_cursor_execute", record)
    assert r.status_code == 429 and statements == []


async def test_timing_does_not_tell_unknown_known_or_locked_apart(api_app, staff_users, monkeypatch) -> None:
    """Medians of a few dozen tries: every refusal costs one real password verification. (The old code
    answered a locked account without hashing: many times faster.)"""
    import core.staff

    # Hashing must dominate the request, as it does in production (argon2 there costs ~50-100 ms).
    monkeypatch.setattr(core.staff, "_hasher", PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1))
    api_app.state.login_throttle.limits = Limits(per_user_address=5, per_address=100_000, window=900)
    tries = 25

    async def timed(c: httpx.AsyncClient, username: str) -> float:
        token = csrf_from((await c.get("/login")).text)
        start = time.perf_counter()
        r = await c.post("/login", data={"username": username, "password": "wrong", "csrf_token": token})
        elapsed = time.perf_counter() - start
        assert r.status_code in (401, 429)
        return elapsed

    async with _client(api_app, "192.0.2.9") as c:
        for _ in range(5):
            await timed(c, "supervisor")  # now locked from here
        await timed(c, "agent")  # warm-up
        samples: dict[str, list[float]] = {"unknown": [], "known": [], "locked": []}
        for i in range(tries):  # interleaved, so a busy moment on the machine hits all three alike
            samples["unknown"].append(await timed(c, f"nobody{i}"))
            samples["known"].append(await timed(c, "agent"))
            samples["locked"].append(await timed(c, "supervisor"))
    medians = {k: statistics.median(v) for k, v in samples.items()}
    base = medians["known"]
    for kind, m in medians.items():
        assert 0.5 * base <= m <= 2.0 * base, f"{kind}: {m * 1000:.1f} ms vs known-wrong {base * 1000:.1f} ms"


async def test_throttle_is_shared_through_redis(redis_url: str) -> None:
    prefix = f"onestop:test:{uuid.uuid4().hex}:"
    limits = Limits(per_user_address=3, per_address=50, window=60)
    one, two = LoginThrottle(redis_url, limits, prefix=prefix), LoginThrottle(redis_url, limits, prefix=prefix)
    try:
        for _ in range(3):
            assert not await two.blocked("admin", "203.0.113.1")
            await one.failed("admin", "203.0.113.1")  # another process counts the failures
        assert await two.blocked("admin", "203.0.113.1")
        assert not await two.blocked("admin", "198.51.100.1")
        await two.succeeded("admin", "203.0.113.1")
        assert not await one.blocked("admin", "203.0.113.1")
    finally:
        await one.close()
        await two.close()


async def test_the_app_uses_redis_when_configured(ctx, redis_url: str, staff_users) -> None:
    ctx.settings.redis_url = redis_url
    first, second = create_app(ctx), create_app(ctx)  # two processes' worth of app state
    user = "agent"
    try:
        async with _client(first, f"203.0.113.{uuid.uuid4().int % 250}") as a:
            addr = a._transport.client[0]  # type: ignore[attr-defined]
            for _ in range(5):
                assert (await _login(a, user, "guess")).status_code == 401
            async with _client(second, addr) as b:
                assert (await _login(b, user, PASSWORD)).status_code == 429
    finally:
        for api_app in (first, second):
            await api_app.state.login_throttle.store.delete(LoginThrottle._keys(user, addr)[0])
            await api_app.state.login_throttle.close()


@pytest.mark.parametrize("username", ["admin", "ADMIN ", "Admin"])
async def test_case_and_spaces_do_not_evade_the_lock(username: str) -> None:
    throttle = LoginThrottle(None, Limits(per_user_address=2, per_address=50, window=60))
    await throttle.failed("admin", "1.2.3.4")
    await throttle.failed("Admin", "1.2.3.4")
    assert await throttle.blocked(username, "1.2.3.4")
