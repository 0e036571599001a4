"""The auditor's pages (the commissioner reads the audits too): audit samples, their lines and findings, and the
web app's own audit log with whether its hash chain holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from recoverypbr.web import assessments_data as ad
from recoverypbr.web import audit
from recoverypbr.web.access import Viewer, allow
from recoverypbr.web.context import WebContext
from recoverypbr.web.pages import render

router = APIRouter(include_in_schema=False)
#: Entries of the audit log shown.
LOG_ENTRIES = 200


@router.get("/audit")
def audits(request: Request, viewer: Viewer = allow("auditor", "commissioner", scope="all")) -> Response:
    ctx: WebContext = request.app.state.web
    found = ad.samples(ctx.wh, ctx.contract, viewer.scope)
    recorded = ad.findings(ctx.wh, ctx.contract, viewer.scope)
    if recorded:
        ctx.log(viewer.name, viewer.role, "view audit findings", "audit_findings", f"{len(recorded)} findings")
    return render(request, "audit.html", {"title": "Audit", "samples": found, "findings": recorded})


@router.get("/audit/samples/{sample_id}")
def audit_sample(
    request: Request,
    sample_id: str,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    viewer: Viewer = allow("auditor", "commissioner", scope="all"),
) -> Response:
    ctx: WebContext = request.app.state.web
    sample = next((s for s in ad.samples(ctx.wh, ctx.contract, viewer.scope) if s["sample_id"] == sample_id), None)
    if sample is None:
        raise HTTPException(404, f"There is no audit sample {sample_id} for this contract.")
    shown = ad.sample_lines(ctx.wh, ctx.contract, viewer.scope, sample_id, page)
    ctx.log(viewer.name, viewer.role, "view audit sample", f"sample:{sample_id}",
            f"page {shown.page} of {shown.pages}, {len(shown.rows)} lines")
    return render(request, "audit_sample.html", {"title": f"Audit sample {sample_id}", "sample": sample,
                                                 "shown": shown})


@router.get("/audit-log")
def audit_log(request: Request, viewer: Viewer = allow("auditor", scope="none")) -> Response:
    ctx: WebContext = request.app.state.web
    checked = audit.verify_chain(ctx.wh)
    entries = audit.recent(ctx.wh, LOG_ENTRIES)
    ctx.log(viewer.name, viewer.role, "view audit log", "audit_log", f"latest {len(entries)} entries")
    return render(request, "audit_log.html", {"title": "Audit log", "checked": checked, "entries": entries,
                                              "limit": LOG_ENTRIES})
