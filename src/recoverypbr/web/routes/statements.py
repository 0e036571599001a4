"""Statements: the index by period and provider, one statement's lines (filter, sort, page), downloads in every
format, approval with the fingerprint shown and confirmed, and adjustments with what they correct."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from recoverypbr.errors import RecoveryPbrError
from recoverypbr.web import statements_data as sd
from recoverypbr.web.access import Viewer, allow
from recoverypbr.web.approval import approve_from_web
from recoverypbr.web.context import WebContext
from recoverypbr.web.pages import check_csrf, render
from recoverypbr.web.users import Role

router = APIRouter(include_in_schema=False)
READERS: tuple[Role, ...] = ("commissioner", "finance", "provider", "auditor")


@router.get("/statements")
def statement_index(request: Request, viewer: Viewer = allow(*READERS, scope="own")) -> Response:
    ctx: WebContext = request.app.state.web
    entries = sd.index(ctx.wh, ctx.contract, viewer.scope)
    periods: dict[str, list[sd.Entry]] = {}
    for entry in entries:
        periods.setdefault(entry.period, []).append(entry)
    return render(request, "statements.html", {"title": "Statements", "periods": periods})


@router.get("/statements/{period}/{provider_id}")
def statement_page(
    request: Request,
    period: str,
    provider_id: str,
    kind: Annotated[str, Query(max_length=40)] = "",
    outcome: Annotated[str, Query(max_length=100)] = "",
    client: Annotated[str, Query(max_length=100)] = "",
    sort: Annotated[str, Query(max_length=40)] = "line_no",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    viewer: Viewer = allow(*READERS, scope="own"),
) -> Response:
    ctx: WebContext = request.app.state.web
    doc = sd.document(ctx.wh, ctx.contract, viewer.scope, period, provider_id)
    shown = sd.line_page(doc, kind=kind, outcome=outcome, client=client, sort=sort, descending=order == "desc",
                         page=page)
    ctx.log(viewer.name, viewer.role, "view statement", f"statement:{doc['statement_id']}",
            f"page {shown.page} of {shown.pages}")
    query = {"kind": kind, "outcome": outcome, "client": client, "sort": sort, "order": order}

    def link(**changes: object) -> str:
        chosen = {k: v for k, v in {**query, **changes}.items() if v not in ("", None)}
        return f"?{urlencode(chosen)}" if chosen else "?"

    return render(request, "statement.html", {
        "title": f"Statement for {provider_id}, {period}", "doc": doc, "shown": shown, "query": query, "link": link,
        "sorts": sd.SORTS, "formats": sd.MEDIA, "period": period, "provider_id": provider_id,
        "can_approve": viewer.role == "finance" and doc["status"] != "approved",
    })


@router.get("/statements/{period}/{provider_id}/download/{fmt}")
def statement_download(request: Request, period: str, provider_id: str, fmt: str,
                       viewer: Viewer = allow(*READERS, scope="own")) -> Response:
    ctx: WebContext = request.app.state.web
    if fmt not in sd.MEDIA:
        raise HTTPException(404, f"Unknown format {fmt!r}: choose from {', '.join(sd.MEDIA)}.")
    doc = sd.document(ctx.wh, ctx.contract, viewer.scope, period, provider_id)
    name, data = sd.download(doc, fmt)
    ctx.log(viewer.name, viewer.role, "download statement", f"statement:{doc['statement_id']}", fmt)
    return Response(data, media_type=sd.MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/statements/{period}/{provider_id}/approve")
def statement_approve(
    request: Request,
    period: str,
    provider_id: str,
    fingerprint: Annotated[str, Form(max_length=64)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    viewer: Viewer = allow("finance", scope="all"),
) -> Response:
    check_csrf(request, csrf_token)
    ctx: WebContext = request.app.state.web
    doc = sd.document(ctx.wh, ctx.contract, viewer.scope, period, provider_id)
    back = f"/statements/{period}/{provider_id}"
    if confirm != "yes" or fingerprint != doc["fingerprint"]:
        return _refused(request, doc, period, provider_id,
                        "Confirm that you have checked the fingerprint shown before approving.", 400)
    try:
        with ctx.writing() as wh:
            done = approve_from_web(wh, ctx.contract, period, provider_id, doc["as_of"], fingerprint,
                                    viewer.name, ctx.now().astimezone(UTC), note)
    except RecoveryPbrError as exc:
        doc = sd.document(ctx.wh, ctx.contract, viewer.scope, period, provider_id)  # as written again, if it was
        hint = f" {exc.hint[0].upper()}{exc.hint[1:]}." if exc.hint else ""
        return _refused(request, doc, period, provider_id, f"Not approved: {exc.message}.{hint}", 409)
    ctx.log(viewer.name, viewer.role, "approve statement", f"statement:{done.statement_id}",
            f"fingerprint {done.fingerprint}")
    request.state.session.flash.append(f"Approved the statement for {provider_id}, {period}: fingerprint "
                                       f"{done.fingerprint[:12]}.")
    return RedirectResponse(back, 303)


def _refused(request: Request, doc: dict[str, Any], period: str, provider_id: str, message: str,
             status: int) -> Response:
    """The statement page again (its first page of lines) with the approval's refusal in its error summary."""
    return render(request, "statement.html", {
        "title": f"Error: Statement for {provider_id}, {period}", "doc": doc, "shown": sd.line_page(doc), "query": {},
        "link": lambda **_: "?", "sorts": sd.SORTS, "formats": sd.MEDIA, "period": period,
        "provider_id": provider_id, "can_approve": doc["status"] != "approved", "approve_error": message,
    }, status_code=status)


@router.get("/adjustments")
def adjustments(request: Request,
                viewer: Viewer = allow("finance", "commissioner", "auditor", scope="all")) -> Response:
    ctx: WebContext = request.app.state.web
    rows = sd.adjustments(ctx.wh, ctx.contract, viewer.scope)
    ctx.log(viewer.name, viewer.role, "view adjustments", "adjustments", f"{len(rows)} lines")
    return render(request, "adjustments.html", {"title": "Adjustments", "rows": rows})
