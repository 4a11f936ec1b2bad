"""Staff administration (issue 12 F5): list people and tokens with their last use, deactivate, reset a
password, revoke a token (admins only); and every person's own account page (password, console language).
All writes carry the CSRF token; the staff changes are audited in core.staff, and each revocation refuses that
person's or token's very next request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from api.deps import AdminDep, CsrfDep, CtxDep, CurrentStaff, SessionDep
from api.templating import N_, gettext_for, render
from core import staff as staff_service
from core.i18n import LOCALES

router = APIRouter(include_in_schema=False)
# core.staff raises StaffError before changing anything, so a refusal needs no rollback (which would also
# expire the acting user the page still renders).

DONE = {
    "deactivated": N_("Deactivated; their sessions have ended."),
    "revoked": N_("Token revoked; it is refused from now on."),
}


async def _page(request: Request, session, *, status_code: int = 200, **extra):
    return render(request, "console/admin_staff.html", status_code=status_code,
                  people=await staff_service.people(session), tokens=await staff_service.tokens(session), **extra)


@router.get("/console/admin/staff")
async def staff_page(request: Request, user: AdminDep, session: SessionDep, done: str = ""):
    return await _page(request, session, notice=gettext_for(request)(DONE[done]) if done in DONE else None)


@router.post("/console/admin/staff/{staff_id}/deactivate", dependencies=[CsrfDep])
async def deactivate(request: Request, staff_id: int, user: AdminDep, session: SessionDep, ctx: CtxDep):
    try:
        await staff_service.deactivate_staff(session, staff_id=staff_id, now=ctx.clock.now(), actor_id=user.id)
    except staff_service.StaffError as e:
        return await _page(request, session, status_code=422, error=str(e))
    return RedirectResponse("/console/admin/staff?done=deactivated", status_code=303)


@router.post("/console/admin/staff/{staff_id}/reset-password", dependencies=[CsrfDep])
async def reset_password(request: Request, staff_id: int, user: AdminDep, session: SessionDep, ctx: CtxDep):
    try:
        person, password = await staff_service.reset_password(session, staff_id=staff_id, now=ctx.clock.now(),
                                                              actor_id=user.id)
    except staff_service.StaffError as e:
        return await _page(request, session, status_code=422, error=str(e))
    # Shown once, in this response only (never in a URL or a log); the page is not cached.
    response = await _page(request, session, new_password=(person.username, password))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/console/admin/tokens/{token_id}/revoke", dependencies=[CsrfDep])
async def revoke_token(request: Request, token_id: int, user: AdminDep, session: SessionDep, ctx: CtxDep):
    try:
        await staff_service.revoke_token(session, token_id=token_id, now=ctx.clock.now(), actor_id=user.id)
    except staff_service.StaffError as e:
        return await _page(request, session, status_code=422, error=str(e))
    return RedirectResponse("/console/admin/staff?done=revoked", status_code=303)


@router.get("/console/password")
async def password_page(request: Request, user: CurrentStaff, saved: str = ""):
    return render(request, "console/password.html", error=None, changed=False, language_saved=saved == "language")


@router.post("/console/password", dependencies=[CsrfDep])
async def change_password(
    request: Request, user: CurrentStaff, session: SessionDep, ctx: CtxDep,
    current: Annotated[str, Form(max_length=256)] = "",
    new: Annotated[str, Form(max_length=256)] = "",
    confirm: Annotated[str, Form(max_length=256)] = "",
):
    _ = gettext_for(request)
    if new != confirm:
        return render(request, "console/password.html", status_code=422, changed=False,
                      error=_("The two new passwords differ."))
    try:
        await staff_service.change_own_password(session, user=user, current=current, new=new, now=ctx.clock.now())
    except staff_service.StaffError as e:
        return render(request, "console/password.html", status_code=422, changed=False, error=str(e))
    # F5: every other session of this person has ended; this one continues under the new generation.
    request.state.session = request.app.state.sessions.new(user.id, user.session_gen)
    return render(request, "console/password.html", changed=True, error=None)


@router.post("/console/language", dependencies=[CsrfDep])
async def set_language(user: CurrentStaff, session: SessionDep, language: Annotated[str, Form(max_length=16)] = ""):
    """The console's language for this person, kept with their account (every device, every later session)."""
    if language not in LOCALES:
        raise HTTPException(422, N_("unknown language"))
    if language != user.language:
        user.language = language
        await session.commit()
    return RedirectResponse("/console/password?saved=language#language", status_code=303)
