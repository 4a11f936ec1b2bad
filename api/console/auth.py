"""Staff login and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from api.deps import CsrfDep, CtxDep, SessionDep
from api.templating import gettext_for, render
from core import staff as staff_service
from core.throttle import LoginThrottle

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through our login.
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/login")
async def login_page(request: Request, next: str | None = None):
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", dependencies=[CsrfDep])
async def login(
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form()] = "/",
):
    _ = gettext_for(request)  # nobody is logged in yet: the browser's language
    throttle: LoginThrottle = request.app.state.login_throttle
    client = request.client.host if request.client else "?"
    name = username.strip()
    # F6: the throttle is asked before any database work. A refusal still costs one password hash, so the
    # answer's timing says nothing about the lock or the account; the lock is per (username, address) and per
    # address, so nobody can lock a colleague out from elsewhere.
    if await throttle.blocked(name, client):
        staff_service.burn_hash_time(password)
        return render(request, "login.html", status_code=429, next=_safe_next(next),
                      error=_("Too many failed attempts from here. Please wait a few minutes."))
    result = await staff_service.authenticate(session, username=name, password=password, now=ctx.clock.now())
    if result.user is None:
        await throttle.failed(name, client)
        return render(request, "login.html", status_code=401, next=_safe_next(next),
                      error=_("Wrong username or password."))
    await throttle.succeeded(name, client)
    # A new nonce (no session fixation) bound to the person's current session generation (F5).
    request.state.session = request.app.state.sessions.new(result.user.id, result.user.session_gen)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfDep])
async def logout(request: Request):
    request.state.drop_session = True
    return RedirectResponse("/login", status_code=303)
