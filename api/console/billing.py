"""Console: upload a billing CSV (operator role). Validate-only first if you like; a bad row changes nothing."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request, UploadFile

from api.deps import CsrfDep, CtxDep, OperatorDep, SessionDep
from api.templating import gettext_for, render
from core import billing

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@router.get("/console/billing")
async def billing_page(request: Request, user: OperatorDep, session: SessionDep):
    return render(request, "console/billing.html", report=None, imports=await billing.recent_imports(session),
                  columns=billing.COLUMNS)


@router.post("/console/billing")
async def billing_upload(request: Request, user: OperatorDep, session: SessionDep, ctx: CtxDep,
                         file: UploadFile, dry_run: bool = Form(False)):
    _ = gettext_for(request)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    filename = (file.filename or "upload.csv")[:120]
    if len(data) > MAX_UPLOAD_BYTES:
        report = billing.ImportReport()
        report.add_error(0, _("the file is larger than 50 MB; split it into several files"))
    elif not data.strip():
        report = billing.ImportReport()
        report.add_error(1, _("the file is empty"))
    else:
        report = await billing.import_csv(session, data, now=ctx.clock.now(), dry_run=dry_run, staff_id=user.id,
                                          actor=user.username)
    return render(request, "console/billing.html", status_code=200 if report.ok else 422, report=report,
                  filename=filename, dry_run=dry_run, imports=await billing.recent_imports(session),
                  columns=billing.COLUMNS)
