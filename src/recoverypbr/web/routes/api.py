"""The JSON API: the data the pages show, for programs, described by the app's OpenAPI document (/api/openapi.json).

Every route declares its roles and scope with `allow` exactly as the matching page does, and reads through the same
data-layer functions with the viewer's scope, so a provider's calls return only its own rows. Without a session the
API answers 401 (JSON), a role the route does not serve gets 403, and what the viewer cannot see is 404. Views of
client-level data are logged like the pages' views. Money is text with two decimals; dates are ISO text."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from recoverypbr.data import quarantine as q
from recoverypbr.data.schema import TABLES
from recoverypbr.web import api_models as m
from recoverypbr.web import clients_data as cd
from recoverypbr.web import statements_data as sd
from recoverypbr.web.access import Viewer, allow
from recoverypbr.web.context import WebContext
from recoverypbr.web.routes.quarantine import PAGE as QUARANTINE_PAGE
from recoverypbr.web.routes.quarantine import scoped_rows
from recoverypbr.web.users import Role

router = APIRouter(prefix="/api", tags=["api"])
READERS: tuple[Role, ...] = ("commissioner", "finance", "provider", "auditor")
CLIENT_READERS: tuple[Role, ...] = ("provider", "auditor", "commissioner", "finance")
QUARANTINE_READERS: tuple[Role, ...] = ("provider", "commissioner", "auditor")
#: Most statement lines one call returns.
MAX_PER_PAGE = 500

_WHY = {
    401: (m.Problem, "Not signed in: sign in through the form (/sign-in) and send its session cookie"),
    403: (m.Problem, "Signed in with a role that may not use this"),
    404: (m.Problem, "Nothing by that name that you can see"),
    422: (m.InputProblem, "A parameter was not understood"),
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of a route."""
    return {code: {"model": _WHY[code][0], "description": _WHY[code][1]} for code in codes}


def _ctx(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def _name(path: Any) -> str:
    """A file's name without the server's folders (as the pages show it)."""
    return PurePosixPath(str(path).replace("\\", "/")).name or str(path)


@router.get("/me", response_model=m.Me, summary="Who is signed in", responses=answers(401))
def me(viewer: Viewer = allow("commissioner", "finance", "lasars", "provider", "auditor", scope="none")) -> m.Me:
    return m.Me.model_validate({"user_name": viewer.name, "role": viewer.role,
                                "provider_id": viewer.scope.provider_id})


def _entry(entry: sd.Entry) -> m.StatementEntry:
    return m.StatementEntry.model_validate(
        {**entry.as_json(), "url": f"/api/statements/{entry.period}/{entry.provider_id}"})


@router.get("/statements", response_model=m.StatementIndex, summary="The statements you may see",
            responses=answers(401, 403))
def statements(request: Request, viewer: Viewer = allow(*READERS, scope="own")) -> m.StatementIndex:
    ctx = _ctx(request)
    return m.StatementIndex(statements=[_entry(e) for e in sd.index(ctx.wh, ctx.contract, viewer.scope)])


#: The line columns one may sort by (`statements_data.SORTS`, spelled out for the OpenAPI document).
SortKey = Literal["line_no", "amount", "client_id", "outcome_id", "complexity_group", "payable_on", "kind"]


@router.get("/statements/{period}/{provider_id}", response_model=m.Statement,
            summary="A statement's header and one page of its lines", responses=answers(401, 403, 404, 422))
def statement(
    request: Request,
    period: str,
    provider_id: str,
    kind: Annotated[str, Query(max_length=40, description="Only lines of this kind")] = "",
    outcome: Annotated[str, Query(max_length=100, description="Only lines of this outcome")] = "",
    client: Annotated[str, Query(max_length=100, description="Only lines whose client id contains this")] = "",
    sort: Annotated[SortKey, Query(description="The column to sort by")] = "line_no",
    order: Annotated[m.SortOrder, Query()] = "asc",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = sd.PAGE,
    viewer: Viewer = allow(*READERS, scope="own"),
) -> m.Statement:
    ctx = _ctx(request)
    doc = sd.document(ctx.wh, ctx.contract, viewer.scope, period, provider_id)
    shown = sd.line_page(doc, kind=kind, outcome=outcome, client=client, sort=sort,
                         descending=order == "desc", page=page, per_page=per_page)
    ctx.log(viewer.name, viewer.role, "view statement", f"statement:{doc['statement_id']}",
            f"API, page {shown.page} of {shown.pages}")
    return m.Statement.model_validate({
        "statement_id": doc["statement_id"],
        "period": doc["period"]["label"],
        "period_start": doc["period"]["start"],
        "period_end": doc["period"]["end"],
        "provider_id": doc["provider"]["id"],
        "provider_name": doc["provider"].get("name") or "",
        "contract_area": doc["contract"]["area"],
        "contract_version": doc["contract"]["version"],
        "status": doc["status"],
        "approved_by": doc.get("approved_by") or "",
        "approved_at": doc.get("approved_at") or None,
        "as_of": doc["as_of"],
        "fingerprint": doc["fingerprint"],
        "totals": doc["totals"],
        "year_to_date": doc.get("year_to_date"),
        "notes": doc.get("notes") or [],
        "lines": {"items": shown.lines, "total": shown.total, "page": shown.page, "pages": shown.pages,
                  "per_page": per_page, "kinds": shown.kinds, "outcomes": shown.outcomes},
    })


@router.get("/clients", response_model=m.ClientList, summary="The clients you may see, a page at a time",
            responses=answers(401, 403, 422))
def clients(
    request: Request,
    q: Annotated[str, Query(max_length=100, description="Only clients whose id contains this")] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    viewer: Viewer = allow(*CLIENT_READERS, scope="own"),
) -> m.ClientList:
    ctx = _ctx(request)
    rows, total = cd.client_list(ctx.wh, viewer.scope, q, page)
    pages = _pages(total, cd.PAGE)
    if page > pages:  # past the end: the last page, as the statement lines do
        page = pages
        rows, total = cd.client_list(ctx.wh, viewer.scope, q, page)
    ctx.log(viewer.name, viewer.role, "view client list", "clients", f"API, page {page}, {len(rows)} clients")
    return m.ClientList.model_validate({"items": rows, "total": total, "page": page, "pages": pages,
                                        "per_page": cd.PAGE, "q": q})


@router.get("/clients/{client_id}", response_model=m.Client,
            summary="Why each of a client's outcomes was or was not paid, with evidence and paying lines",
            responses=answers(401, 403, 404, 422))
def client(
    request: Request,
    client_id: str,
    as_of: Annotated[date | None, Query(description="A date the outcomes are stored for (default: the latest)")]
    = None,
    viewer: Viewer = allow(*CLIENT_READERS, scope="own"),
) -> m.Client:
    ctx = _ctx(request)
    dates = cd.stored_dates(ctx.wh, ctx.contract)
    chosen = as_of or (dates[0] if dates else None)
    if chosen is None:
        if not cd.visible(ctx.wh, viewer.scope, client_id, ctx.contract):
            cd.decisions(ctx.wh, ctx.contract, viewer.scope, client_id, date.min)  # raises: no such client
        found: list[cd.Decision] = []
    else:
        found = cd.decisions(ctx.wh, ctx.contract, viewer.scope, client_id, chosen)
    ctx.log(viewer.name, viewer.role, "view client", f"client:{client_id}", f"API, as of {chosen}")
    return m.Client.model_validate({
        "client_id": client_id, "as_of": chosen, "dates": dates,
        "decisions": [{
            "outcome_id": d.outcome_id, "label": d.label, "episode_id": d.episode_id, "provider_id": d.provider_id,
            "status": d.status, "words": d.words, "paid": bool(d.paid),
            "evidence": [{"ref": ref, "text": text or ""} for ref, text in d.evidence],
            "paid_lines": d.paid,
        } for d in found],
    })


TableName = StrEnum("TableName", [(t.name, t.name) for t in TABLES])  # type: ignore[misc]


@router.get("/quarantine", response_model=m.QuarantinePage,
            summary="Quarantined rows: a provider's own, or every provider's", responses=answers(401, 403, 422))
def quarantine(
    request: Request,
    table: Annotated[TableName | None, Query(description="Only rows of this table")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    viewer: Viewer = allow(*QUARANTINE_READERS, scope="own"),
) -> m.QuarantinePage:
    ctx = _ctx(request)
    chosen = str(table.value) if table is not None else ""
    rows = scoped_rows(ctx, viewer, chosen)
    total = ctx.wh.count(rows)
    pages = _pages(total, QUARANTINE_PAGE)
    page = min(page, pages)
    shown = ctx.wh.to_arrow(rows.limit(QUARANTINE_PAGE, offset=(page - 1) * QUARANTINE_PAGE)).to_pylist()
    ctx.log(viewer.name, viewer.role, "view quarantine", f"provider:{viewer.scope.provider_id or 'all'}",
            f"API, page {page}")
    return m.QuarantinePage.model_validate({
        "items": [{**r, "file": _name(r["file"])} for r in shown], "total": total, "page": page, "pages": pages,
        "per_page": QUARANTINE_PAGE, "table": chosen, "tables": [t.name for t in TABLES],
    })


@router.get("/loads", response_model=m.Loads, summary="The load history and what was quarantined, by rule",
            responses=answers(401, 403))
def loads(request: Request, viewer: Viewer = allow("commissioner", "auditor", scope="none")) -> m.Loads:
    ctx = _ctx(request)
    rows = ctx.wh.execute("SELECT load_id, source, started_at, finished_at, rows_read, rows_changed, "
                          "rows_quarantined, program_version FROM loads ORDER BY load_id DESC")
    keys = ("load_id", "source", "started_at", "finished_at", "rows_read", "rows_changed", "rows_quarantined",
            "program_version")
    found = [dict(zip(keys, r, strict=True)) for r in rows]
    return m.Loads.model_validate({
        "loads": [{**r, "source": _name(r["source"])} for r in found],
        "by_rule": [{"table": t, "rule": rule, "rows": n} for t, rule, n in q.quarantine_by_rule(ctx.wh)],
        "providers": q.provider_overview(ctx.wh),
    })
