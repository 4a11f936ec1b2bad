"""Bad input stays harmless (issue 12 "Also"): hypothesis throws random and malformed values at every console
form post and every ``/api/v1`` JSON body. Whatever comes in, the answer is never a 5xx; a refusal (4xx) says
why, and changes nothing: every table has as many rows after a refused request as before.

The forms and bodies are read from the route table (FastAPI's dependants), so a new route is fuzzed too.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from fastapi import params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from sqlalchemy import func, select

from api.app import create_app
from core import handoff, staff
from core.demo import load_demo
from db.base import Base
from db.enums import StaffRole
from db.models import Resident
from tests.api.console.test_security import ROUTES
from tests.support.console import PASSWORD, login, token_of
from tests.support.context import make_ctx, make_settings, skip_or_fail

WRITES = [(m, path, r) for path, r in ROUTES for m in sorted(r.methods & {"POST", "PUT", "PATCH", "DELETE"})
          if not path.startswith("/sandbox") and path not in ("/login", "/logout")]
CONSOLE = [w for w in WRITES if not w[1].startswith("/api/")]
API = [w for w in WRITES if w[1].startswith("/api/")]

WORDS = ["", " ", "0", "1", "-1", "2", "1e309", "NaN", "null", "true", "9" * 40, "2026-02-30", "2026-11-24",
         "09-12", "<script>alert(1)</script>", "' OR 1=1 --", "\x00", "../../etc/passwd", "x" * 5000, "T-1",
         "confirm", "cancel", "accept", "decline", "apply", "reject", "pause", "gas", "water", "fault", "complaint",
         "城东区", "override", "send", "suggest"]
TEXT = st.one_of(st.sampled_from(WORDS), st.text(max_size=40), st.text(max_size=400))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), TEXT)
JSON = st.recursive(SCALAR, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=3),
                    max_leaves=8)


def _body_fields(route) -> list[Any]:
    return list(route.dependant.body_params)


def _path_values(ids: dict[str, list[str]]) -> st.SearchStrategy[str]:
    known = [v for values in ids.values() for v in values]
    return st.one_of(st.sampled_from(known + WORDS[:12]), st.text(min_size=1, max_size=12))


@st.composite
def console_request(draw, ids: dict[str, list[str]]):
    method, path, route = draw(st.sampled_from(CONSOLE))
    url = _fill(draw, path, ids)
    form: dict[str, Any] = {}
    files = {}
    for field in _body_fields(route):
        if isinstance(field.field_info, params.File):
            if draw(st.booleans()):
                files[field.alias] = (draw(TEXT)[:60] or "f", draw(st.binary(max_size=300)), draw(TEXT)[:40])
        elif draw(st.integers(0, 4)):  # mostly present, sometimes missing
            form[field.alias] = draw(st.one_of(TEXT, st.lists(TEXT, max_size=3)))
    extra = draw(st.dictionaries(st.sampled_from(["x", "csrf_token", "back", "next"]), TEXT, max_size=2))
    form.update({k: v for k, v in extra.items() if k != "csrf_token"})
    return method, path, url, form, files


@st.composite
def api_request(draw, ids: dict[str, list[str]]):
    method, path, route = draw(st.sampled_from(API))
    url = _fill(draw, path, ids)
    fields = _body_fields(route)
    kind = draw(st.integers(0, 5))
    if kind == 0:
        raw = draw(st.one_of(st.binary(max_size=200), st.sampled_from([b"{", b"[]", b"null", b"\"x\"", b"{\"a\":"])))
        return method, path, url, raw
    body: Any = {}
    for field in fields:
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            body = {name: draw(JSON) for name in model.model_fields if draw(st.integers(0, 3))}
            if "items" in model.model_fields and draw(st.booleans()):
                inner = model.model_fields["items"].annotation.__args__[0]
                body["items"] = [{n: draw(JSON) for n in inner.model_fields if draw(st.integers(0, 3))}
                                 for _ in range(draw(st.integers(0, 3)))]
    if kind == 1:
        body = draw(JSON)
    return method, path, url, json.dumps(body).encode()


def _fill(draw, path: str, ids: dict[str, list[str]]) -> str:
    out = path
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        name = out[start + 1:end]
        value = draw(st.sampled_from(ids[name])) if ids.get(name) and draw(st.integers(0, 2)) else \
            draw(_path_values(ids))
        out = out[:start] + quote(value, safe="") + out[end + 1:]
    return out


async def _counts(ctx) -> dict[str, int]:
    async with ctx.sessionmaker() as s:
        return {t.name: await s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


class Env:
    """One database with demo data, a claimed conversation, a ticket and an appointment; an admin session and
    an admin token, so requests get past the role checks and into the real validation and writes."""

    async def start(self, url: str) -> None:
        self.ctx = await make_ctx(make_settings(url))
        ctx = self.ctx
        async with ctx.sessionmaker() as s:
            await load_demo(s, now=ctx.clock.now())
            for role in (StaffRole.admin, StaffRole.agent):
                await staff.create_staff(s, username=f"fz-{role.value}", display_name=role.value, role=role,
                                         password=PASSWORD, now=ctx.clock.now())
            self.token = await staff.create_api_token(s, name="fuzz", role=StaffRole.admin, now=ctx.clock.now())
            await s.commit()
            conv = await handoff.request_handoff(s, ctx=ctx, resident=await s.get(Resident, 10001), reason="button")
        self.app = create_app(ctx)
        self.console = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver")
        self.api = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver",
                                     headers={"Authorization": f"Bearer {self.token}"})
        assert (await login(self.console, "fz-admin")).status_code == 303
        self.csrf = await token_of(self.console)
        await self.console.post(f"/console/conversations/{conv.id}/claim", headers={"X-CSRF-Token": self.csrf})
        day = (ctx.clock.now() + timedelta(days=2)).date().isoformat()
        t = await self.api.post("/api/v1/tickets", json={"kind": "fault", "subject": "燃气表漏气", "resident_id": 10001,
                                                          "utility": "gas"})
        a = await self.api.post("/api/v1/appointments", json={"service": "meter_check", "district": "城东区",
                                                               "address": "人民路 1 号", "day": day, "window": "09-12",
                                                               "resident_id": 10001})
        o = await self.console.post("/console/outages", headers={"X-CSRF-Token": self.csrf}, data={
            "utility": "water", "kind": "planned", "reason_zh": "管道维修", "reason_en": "Pipe repair",
            "starts_at": f"{day}T09:00", "restore_at": f"{day}T15:00", "districts": "城东区"})
        self.ids = {"conv_id": [str(conv.id)], "number": [n for n in (t.json().get("number"),
                                                                   a.json().get("number")) if n],
                    "outage_id": [o.headers.get("location", "/1").rsplit("/", 1)[-1]], "answer": ["accept", "cancel"],
                    "action": ["confirm", "cancel", "pause", "resume", "propose", "complete"],
                    "decision": ["apply", "reject"]}

    async def stop(self) -> None:
        await self.console.aclose()
        await self.api.aclose()
        await self.ctx.close()


async def _pg_database(create: bool, name: str) -> str:
    base = os.environ["TEST_DATABASE_URL"]
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' if create else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
    return base.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request, tmp_path_factory) -> Any:
    """The same fuzz on SQLite and on PostgreSQL (which refuses what SQLite lets through, e.g. NUL in text)."""
    loop = asyncio.new_event_loop()
    pg_name = None
    if request.param == "postgresql":
        if not os.environ.get("TEST_DATABASE_URL"):
            loop.close()
            skip_or_fail("TEST_DATABASE_URL not set: PostgreSQL fuzz skipped (CI sets it)")
        pg_name = f"onestop_fuzz_{uuid.uuid4().hex[:12]}"
        url = loop.run_until_complete(_pg_database(True, pg_name))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz')}/fuzz.db"
    e = Env()
    loop.run_until_complete(e.start(url))
    e.loop = loop
    yield e
    loop.run_until_complete(e.stop())
    if pg_name:
        loop.run_until_complete(_pg_database(False, pg_name))
    loop.close()


def _check(e: Env, what: str, r: httpx.Response, before: dict[str, int]) -> None:
    assert r.status_code < 500, f"{what} -> {r.status_code}: {r.text[:300]}"
    if 400 <= r.status_code < 500:
        assert r.text.strip(), f"{what} -> {r.status_code} without a message"
        if r.headers.get("content-type", "").startswith("application/json"):
            assert r.json().get("detail"), f"{what} -> {r.status_code}: {r.text[:200]}"
        after = e.loop.run_until_complete(_counts(e.ctx))
        assert after == before, f"{what} -> {r.status_code} but wrote: " + \
            str({k: (before[k], after[k]) for k in after if after[k] != before[k]})


FUZZ = settings(max_examples=250, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


@FUZZ
@given(data=st.data())
def test_console_forms_never_fail_and_refusals_write_nothing(env, data) -> None:
    method, _path, url, form, files = data.draw(console_request(env.ids))
    before = env.loop.run_until_complete(_counts(env.ctx))
    r = env.loop.run_until_complete(env.console.request(
        method, url, data=form, files=files or None, headers={"X-CSRF-Token": env.csrf}))
    _check(env, f"{method} {url} {form!r:.200}", r, before)


@FUZZ
@given(data=st.data())
def test_api_bodies_never_fail_and_refusals_write_nothing(env, data) -> None:
    method, _path, url, body = data.draw(api_request(env.ids))
    before = env.loop.run_until_complete(_counts(env.ctx))
    r = env.loop.run_until_complete(env.api.request(method, url, content=body,
                                                    headers={"content-type": "application/json"}))
    _check(env, f"{method} {url} {body[:200]!r}", r, before)


def test_every_write_route_is_fuzzed() -> None:
    assert len(CONSOLE) >= 20 and len(API) >= 20
    assert {p for _, p, _ in WRITES} >= {"/console/conversations/{conv_id}/reply", "/api/v1/tickets"}
