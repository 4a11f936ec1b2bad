"""Written one-time notices on file (R1: "one copy to the customer, one kept on file").

Staff list the notices the bot issued (reference, date, resident, topic, what was still missing)
and open the very PDF the resident received. Opening one is audited: it is a resident's document.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from api.deps import AgentDep, CsrfDep, CtxDep, SessionDep
from api.files import file_response
from api.templating import N_, NAV, render
from core import audit, notices

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])

_NAV_ITEM = {"href": "/console/notices", "label": N_("Notices"), "role": "agent"}
if _NAV_ITEM not in NAV:  # listed next to the knowledge view, for every agent
    after = next((i + 1 for i, item in enumerate(NAV) if item["href"] == "/console/knowledge"), len(NAV))
    NAV.insert(after, _NAV_ITEM)


@router.get("/console/notices")
async def notices_page(request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                       q: Annotated[str, Query(max_length=64)] = ""):
    rows = await notices.recent_notices(session, search=q)
    titles = {t.slug: t.title for t in ctx.catalogue}
    return render(request, "console/notices.html", rows=rows, q=q, titles=titles)


@router.get("/console/notices/{reference}.pdf")
async def notice_pdf(reference: str, user: AgentDep, ctx: CtxDep, session: SessionDep) -> Response:
    row = await notices.get_notice(session, reference[:32])
    if row is None or not row.pdf:
        raise HTTPException(404, N_("no such notice on file"))
    audit.record(session, at=ctx.clock.now(), staff_id=user.id, action="notice.view", target_type="notice",
                 target_id=row.reference)
    await session.commit()
    # Our own PDF, but still a stored file: attachment, nosniff, CSP sandbox like every other (issue 12 F1).
    return file_response(row.pdf, filename=notices.notice_filename(row.reference, row.language))
