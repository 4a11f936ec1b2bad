"""FastAPI dependencies: context, DB session, current staff, role checks, CSRF."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from api.templating import N_
from core import staff as staff_service
from core.context import AppContext
from db.enums import StaffRole
from db.models import StaffUser


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


async def get_session(ctx: CtxDep) -> AsyncIterator[AsyncSession]:
    async with ctx.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class LoginRequired(Exception):
    """Raised for console pages; the app turns it into a redirect to /login."""


def is_console(request: Request) -> bool:
    """Anything but the JSON API: refusals may be pages, a missing login a redirect."""
    return not request.url.path.startswith("/api/")


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


TOKEN_ELSEWHERE = N_("API tokens are accepted only under /api/v1; the console needs a login")


def is_token_api(request: Request) -> bool:
    """Bearer tokens are for the integration API only (issue 12 F2)."""
    path = request.url.path
    return path == "/api/v1" or path.startswith("/api/v1/")


async def current_staff(request: Request, session: SessionDep, ctx: CtxDep) -> StaffUser:
    """The logged-in staff member (console cookie) or the service identity of a bearer token (/api/v1 only)."""
    bearer = _bearer(request)
    if bearer is not None:
        if not is_token_api(request):
            # A console page or form never accepts a token, not even next to a valid cookie.
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, TOKEN_ELSEWHERE)
        user = await staff_service.token_identity(session, bearer, now=ctx.clock.now())
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, N_("invalid token"), {"WWW-Authenticate": "Bearer"})
        request.state.staff = user
        return user
    sess = getattr(request.state, "session", None)
    if sess is None or sess.staff_id is None:
        if is_console(request):
            raise LoginRequired()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, N_("login required"), {"WWW-Authenticate": "Bearer"})
    user = await session.get(StaffUser, sess.staff_id)
    # F5: a deactivated person, a reset or changed password (session_gen bumped) ends older sessions at once.
    if user is None or not user.active or user.kind != staff_service.PERSON or user.session_gen != sess.gen:
        request.state.drop_session = True
        if is_console(request):
            raise LoginRequired()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, N_("login required"))
    request.state.staff = user
    return user


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]


def require_role(role: StaffRole):
    async def check(user: CurrentStaff) -> StaffUser:
        if not staff_service.has_role(user.role, role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, N_("your role does not allow this"))
        return user

    return check


AgentDep = Annotated[StaffUser, Depends(require_role(StaffRole.agent))]
OperatorDep = Annotated[StaffUser, Depends(require_role(StaffRole.operator))]
SupervisorDep = Annotated[StaffUser, Depends(require_role(StaffRole.supervisor))]
AdminDep = Annotated[StaffUser, Depends(require_role(StaffRole.admin))]


async def csrf_protect(request: Request) -> None:
    """Every state-changing console request carries the session's CSRF token (form field or header)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if _bearer(request) is not None:
        if is_token_api(request):
            return  # bearer-token API calls are not sent by browsers automatically
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, TOKEN_ELSEWHERE)  # F2: console forms need a login
    sess = getattr(request.state, "session", None)
    token = request.headers.get("x-csrf-token")
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        token = value if isinstance(value, str) else None
    if sess is None or not request.app.state.sessions.check_csrf(sess, token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, N_("CSRF token missing or invalid; reload the page"))


CsrfDep = Depends(csrf_protect)
