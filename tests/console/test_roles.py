"""Every console and API route, called by every role (and by nobody): roles are enforced on the server.

The walk is built from the app's own route table, so a route added later is walked too; a route without a
role check must be on the short PUBLIC list below or the test fails.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIRoute

from core import staff
from core.context import AppContext
from core.enums import ROLE_RANK, StaffRole
from tests.console.conftest import token_of
from tests.console.test_security import ROUTES, required_role

# Routes anyone may call, each for a reason: logging in/out, the health probe, Telegram fetching an agent's
# upload (the HMAC in the URL is the permission), and the offline Telegram emulator (only mounted in sandbox
# mode, never with a real bot token). /api/v1/me and /console/live check the login themselves.
PUBLIC = {"/login", "/logout", "/healthz", "/media/chat/{message_id}/{signature}"}
SELF_CHECKED = {"/api/v1/me", "/console/live"}
# Path values that reach the role check (nonexistent ids: an allowed role gets 404/422, never 401/403).
VALUES = {"decision": "approve", "answer": "accept", "action": "confirm", "slug": "gas.transfer"}


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: VALUES.get(m.group(1), "999999"), path)


def _guarded() -> list[tuple[str, str, StaffRole | None]]:
    out = []
    for path, route in ROUTES:
        if path.startswith("/sandbox") or path in PUBLIC:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, path, required_role(route)))
    return sorted(out, key=lambda x: (x[1], x[0]))


GUARDED = _guarded()


def _url(path: str) -> str:
    url = _fill(path)
    if path == "/console/live":
        url += "?conversation=999999"  # a logged-in caller gets 404 at once instead of an endless stream
    return url


def test_every_route_is_guarded_or_deliberately_public() -> None:
    unguarded = {path for _, path, role in GUARDED if role is None} - SELF_CHECKED
    assert not unguarded, f"routes without a role check: {sorted(unguarded)}"
    assert len(GUARDED) > 60
    assert all(isinstance(r, APIRoute) for _, r in ROUTES)


async def test_nobody_logged_in_reaches_nothing(client: httpx.AsyncClient) -> None:
    failures = []
    for method, path, _ in GUARDED:
        r = await client.request(method, _url(path), follow_redirects=False)
        ok = (r.status_code in (401, 403)
              or (r.status_code == 303 and r.headers["location"].startswith("/login")))
        if not ok:
            failures.append(f"{method} {path}: {r.status_code}")
    assert not failures, failures


@pytest.mark.parametrize("role", list(StaffRole))
async def test_each_role_reaches_exactly_its_routes(role: StaffRole, make_client, staff_users) -> None:
    c = await make_client(role.value)
    token = await token_of(c, "/")
    failures, allowed, refused = [], 0, 0
    for method, path, needed in GUARDED:
        r = await c.request(method, _url(path), headers={"X-CSRF-Token": token}, follow_redirects=False)
        if needed is not None and ROLE_RANK[role] < ROLE_RANK[needed]:
            refused += 1
            if r.status_code != 403:
                failures.append(f"{method} {path} needs {needed.value}: {role.value} got {r.status_code}")
        else:
            allowed += 1
            if r.status_code in (401, 403) or r.status_code >= 500:
                failures.append(f"{method} {path}: {role.value} got {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)
    assert allowed > 0
    assert (refused > 0) == (role is not StaffRole.admin)


@pytest.mark.parametrize("role", list(StaffRole))
async def test_api_tokens_carry_their_role(role: StaffRole, ctx: AppContext, client: httpx.AsyncClient) -> None:
    async with ctx.sessionmaker() as s:
        bearer = await staff.create_api_token(s, name=f"it-{role.value}", role=role, now=ctx.clock.now())
        await s.commit()
    failures = []
    api = [(m, p, n) for m, p, n in GUARDED if p.startswith("/api/")]
    assert api
    for method, path, needed in api:
        r = await client.request(method, _url(path), headers={"Authorization": f"Bearer {bearer}"})
        below = needed is not None and ROLE_RANK[role] < ROLE_RANK[needed]
        if below and r.status_code != 403:
            failures.append(f"{method} {path} needs {needed.value}: token {role.value} got {r.status_code}")
        if not below and (r.status_code in (401, 403) or r.status_code >= 500):
            failures.append(f"{method} {path}: token {role.value} got {r.status_code} {r.text[:120]}")
    r = await client.get("/api/v1/tickets", headers={"Authorization": "Bearer ost_not-a-token"})
    assert r.status_code == 401
    assert not failures, "\n".join(failures)
