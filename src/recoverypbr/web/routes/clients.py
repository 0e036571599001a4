"""Clients: the list a viewer may see, and for one client why each outcome was or was not paid."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from recoverypbr.web import clients_data as cd
from recoverypbr.web.access import Viewer, allow
from recoverypbr.web.context import WebContext
from recoverypbr.web.pages import render
from recoverypbr.web.users import Role

router = APIRouter(include_in_schema=False)
READERS: tuple[Role, ...] = ("provider", "auditor", "commissioner", "finance")


@router.get("/clients")
def client_list(
    request: Request,
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    viewer: Viewer = allow(*READERS, scope="own"),
) -> Response:
    ctx: WebContext = request.app.state.web
    rows, total = cd.client_list(ctx.wh, viewer.scope, q, page)
    pages = max(1, -(-total // cd.PAGE))
    ctx.log(viewer.name, viewer.role, "view client list", "clients", f"page {page}, {len(rows)} clients")
    return render(request, "clients.html", {"title": "Clients", "rows": rows, "total": total, "page": min(page, pages),
                                            "pages": pages, "q": q})


@router.get("/clients/{client_id}")
def client_page(
    request: Request,
    client_id: str,
    as_of: Annotated[date | None, Query()] = None,
    viewer: Viewer = allow(*READERS, scope="own"),
) -> Response:
    ctx: WebContext = request.app.state.web
    dates = cd.stored_dates(ctx.wh, ctx.contract)
    chosen = as_of or (dates[0] if dates else None)
    found = cd.decisions(ctx.wh, ctx.contract, viewer.scope, client_id, chosen) if chosen else []
    if chosen is None and not cd.visible(ctx.wh, viewer.scope, client_id, ctx.contract):
        found = cd.decisions(ctx.wh, ctx.contract, viewer.scope, client_id, date.min)  # says there is no such client
    ctx.log(viewer.name, viewer.role, "view client", f"client:{client_id}", f"as of {chosen}")
    return render(request, "client.html", {"title": f"Client {client_id}", "client_id": client_id, "as_of": chosen,
                                           "dates": dates, "decisions": found})
