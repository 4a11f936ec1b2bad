"""Staff login and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from api.deps import CsrfDep, CtxDep, SessionDep
from api.templating import render
from core import staff as staff_service

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
    throttle = request.app.state.login_throttle
    client = request.client.host if request.client else "?"
    if not throttle.allow(client):
        return render(request, "login.html", status_code=429, next=_safe_next(next),
                      error="Too many attempts. Please wait a few minutes. / 尝试次数过多，请稍后再试。")
    s = ctx.settings
    result = await staff_service.authenticate(
        session, username=username.strip(), password=password, now=ctx.clock.now(),
        max_failures=s.login_max_failures, lock_seconds=s.login_lock_seconds,
    )
    if result.user is None:
        msg = ("This account is locked for a while after repeated failures. / 账号因多次失败被暂时锁定。"
               if result.locked else "Wrong username or password. / 用户名或密码错误。")
        return render(request, "login.html", status_code=401, next=_safe_next(next), error=msg)
    throttle.reset(client)
    request.state.session = request.app.state.sessions.new(result.user.id)  # new nonce: no session fixation
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfDep])
async def logout(request: Request):
    request.state.drop_session = True
    return RedirectResponse("/login", status_code=303)
