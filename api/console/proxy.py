"""R16 in the console: the assisted-service desk sees each proxy application from the bot (either mode) with
the relation and, at once, which of the four documents are still missing, so staff can help complete them."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import AgentDep, SessionDep
from api.templating import render
from core import proxy

router = APIRouter(include_in_schema=False)


@router.get("/console/proxy")
async def proxy_page(request: Request, user: AgentDep, session: SessionDep):
    rows = [{"app": app, "resident": res, "relation": proxy.RELATION_LABELS.get(app.relation, app.relation),  # type: ignore[call-overload]  # StrEnum keys match str
             "documents": [(proxy.document_label(doc, app.relation), doc.value in app.documents)
                           for doc in proxy.DOCUMENTS],
             "missing": len(proxy.missing(app.documents))}
            for app, res in await proxy.recent(session)]
    return render(request, "console/proxy.html", rows=rows)
