"""Quarantined rows: a provider's own (to fix and send again), or every provider's for the commissioner and the
auditor; the load history."""

from __future__ import annotations

import io
from typing import Annotated

import pyarrow.csv as pacsv
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from recoverypbr.data import quarantine as q
from recoverypbr.data.schema import TABLES
from recoverypbr.reports.cells import safe_table
from recoverypbr.web.access import Viewer, allow
from recoverypbr.web.context import WebContext
from recoverypbr.web.pages import render

router = APIRouter(include_in_schema=False)
PAGE = 50


def scoped_rows(ctx: WebContext, viewer: Viewer, table: str = ""):  # type: ignore[no-untyped-def]
    """The quarantine as the viewer may see it: a provider's scope is its own rows, in the data layer."""
    return q.quarantine_rows(ctx.wh, table=table or None, provider=viewer.scope.provider_id)


@router.get("/quarantine")
def quarantine_page(
    request: Request,
    table: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    viewer: Viewer = allow("provider", "commissioner", "auditor", scope="own"),
) -> Response:
    ctx: WebContext = request.app.state.web
    rows = ctx.wh.to_arrow(scoped_rows(ctx, viewer, table))  # one query: the owners' join is the cost, not the rows
    total = rows.num_rows
    pages = max(1, -(-total // PAGE))
    page = min(page, pages)
    shown = rows.slice((page - 1) * PAGE, PAGE).to_pylist()
    ctx.log(viewer.name, viewer.role, "view quarantine", f"provider:{viewer.scope.provider_id or 'all'}",
            f"page {page}")
    tables = [t.name for t in TABLES]
    return render(request, "quarantine.html", {"title": "Quarantine", "rows": shown, "total": total, "page": page,
                                               "pages": pages, "table": table, "tables": tables})


@router.get("/quarantine/download")
def quarantine_download(
    request: Request,
    table: Annotated[str, Query(max_length=40)] = "",
    viewer: Viewer = allow("provider", "commissioner", "auditor", scope="own"),
) -> Response:
    ctx: WebContext = request.app.state.web
    data = safe_table(ctx.wh.to_arrow(scoped_rows(ctx, viewer, table)))
    sink = io.BytesIO()
    pacsv.write_csv(data, sink)
    who = viewer.scope.provider_id or "all-providers"
    ctx.log(viewer.name, viewer.role, "download quarantine", f"provider:{who}", f"{data.num_rows} rows")
    return Response(sink.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="quarantine_{who}.csv"'})


@router.get("/loads")
def loads_page(request: Request, viewer: Viewer = allow("commissioner", "auditor", scope="none")) -> Response:
    ctx: WebContext = request.app.state.web
    rows = ctx.wh.execute("SELECT load_id, source, started_at, finished_at, rows_read, rows_changed, "
                          "rows_quarantined, program_version FROM loads ORDER BY load_id DESC")
    keys = ("load_id", "source", "started_at", "finished_at", "rows_read", "rows_changed", "rows_quarantined",
            "program_version")
    by_rule = q.quarantine_by_rule(ctx.wh)
    return render(request, "loads.html", {"title": "Loads", "loads": [dict(zip(keys, r, strict=True)) for r in rows],
                                          "by_rule": by_rule, "overview": q.provider_overview(ctx.wh)})
