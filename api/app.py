"""The FastAPI application factory: console pages, JSON API, and the Telegram sandbox."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from api import errors
from api.console import admin as console_admin
from api.console import (
    appointments,
    audit,
    auth,
    conversations,
    home,
    knowledge,
    live,
    queue,
    reports,
    tickets,
)
from api.console import (
    approvals as console_approvals,
)
from api.console import (
    billing as console_billing,
)
from api.console import (
    corrections as console_corrections,
)
from api.console import (
    inbox as console_inbox,
)
from api.console import (
    notices as console_notices,
)
from api.console import (
    outages as console_outages,
)
from api.console import (
    proxy as console_proxy,
)
from api.console import (
    reconnection as console_reconnection,
)
from api.console import (
    repairs as console_repairs,
)
from api.deps import LoginRequired, is_htmx
from api.headers import SecurityHeadersMiddleware
from api.limits import BodyLimitMiddleware
from api.sandbox import SandboxState
from api.sandbox import router as sandbox_router
from api.security import COOKIE, SessionCodec
from api.v1 import appointments as v1_appointments
from api.v1 import billing as v1_billing
from api.v1 import outages as v1_outages
from api.v1 import router as api_v1
from api.v1 import tickets as v1_tickets
from api.webhook import webhook_router
from core.context import AppContext
from core.settings import Settings
from core.throttle import Limits, LoginThrottle

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(ctx: AppContext | None = None, *, settings: Settings | None = None) -> FastAPI:
    if ctx is None:
        ctx = AppContext.create(settings or Settings())
    settings = ctx.settings
    app = FastAPI(
        title="Onestop",
        description="Back office and integration API of the Onestop utility self-service portal.",
        version="0.1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.ctx = ctx
    if settings.secret_key is None:  # resolved by AppContext.create (issue 12 F4)
        raise RuntimeError("the secret key is not installed (build the AppContext with AppContext.create)")
    secret = settings.secret_key.get_secret_value()
    app.state.sessions = SessionCodec(secret, max_age=settings.session_max_age,
                                      idle_timeout=settings.session_idle_timeout)
    app.state.login_throttle = LoginThrottle(settings.redis_url, Limits(
        settings.login_max_failures, settings.login_address_max_failures, settings.login_lock_seconds))
    # F3: behind a TLS-terminating proxy request.url.scheme says http unless proxy headers are trusted, so the
    # public URL decides; an https request also gets it.
    secure_cookie = (settings.public_url or "").lower().startswith("https://")
    now_year = ctx.clock.now().year
    app.state.calendar_warnings = ctx.calendar.warnings([now_year, now_year + 1])

    @app.middleware("http")
    async def session_cookie(request: Request, call_next):
        codec: SessionCodec = app.state.sessions
        sess = codec.loads(request.cookies.get(COOKIE))
        fresh = sess is None
        request.state.session = sess or codec.new()
        request.state.staff = None
        response = await call_next(request)
        sess = request.state.session
        if getattr(request.state, "drop_session", False):
            response.delete_cookie(COOKIE, path="/")
        elif fresh or sess.staff_id is not None:
            if sess.staff_id is not None:
                sess.seen = time.time()  # sliding idle timeout
            response.set_cookie(COOKIE, codec.dumps(sess), httponly=True, samesite="lax",
                                secure=secure_cookie or request.url.scheme == "https", path="/",
                                max_age=settings.session_max_age)
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired):
        if is_htmx(request):
            return JSONResponse({"detail": "login required"}, status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        async with ctx.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
        return {"status": "ok"}

    # Issue 12: body limits before any other work (F8), security headers on every answer (F3); the last added
    # is the outermost, so even a 413 carries the headers.
    app.add_middleware(BodyLimitMiddleware, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes)
    app.add_middleware(SecurityHeadersMiddleware, public_url=settings.public_url)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _include_routers(app)
    errors.install(app)  # a person's browser gets refusals as a console page in their language
    # Set on SIGTERM (begin_drain): the webhook answers 503 (Telegram retries elsewhere) and long-lived answers
    # (the console's live stream) end cleanly.
    app.state.stopping = asyncio.Event()
    if settings.webhook:
        app.include_router(webhook_router(ctx))  # issue 13: Telegram webhook mode
    if settings.serve_sandbox():  # issue 12 F7: otherwise every /sandbox path is a 404
        app.state.sandbox = SandboxState(token=settings.bot_token)
        app.include_router(sandbox_router)
    return app


def begin_drain(app: FastAPI) -> None:
    """SIGTERM: refuse new webhook updates and release every long-lived request (the console's live stream,
    the sandbox's long polls), so the server stops within its graceful timeout instead of cancelling them
    mid-flight (a traceback in the log, and a browser that sees a broken stream rather than a closed one)."""
    app.state.stopping.set()
    sandbox: SandboxState | None = getattr(app.state, "sandbox", None)
    if sandbox is not None:
        sandbox.close()


def _include_routers(app: FastAPI) -> None:
    for router in (
        auth.router, home.router, api_v1.router, v1_billing.router, console_billing.router, v1_tickets.router,
        v1_appointments.router, console_outages.router, live.router, queue.router, conversations.router,
        conversations.media_router, tickets.router, appointments.router, reports.router, knowledge.router,
        audit.router, console_notices.router, console_admin.router, console_inbox.router,
        console_corrections.router, console_repairs.router, v1_outages.router, console_approvals.router,
        console_reconnection.router, console_proxy.router,
    ):
        app.include_router(router)
