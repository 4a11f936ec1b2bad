"""The authorisation matrix (issue 12): every route of the app × every kind of caller, with the expected status.

The walk is generated from the app's own route table: a route without an entry in ACCESS below fails
``test_every_route_has_an_entry``, and a stale entry fails it too. To add a route, add one line to ACCESS.

Callers: nobody (anonymous), a resident-facing sandbox visitor (has used /sandbox, holds no staff session), a
console session of each staff role, and an API token of each role (its own service identity, issue 12 F2).

Expected status by entry and caller:

* a role (AGENT … ADMIN): a session or token of that role or above is served (never 401/403/5xx); below it
  gets 403; nobody and the sandbox visitor get 401 under /api and a redirect to /login on the console;
  a token anywhere outside /api/v1 gets 401 (tokens are for the integration API only).
* LOGIN: any logged-in person (the route checks the login itself); tokens as above.
* PUBLIC: needs no login (the route checks what it needs itself, e.g. the HMAC in a media URL).
* SANDBOX: the offline Telegram emulator (its gating is tested in tests/api/security/test_sandbox_gate.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from core import staff
from core.context import AppContext
from db.enums import ROLE_RANK, StaffRole
from tests.api.console.test_security import ROUTES, required_role
from tests.support.console import csrf_from, login, token_of

AGENT, OPERATOR, SUPERVISOR, ADMIN = StaffRole.agent, StaffRole.operator, StaffRole.supervisor, StaffRole.admin
LOGIN, PUBLIC, SANDBOX = "login", "public", "sandbox"

ACCESS: dict[tuple[str, str], StaffRole | str] = {
    ("GET", "/"): AGENT,
    ("GET", "/api/v1/appointments"): AGENT,
    ("POST", "/api/v1/appointments"): AGENT,
    ("GET", "/api/v1/appointments/availability"): AGENT,
    ("DELETE", "/api/v1/appointments/capacity"): SUPERVISOR,
    ("GET", "/api/v1/appointments/capacity"): AGENT,
    ("PUT", "/api/v1/appointments/capacity"): SUPERVISOR,
    ("GET", "/api/v1/appointments/{number}"): AGENT,
    ("POST", "/api/v1/appointments/{number}/assign"): AGENT,
    ("POST", "/api/v1/appointments/{number}/cancel"): AGENT,
    ("POST", "/api/v1/appointments/{number}/complete"): AGENT,
    ("POST", "/api/v1/appointments/{number}/confirm"): AGENT,
    ("POST", "/api/v1/appointments/{number}/no-show"): AGENT,
    ("POST", "/api/v1/appointments/{number}/propose"): AGENT,
    ("POST", "/api/v1/appointments/{number}/refuse"): SUPERVISOR,
    ("POST", "/api/v1/billing/accounts"): OPERATOR,
    ("GET", "/api/v1/billing/accounts/{number}/balance"): OPERATOR,
    ("POST", "/api/v1/billing/adjustments"): OPERATOR,
    ("POST", "/api/v1/billing/charges"): OPERATOR,
    ("POST", "/api/v1/billing/payments"): OPERATOR,
    ("POST", "/api/v1/billing/readings"): OPERATOR,
    ("GET", "/api/v1/escalations"): SUPERVISOR,
    ("GET", "/api/v1/me"): LOGIN,
    ("GET", "/api/v1/satisfaction"): SUPERVISOR,
    ("GET", "/api/v1/tickets"): AGENT,
    ("POST", "/api/v1/tickets"): AGENT,
    ("GET", "/api/v1/tickets/{number}"): AGENT,
    ("POST", "/api/v1/tickets/{number}/assign"): AGENT,
    ("POST", "/api/v1/tickets/{number}/classification"): AGENT,
    ("POST", "/api/v1/tickets/{number}/deadline"): AGENT,
    ("POST", "/api/v1/tickets/{number}/notes"): AGENT,
    ("POST", "/api/v1/tickets/{number}/reply"): AGENT,
    ("POST", "/api/v1/tickets/{number}/transitions"): AGENT,
    ("GET", "/console/admin/staff"): ADMIN,
    ("POST", "/console/admin/staff/{staff_id}/deactivate"): ADMIN,
    ("POST", "/console/admin/staff/{staff_id}/reset-password"): ADMIN,
    ("POST", "/console/admin/tokens/{token_id}/revoke"): ADMIN,
    ("GET", "/console/appointments"): AGENT,
    ("POST", "/console/appointments/{number}/{action}"): AGENT,
    ("GET", "/console/audit"): ADMIN,
    ("GET", "/console/billing"): OPERATOR,
    ("POST", "/console/billing"): OPERATOR,
    ("GET", "/console/broadcasts/{broadcast_id}/progress"): OPERATOR,
    ("POST", "/console/broadcasts/{broadcast_id}/{action}"): OPERATOR,
    ("GET", "/console/canned/checklist"): AGENT,
    ("GET", "/console/conversations"): AGENT,
    ("GET", "/console/conversations/{conv_id}"): AGENT,
    ("POST", "/console/conversations/{conv_id}/claim"): AGENT,
    ("POST", "/console/conversations/{conv_id}/close"): AGENT,
    ("POST", "/console/conversations/{conv_id}/file"): AGENT,
    ("GET", "/console/conversations/{conv_id}/files/{message_id}"): AGENT,
    ("GET", "/console/conversations/{conv_id}/messages"): AGENT,
    ("POST", "/console/conversations/{conv_id}/note"): AGENT,
    ("POST", "/console/conversations/{conv_id}/reply"): AGENT,
    ("POST", "/console/conversations/{conv_id}/transfer"): AGENT,
    ("POST", "/console/conversations/{conv_id}/transfer/{answer}"): AGENT,
    ("POST", "/console/guard/check"): AGENT,
    ("GET", "/console/knowledge"): AGENT,
    ("POST", "/console/knowledge/suggest"): AGENT,
    ("POST", "/console/knowledge/suggestions/{suggestion_id}/{decision}"): SUPERVISOR,
    ("GET", "/console/knowledge/{slug}"): AGENT,
    ("POST", "/console/language"): LOGIN,  # the person's own console language
    ("GET", "/console/live"): LOGIN,  # checks the login itself (an event stream)
    ("GET", "/console/notices"): AGENT,
    ("GET", "/console/notices/{reference}.pdf"): AGENT,
    ("GET", "/console/outages"): OPERATOR,
    ("POST", "/console/outages"): OPERATOR,
    ("GET", "/console/outages/{outage_id}"): OPERATOR,
    ("POST", "/console/outages/{outage_id}/announce"): OPERATOR,
    ("POST", "/console/outages/{outage_id}/cancel"): OPERATOR,
    ("POST", "/console/outages/{outage_id}/edit"): OPERATOR,
    ("POST", "/console/outages/{outage_id}/restore"): OPERATOR,
    ("POST", "/console/outages/{outage_id}/update"): OPERATOR,
    ("GET", "/console/password"): LOGIN,
    ("POST", "/console/password"): LOGIN,
    ("GET", "/console/queue"): AGENT,
    ("GET", "/console/queue/fragment"): AGENT,
    ("GET", "/console/reports"): SUPERVISOR,
    ("GET", "/console/reports/export.csv"): SUPERVISOR,
    ("GET", "/console/tickets"): AGENT,
    ("GET", "/console/tickets/{number}"): AGENT,
    ("POST", "/console/tickets/{number}/assign"): AGENT,
    ("POST", "/console/tickets/{number}/classify"): AGENT,
    ("POST", "/console/tickets/{number}/deadline"): AGENT,
    ("POST", "/console/tickets/{number}/duplicate"): AGENT,
    ("POST", "/console/tickets/{number}/note"): AGENT,
    ("POST", "/console/tickets/{number}/reply"): AGENT,
    ("POST", "/console/tickets/{number}/status"): AGENT,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/media/chat/{message_id}/{signature}"): PUBLIC,
    ("GET", "/sandbox"): SANDBOX,
    ("GET", "/sandbox/"): SANDBOX,
    ("GET", "/sandbox/api/bot"): SANDBOX,
    ("GET", "/sandbox/api/calls"): SANDBOX,
    ("POST", "/sandbox/api/inject_errors"): SANDBOX,
    ("GET", "/sandbox/api/personas"): SANDBOX,
    ("POST", "/sandbox/api/personas"): SANDBOX,
    ("POST", "/sandbox/api/personas/{user_id}/block"): SANDBOX,
    ("POST", "/sandbox/api/personas/{user_id}/callback"): SANDBOX,
    ("GET", "/sandbox/api/personas/{user_id}/chat"): SANDBOX,
    ("POST", "/sandbox/api/personas/{user_id}/pay"): SANDBOX,
    ("POST", "/sandbox/api/personas/{user_id}/send"): SANDBOX,
    ("POST", "/sandbox/api/reset"): SANDBOX,
    ("GET", "/sandbox/api/updates"): SANDBOX,
    ("GET", "/sandbox/bot{token}/{method}"): SANDBOX,
    ("POST", "/sandbox/bot{token}/{method}"): SANDBOX,
    ("GET", "/sandbox/file/bot{token}/{file_path:path}"): SANDBOX,
    ("GET", "/sandbox/files/{file_id}"): SANDBOX,
    # Issue 13: the durable inbox's parked updates.
    ("GET", "/console/inbox"): AGENT,
    ("POST", "/console/inbox/{update_id}/retry"): OPERATOR,
    # Issue 14: staff map a resident's wording to a topic.
    ("POST", "/console/knowledge/map"): AGENT,
    # Issue 15: R12 corrections (approval steps also need the approval role), R7 repairs, dispatch API,
    # R2 approvals, R11 reconnection queue.
    ("GET", "/console/corrections"): AGENT,
    ("GET", "/console/corrections/{correction_id}"): AGENT,
    ("POST", "/console/corrections/{correction_id}/reread"): OPERATOR,
    ("POST", "/console/corrections/{correction_id}/approve"): AGENT,
    ("POST", "/console/tickets/{number}/arrival"): AGENT,
    ("POST", "/console/tickets/{number}/outcome"): AGENT,
    ("POST", "/console/tickets/{number}/progress"): AGENT,
    ("GET", "/api/v1/outages"): OPERATOR,
    ("POST", "/api/v1/outages"): OPERATOR,
    ("GET", "/api/v1/outages/{ref}"): OPERATOR,
    ("PATCH", "/api/v1/outages/{ref}"): OPERATOR,
    ("POST", "/api/v1/outages/{ref}/announce"): OPERATOR,
    ("POST", "/api/v1/outages/{ref}/extend"): OPERATOR,
    ("POST", "/api/v1/outages/{ref}/restore"): OPERATOR,
    ("GET", "/console/approvals"): SUPERVISOR,
    ("POST", "/console/approvals/{request_id}/{decision}"): SUPERVISOR,
    ("POST", "/console/tickets/{number}/cancel-request"): AGENT,
    ("GET", "/console/reconnection"): OPERATOR,
    ("POST", "/console/reconnection/{request_id}/serve"): OPERATOR,
    ("POST", "/console/reconnection/seal"): OPERATOR,
    ("GET", "/console/proxy"): AGENT,  # R16 assisted-service desk (rulescheck)
}

# Path values that reach the role check (nonexistent ids: an allowed caller gets 404/422, never 401/403).
VALUES = {"decision": "approve", "answer": "accept", "action": "confirm", "slug": "gas.transfer",
          "file_path": "x/y.jpg"}
CALLERS = ["nobody", "sandbox", *(f"session:{r.value}" for r in StaffRole), *(f"token:{r.value}" for r in StaffRole)]


def _url(path: str) -> str:
    url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: VALUES.get(m.group(1), "999999"), path)
    if path == "/console/live":
        url += "?conversation=999999"  # a logged-in caller gets 404 at once instead of an endless stream
    return url


def _methods() -> set[tuple[str, str]]:
    return {(m, path) for path, r in ROUTES for m in r.methods - {"HEAD"}}


def test_every_route_has_an_entry() -> None:
    routes = _methods()
    missing = sorted(routes - ACCESS.keys())
    stale = sorted(ACCESS.keys() - routes)
    assert not missing, "routes without an entry in ACCESS (tests/api/console/test_roles.py): " + repr(missing)
    assert not stale, f"entries for routes that no longer exist: {stale}"


def test_the_table_matches_the_role_checks_in_code() -> None:
    """A role entry names exactly the role the route's dependencies demand (api.deps.require_role)."""
    wrong = []
    for path, route in ROUTES:
        needed = required_role(route)
        for m in route.methods - {"HEAD"}:
            entry = ACCESS.get((m, path))
            if isinstance(entry, StaffRole) and entry is not needed:
                wrong.append(f"{m} {path}: table {entry.value}, code {needed and needed.value}")
            if entry in (LOGIN, PUBLIC) and needed is not None:
                wrong.append(f"{m} {path}: table {entry}, code requires {needed.value}")
    assert not wrong, "\n".join(wrong)


def expected(entry: StaffRole | str, caller: str, path: str) -> str:
    """'ok' (served: not 401/403, below 500), '401', '403', 'login' (303 to /login) or 'anon' (401 or login)."""
    api = path.startswith("/api/")
    kind, _, role = caller.partition(":")
    if kind == "token" and not path.startswith("/api/v1"):
        return "401"
    if kind in ("nobody", "sandbox"):
        if api:
            return "401"
        return "anon" if entry == LOGIN else "login"  # self-checked routes may answer 401 instead
    if entry == LOGIN:
        return "ok"
    return "ok" if ROLE_RANK[StaffRole(role)] >= ROLE_RANK[entry] else "403"


def _matches(want: str, r: httpx.Response) -> bool:
    if want == "ok":
        return r.status_code not in (401, 403) and r.status_code < 500 and not (
            r.status_code == 303 and r.headers.get("location", "").startswith("/login"))
    to_login = r.status_code == 303 and r.headers.get("location", "").startswith("/login")
    if want == "login":
        return to_login
    if want == "anon":
        return to_login or r.status_code == 401
    return r.status_code == int(want)


@pytest.fixture
async def caller_client(api_app, ctx: AppContext, staff_users) -> AsyncIterator:
    clients: list[httpx.AsyncClient] = []

    async def make(caller: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url="http://testserver")
        clients.append(c)
        kind, _, role = caller.partition(":")
        if kind in ("nobody", "sandbox"):
            if kind == "sandbox":
                await c.get("/sandbox")
            # Even with a valid CSRF token for its anonymous session, nobody gets past the login check.
            return c, {"X-CSRF-Token": csrf_from((await c.get("/login")).text)}
        if kind == "session":
            assert (await login(c, role)).status_code == 303
            return c, {"X-CSRF-Token": await token_of(c, "/console/password")}
        if kind == "token":
            async with ctx.sessionmaker() as s:
                bearer = await staff.create_api_token(s, name=f"matrix-{role}", role=StaffRole(role),
                                                      now=ctx.clock.now())
                await s.commit()
            return c, {"Authorization": f"Bearer {bearer}"}
        raise AssertionError(caller)

    yield make
    for c in clients:
        await c.aclose()


@pytest.mark.parametrize("caller", CALLERS)
async def test_matrix(caller: str, caller_client) -> None:
    c, headers = await caller_client(caller)
    failures, served = [], 0
    for (method, path), entry in sorted(ACCESS.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if entry in (PUBLIC, SANDBOX):
            continue
        want = expected(entry, caller, path)
        r = await c.request(method, _url(path), headers=headers, follow_redirects=False)
        served += want == "ok"
        if not _matches(want, r):
            failures.append(f"{method} {path}: {caller} expected {want}, got {r.status_code} {r.text[:100]!r}")
    assert not failures, "\n".join(failures)
    assert (served > 0) == (caller not in ("nobody", "sandbox"))


async def test_public_routes_need_no_login(staff_client: httpx.AsyncClient) -> None:
    for (method, path), entry in ACCESS.items():
        if entry is PUBLIC and method == "GET":
            r = await staff_client.get(_url(path), follow_redirects=False)
            assert r.status_code < 500 and r.status_code != 401, (path, r.status_code)
            assert not r.headers.get("location", "").startswith("/login"), path


async def test_a_forged_token_is_refused(staff_client: httpx.AsyncClient) -> None:
    r = await staff_client.get("/api/v1/tickets", headers={"Authorization": "Bearer ost_not-a-token"})
    assert r.status_code == 401
