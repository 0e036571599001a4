"""The commissioner's pages (the auditor reads them too): the contract dashboard, the contract explained, and the
modelling and assurance reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from recoverypbr.contract.explain import sections
from recoverypbr.web import dashboard_data as dd
from recoverypbr.web.access import Viewer, allow
from recoverypbr.web.context import WebContext
from recoverypbr.web.pages import render

router = APIRouter(include_in_schema=False)
#: What a served HTML report may do: its own inline styles and `data:` images (its charts), nothing else.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@router.get("/dashboard")
def dashboard(request: Request, viewer: Viewer = allow("commissioner", "auditor", scope="all")) -> Response:
    ctx: WebContext = request.app.state.web
    found = dd.dashboard(ctx.wh, ctx.contract, viewer.scope)
    return render(request, "dashboard.html", {"title": "Contract dashboard", "d": found})


def blocks(lines: list[str]) -> list[tuple[str, Any]]:
    """A section's lines as paragraphs and lists: consecutive lines starting "- " make one list."""
    found: list[tuple[str, Any]] = []
    for line in lines:
        if line.startswith("- "):
            if found and found[-1][0] == "list":
                found[-1][1].append(line[2:])
            else:
                found.append(("list", [line[2:]]))
        else:
            found.append(("paragraph", line))
    return found


@router.get("/contract")
def contract_page(request: Request,
                  viewer: Viewer = allow("commissioner", "finance", "lasars", "auditor", scope="none")) -> Response:
    ctx: WebContext = request.app.state.web
    parts = sections(ctx.contract)
    heading, intro = parts[0]
    return render(request, "contract.html", {
        "title": "The contract", "heading": heading, "intro": blocks(intro),
        "sections": [(title, blocks(lines)) for title, lines in parts[1:]],
    })


@router.get("/reports")
def reports(request: Request, viewer: Viewer = allow("commissioner", "auditor", scope="all")) -> Response:
    ctx: WebContext = request.app.state.web
    return render(request, "reports.html", {"title": "Reports", "files": dd.report_files(ctx.reports),
                                            "monitor": dd.monitor_summary(ctx.reports), "folder": ctx.reports})


@router.get("/reports/{kind}/{name:path}")
def report(request: Request, kind: str, name: str,
           viewer: Viewer = allow("commissioner", "auditor", scope="all")) -> Response:
    ctx: WebContext = request.app.state.web
    found = dd.report_file(ctx.reports, kind, name) if kind in dd.REPORT_KINDS else None
    if found is None:
        raise HTTPException(404, "There is no such report: choose one from the list of reports.")
    ctx.log(viewer.name, viewer.role, "view report", f"report:{kind}/{found.name}")
    response = FileResponse(found.path, media_type=found.media_type)
    if found.path.suffix == ".html":
        response.headers["Content-Security-Policy"] = REPORT_CSP
    else:
        response.headers["Content-Disposition"] = f'inline; filename="{found.path.name}"'
    return response
