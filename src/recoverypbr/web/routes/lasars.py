"""The independent assessment service's pages (the commissioner and auditor read them too): each episode's complexity
group with the rule that fired, and where the provider's recorded group disagrees with the rules'."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from recoverypbr.web import assessments_data as ad
from recoverypbr.web.access import Viewer, allow
from recoverypbr.web.context import WebContext
from recoverypbr.web.pages import render
from recoverypbr.web.users import Role

router = APIRouter(include_in_schema=False)
READERS: tuple[Role, ...] = ("lasars", "commissioner", "auditor")


@router.get("/assessments")
def assessments(
    request: Request,
    group: Annotated[str, Query(max_length=60)] = "",
    rule: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    viewer: Viewer = allow(*READERS, scope="all"),
) -> Response:
    ctx: WebContext = request.app.state.web
    total, evaluated_at = ad.evaluated(ctx.wh, ctx.contract, viewer.scope)
    context: dict[str, object] = {"title": "Assessments", "total": total, "evaluated_at": evaluated_at,
                                  "group": group, "rule": rule}
    if total:
        shown = ad.rows_page(ctx.wh, ctx.contract, viewer.scope, group=group, rule=rule, page=page)
        ctx.log(viewer.name, viewer.role, "view assessments", "complexity_groups",
                f"group {group or 'all'}, rule {rule or 'all'}, page {shown.page}, {len(shown.rows)} episodes")
        query = {"group": group, "rule": rule}

        def link(**changes: object) -> str:
            chosen = {k: v for k, v in {**query, **changes}.items() if v not in ("", None)}
            return f"?{urlencode(chosen)}" if chosen else "?"

        context |= {"groups": ad.by_group(ctx.wh, ctx.contract, viewer.scope),
                    "rules": ad.by_rule(ctx.wh, ctx.contract, viewer.scope), "shown": shown, "link": link,
                    "no_group": ad.NO_GROUP}
    return render(request, "assessments.html", context)


@router.get("/assessments/disagreements")
def disagreements(
    request: Request,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    viewer: Viewer = allow(*READERS, scope="all"),
) -> Response:
    ctx: WebContext = request.app.state.web
    total, evaluated_at = ad.evaluated(ctx.wh, ctx.contract, viewer.scope)
    context: dict[str, object] = {"title": "Disagreements", "total": total, "evaluated_at": evaluated_at}
    if total:
        shown = ad.rows_page(ctx.wh, ctx.contract, viewer.scope, disagreements=True, page=page)
        ctx.log(viewer.name, viewer.role, "view disagreements", "complexity_groups",
                f"page {shown.page}, {len(shown.rows)} episodes")
        context |= {"shown": shown, "link": lambda page: f"?page={page}#episodes",
                    "providers": ad.disagreements_by_provider(ctx.wh, ctx.contract, viewer.scope),
                    "pairs": ad.disagreement_pairs(ctx.wh, ctx.contract, viewer.scope)}
    return render(request, "disagreements.html", context)
