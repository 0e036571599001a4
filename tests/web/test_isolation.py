"""Who may use each route, checked over the app's whole route table: every route declares a rule, every role outside
a route's rule is refused, and no provider's page or download names another provider's client.

The walk is generic: it reads `app.routes` (whatever routers are registered when it runs), fills path parameters
with real values from the warehouse (periods from the statement index, both providers, clients of each provider,
every download format) or from links the pages themselves show, and asks every route as every role."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from starlette.routing import Mount
from web.web_area import USERS, WebArea

from recoverypbr.web import statements_data as sd
from recoverypbr.web.access import Access, Scope, allow, public, route_access
from recoverypbr.web.app import STATIC, create_app
from recoverypbr.web.context import Settings

#: Routes that may have no `allow`/`public` rule, and why: they serve no client-level data and no session.
EXEMPT = {
    "/static": "the styles and scripts (a StaticFiles mount)",
    "/api/openapi.json": "FastAPI's own OpenAPI document of the API",
}
#: Who walks the routes: the users of web_area, and None for a visitor without a session.
WALKERS: list[str | None] = [*USERS, None]
FORMATS = ("csv", "json", "xlsx", "pdf")
#: At most this many values of a path parameter found in links, per route.
FROM_LINKS = 3
_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]+))?}")
_HREF = re.compile(r'(?:href|action)="([^"#]*)"')


# --- the route table ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteRule:
    """One route of the table with the rule it declares (`access` None: none declared)."""

    path: str
    methods: frozenset[str]
    name: str
    access: Access | None
    exempt: bool

    def __str__(self) -> str:
        return f"{','.join(sorted(self.methods)) or 'ANY'} {self.path} ({self.name})"


def _routes(app: FastAPI) -> Iterator[Any]:
    """Every route of the app as it is matched, routers included under their prefixes."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: the table is already flat
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def _declared(dependant: Any) -> list[Access]:
    """The access rules among a route's dependencies, at any depth."""
    found, stack = [], list(getattr(dependant, "dependencies", []) or [])
    while stack:
        dependency = stack.pop()
        access = route_access(dependency.call)
        if access is not None:
            found.append(access)
        stack.extend(dependency.dependencies)
    return found


def _combined(found: list[Access]) -> Access | None:
    """Several rules on one route all apply: the roles every rule serves (public only when every rule is)."""
    if not found:
        return None
    guarded = [a for a in found if not a.public]
    if not guarded:
        return found[0]
    roles = frozenset.intersection(*(a.roles for a in guarded))
    return Access(roles, guarded[0].scope)


def route_rules(app: FastAPI) -> list[RouteRule]:
    rules = []
    for route in _routes(app):
        path = str(getattr(route, "path", "") or getattr(route, "path_format", "") or repr(route))
        methods = frozenset(getattr(route, "methods", None) or ())
        name = str(getattr(route, "name", "") or "")
        original = getattr(route, "original_route", route)
        dependant = None if isinstance(original, Mount) else getattr(route, "dependant", None)
        access = _combined(_declared(dependant)) if dependant is not None else None
        rules.append(RouteRule(path, methods, name, access, access is None and path in EXEMPT))
    return rules


def undeclared(app: FastAPI) -> list[str]:
    """Routes that declare neither `allow(...)` nor `public()` and are not exempt (a mount, a websocket, a plain
    Starlette route, or an API route whose dependencies hold no rule)."""
    return [str(r) for r in route_rules(app) if r.access is None and not r.exempt]


def _app(area: WebArea) -> FastAPI:
    return create_app(Settings(db=area.db, contract=area.contract))


def test_every_route_declares_who_may_use_it(web_area: WebArea) -> None:
    app = _app(web_area)
    rules = route_rules(app)
    assert undeclared(app) == []
    assert any(r.path == "/sign-in" and r.access is not None and r.access.public for r in rules)
    assert any(r.path == "/clients/{client_id}" and r.access is not None and not r.access.public for r in rules)
    assert {r.path for r in rules if r.exempt} <= set(EXEMPT)


def test_the_checker_reports_a_route_without_a_rule(web_area: WebArea) -> None:
    app = _app(web_area)
    assert undeclared(app) == []

    @app.get("/naked")
    def naked() -> dict[str, str]:
        return {}

    def not_a_rule() -> None:
        return None

    @app.get("/depends-on-something-else", dependencies=[Depends(not_a_rule)])
    def other() -> dict[str, str]:
        return {}

    later = APIRouter(prefix="/later")

    @later.get("/{thing}")
    def later_page(thing: str) -> dict[str, str]:
        return {}

    @later.post("/ruled")
    def ruled(viewer: Any = allow("finance", scope="all")) -> dict[str, str]:
        return {}

    app.include_router(later)
    app.mount("/files", StaticFiles(directory=STATIC))
    found = undeclared(app)
    assert found == ["GET /naked (naked)", "GET /depends-on-something-else (other)", "GET /later/{thing} (later_page)",
                     "ANY /files ()"]
    ruled_rule = next(r for r in route_rules(app) if r.path == "/later/ruled")
    assert ruled_rule.access == Access(frozenset({"finance"}), "all")


def test_several_rules_on_one_route_all_apply() -> None:
    assert _combined([]) is None
    both = _combined([route_access(allow("finance", "auditor", scope="all").dependency),
                      route_access(allow("auditor", "commissioner", scope="all").dependency)])
    assert both is not None and both.roles == {"auditor"} and not both.public
    opened = _combined([route_access(public().dependency)])
    assert opened is not None and opened.public


# --- the values that fill path parameters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """What the walk needs from the warehouse."""

    periods: tuple[str, ...]
    providers: tuple[str, ...]
    #: provider -> a few clients with episodes only at that provider
    clients: dict[str, tuple[str, ...]]
    #: provider -> every client the OTHER provider must never see: episodes only at this provider, and on no line
    #: of the other provider's statements
    only: dict[str, frozenset[str]]
    shared: tuple[str, ...]
    statement_ids: tuple[str, ...]
    loads: tuple[str, ...]

    def other(self, provider: str) -> str:
        (found,) = [p for p in self.providers if p != provider]
        return found


def _area(client: TestClient) -> Area:
    ctx = client.app.state.web  # type: ignore[attr-defined]
    wh = ctx.wh
    entries = sd.index(wh, ctx.contract, Scope(None))
    periods = tuple(sorted({e.period for e in entries}))
    providers = ("P01", "P02")
    named: dict[str, set[str]] = {p: set() for p in providers}  # clients on each provider's statement lines
    for e in entries:
        doc = sd.document(wh, ctx.contract, Scope(None), e.period, e.provider_id)
        named.setdefault(e.provider_id, set()).update(str(ln["client_id"]) for ln in doc["lines"]
                                                      if ln.get("client_id"))
    only: dict[str, frozenset[str]] = {}
    clients: dict[str, tuple[str, ...]] = {}
    for provider in providers:
        other = next(p for p in providers if p != provider)
        rows = wh.execute(
            "SELECT DISTINCT client_id FROM episodes WHERE provider_id = ? AND client_id IS NOT NULL "
            "EXCEPT SELECT client_id FROM episodes WHERE provider_id IS DISTINCT FROM ? "
            "EXCEPT SELECT client_id FROM statement_lines WHERE provider_id = ? "
            # an episode row kept aside that names the other provider is that provider's own row (a conflict)
            "EXCEPT SELECT client_id FROM quarantine WHERE table_name = 'episodes' AND provider_id = ? ORDER BY 1",
            [provider, provider, other, other])
        ids = frozenset(str(r[0]) for r in rows) - named[other]
        only[provider] = ids
        clients[provider] = tuple(sorted(ids)[:2])
    shared = tuple(str(r[0]) for r in wh.execute(
        "SELECT client_id FROM episodes WHERE client_id IS NOT NULL GROUP BY client_id "
        "HAVING count(DISTINCT provider_id) > 1 ORDER BY client_id LIMIT 1"))
    statement_ids = tuple(sorted({str(sd.document(wh, ctx.contract, Scope(None), e.period, e.provider_id)
                                      .get("statement_id")) for e in entries}))
    loads = tuple(str(r[0]) for r in wh.execute("SELECT load_id FROM loads ORDER BY load_id LIMIT 2"))
    return Area(periods, providers, clients, only, shared, statement_ids, loads)


def _values(area: Area, name: str) -> tuple[str, ...] | None:
    """Real values for a path parameter, by its name; None when the name says nothing (filled from links)."""
    n = name.lower()
    if "period" in n:
        return area.periods
    if "provider" in n:
        return area.providers
    if "client" in n:
        return (*area.clients["P01"], *area.clients["P02"], *area.shared)
    if n in ("fmt", "format", "ext", "suffix"):
        return FORMATS
    if "statement" in n:
        return area.statement_ids
    if "load" in n:
        return area.loads
    if "user" in n:
        return tuple(USERS)
    return None


def _pattern(path: str) -> re.Pattern[str]:
    out, last = "", 0
    for m in _PARAM.finditer(path):
        out += re.escape(path[last:m.start()]) + (f"(?P<{m.group(1)}>.+)" if m.group(2) == "path"
                                                  else f"(?P<{m.group(1)}>[^/]+)")
        last = m.end()
    return re.compile("^" + out + re.escape(path[last:]) + "$")


def _fill(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: quote(values[m.group(1)], safe=""), path)


@dataclass(frozen=True)
class Visit:
    rule: RouteRule
    url: str
    params: tuple[tuple[str, str], ...]


def _expand(rules: Iterable[RouteRule], area: Area, links: set[str]) -> list[Visit]:
    visits: dict[str, Visit] = {}
    for rule in rules:
        names = [m.group(1) for m in _PARAM.finditer(rule.path)]
        pattern = _pattern(rule.path)
        linked = [m.groupdict() for link in sorted(links) if (m := pattern.match(link))]
        choices = []
        for name in names:
            known = _values(area, name)
            if known is None:
                known = tuple(dict.fromkeys(v[name] for v in linked))[:FROM_LINKS] or ("unknown",)
            choices.append(known)
        for combo in product(*choices):
            values = dict(zip(names, combo, strict=True))
            url = _fill(rule.path, values)
            visits.setdefault(url, Visit(rule, url, tuple(values.items())))
        for found in linked[:FROM_LINKS]:  # links to this route the pages themselves show
            url = _fill(rule.path, found)
            visits.setdefault(url, Visit(rule, url, tuple(found.items())))
    return list(visits.values())


def _links(html: str) -> set[str]:
    found = set()
    for href in _HREF.findall(html):
        parts = urlsplit(href.replace("&amp;", "&"))
        if href.startswith("/") and not href.startswith("//") and not parts.netloc:
            found.add(parts.path)
    return found


# --- reading a body for client ids ----------------------------------------------------------------------------------


def _text(content: bytes, media: str) -> str:
    """A response's text as crudely as will show a client id: an xlsx's XML parts, a PDF's inflated streams."""
    if content.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(content)) as book:
            return "\n".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    if content.startswith(b"%PDF"):
        parts = [content.decode("latin-1")]
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S):
            try:
                parts.append(zlib.decompress(stream).decode("latin-1"))
            except zlib.error:
                continue
        return "\n".join(parts)
    return content.decode("utf-8", "replace")


def _named(text: str, ids: frozenset[str]) -> set[str]:
    return {m for m in re.findall(r"[A-Za-z0-9][A-Za-z0-9_-]*", text) if m in ids}


# --- the walk -------------------------------------------------------------------------------------------------------


@dataclass
class Walk:
    rules: list[RouteRule]
    area: Area
    visits: list[Visit]


@pytest.fixture(scope="module")
def walk(web_area: WebArea) -> Iterator[Walk]:
    """The GET routes with their paths filled: from the warehouse, then from the links every role's pages show."""
    from web.web_area import sign_in

    app = _app(web_area)
    rules = [r for r in route_rules(app) if "GET" in r.methods]
    with TestClient(app, base_url="https://testserver") as anonymous:
        area = _area(anonymous)
    first: dict[str, Visit] = {}  # one page of each route is enough to find the links it shows
    for visit in _expand(rules, area, set()):
        first.setdefault(visit.rule.path, visit)
    links: set[str] = set()
    for user in USERS:
        with TestClient(_app(web_area), base_url="https://testserver") as client:
            sign_in(client, user)
            for visit in first.values():
                response = client.get(visit.url, follow_redirects=False)
                if response.headers.get("content-type", "").startswith("text/html"):
                    links |= _links(response.text)
    yield Walk(rules, area, _expand(rules, area, links))


def _signed_in_redirect(response: Any) -> bool:
    return response.status_code in (302, 303, 307) and urlsplit(response.headers.get("location", "")).path == "/sign-in"


def test_the_walk_reaches_every_get_route(walk: Walk) -> None:
    walked = {v.rule.path for v in walk.visits}
    assert walked == {r.path for r in walk.rules}
    assert walk.area.periods and all(walk.area.only[p] for p in walk.area.providers)
    urls = {v.url for v in walk.visits}
    for fmt in FORMATS:
        assert f"/statements/{walk.area.periods[0]}/P02/download/{fmt}" in urls
    assert f"/clients/{walk.area.clients['P02'][0]}" in urls


@pytest.mark.parametrize("user", WALKERS, ids=[u or "no-session" for u in WALKERS])
def test_every_route_as_every_role(user: str | None, walk: Walk, make_client: Callable[..., TestClient]) -> None:
    """(b) refused where the route's roles exclude the role; (c) a provider never sees another provider's client."""
    client = make_client(user)
    role, provider = USERS[user] if user else (None, None)
    foreign: frozenset[str] = frozenset()
    other = ""
    if provider:
        other = walk.area.other(provider)
        foreign = walk.area.only[other]
    problems: list[str] = []
    for visit in walk.visits:
        rule = visit.rule
        if rule.access is None and rule.exempt:
            continue
        response = client.get(visit.url, follow_redirects=False)
        status = response.status_code
        where = f"{user or 'no session'} GET {visit.url}"
        if status >= 500:
            problems.append(f"{where}: {status}")
            continue
        access = rule.access
        if access is None:
            problems.append(f"{where}: the route declares no rule")
        elif access.public:
            pass
        elif role is None:
            if not (status == 401 or _signed_in_redirect(response)):
                problems.append(f"{where}: {status} without a session, not the sign-in redirect or 401")
        elif role not in access.roles:
            if status != 403:
                problems.append(f"{where}: {status}, but the route serves only {sorted(access.roles)}")
        else:
            if _signed_in_redirect(response) or status == 401:
                problems.append(f"{where}: {status}: a signed-in {role} was sent to sign in")
            names_other = provider and any(v == other or v in foreign for _, v in visit.params)
            if names_other and status not in (403, 404):
                problems.append(f"{where}: {status}: {provider} reached another provider's statement or client")
        if provider:
            asked = {v for _, v in visit.params}  # a "not found" page may repeat the id it was asked for
            seen = _named(_text(response.content, response.headers.get("content-type", "")), foreign - asked)
            if seen:
                problems.append(f"{where}: {status}: names {len(seen)} of {other}'s clients, e.g. {sorted(seen)[:3]}")
    assert not problems, "\n".join(problems)


def test_a_provider_sees_its_own_clients_in_every_format(walk: Walk, make_client: Callable[..., TestClient]) -> None:
    """The leak check reads what it checks: the provider's own clients show in its pages and in each download's
    decoded text (so an empty reading cannot pass for a clean one)."""
    client = make_client("pat")
    period = walk.area.periods[0]
    page = client.get("/clients")
    assert page.status_code == 200
    assert _named(page.text, walk.area.only["P01"])
    doc = client.get(f"/statements/{period}/P01/download/json")
    mine = {str(ln["client_id"]) for ln in doc.json()["lines"] if ln.get("client_id")}
    assert mine
    for fmt in FORMATS:
        got = client.get(f"/statements/{period}/P01/download/{fmt}")
        assert got.status_code == 200, fmt
        assert _named(_text(got.content, fmt), frozenset(mine)), fmt
    for fmt in FORMATS:
        refused = client.get(f"/statements/{period}/P02/download/{fmt}")
        assert refused.status_code in (403, 404), fmt
    quin = make_client("quin")
    assert quin.get(f"/clients/{walk.area.clients['P01'][0]}").status_code in (403, 404)
    assert client.get(f"/clients/{walk.area.clients['P02'][0]}").status_code in (403, 404)
    assert client.get(f"/statements/{period}/P02").status_code in (403, 404)
