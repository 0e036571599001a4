"""The web app's defences: CSRF on every form, no session fixation, no open redirect, no path traversal, a sign-in
attempt limit, sessions that end, careful cookies and headers, no password or hash anywhere, and an audit log that
records and verifies."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from web.web_area import PASSWORD, PERIOD, USERS, WebArea, csrf, sign_in

from recoverypbr.web import audit
from recoverypbr.web.sessions import COOKIE
from recoverypbr.web.users import set_disabled

MakeClient = Callable[..., TestClient]


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _wh(client: TestClient) -> Any:
    return client.app.state.web.wh  # type: ignore[attr-defined]


def _to_sign_in(response: Any) -> bool:
    return response.status_code == 303 and urlsplit(response.headers["location"]).path == "/sign-in"


def _signed_in(client: TestClient) -> bool:
    return client.get("/statements", follow_redirects=False).status_code == 200


def _counts(client: TestClient) -> dict[str, int]:
    wh = _wh(client)
    tables = [r[0] for r in wh.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                                       "AND table_type = 'BASE TABLE' AND table_name <> 'audit_log' ORDER BY 1")]
    return {t: int(wh.execute(f'SELECT count(*) FROM "{t}"')[0][0]) for t in tables}


def _statement_form(client: TestClient, provider: str = "P01", period: str = PERIOD) -> dict[str, str]:
    page = client.get(f"/statements/{period}/{provider}")
    assert page.status_code == 200
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page.text)
    assert fingerprint
    return {"fingerprint": fingerprint.group(1), "confirm": "yes", "csrf_token": csrf(page.text)}


def _episode_csv(area: WebArea) -> bytes:
    """A P01 episodes.csv of one new episode (an existing P01 row with a new id)."""
    lines = (area.folder / "extract" / "episodes.csv").read_text(encoding="utf-8").splitlines()
    row = next(line for line in lines[1:] if '"P01"' in line and line.startswith('"E0000001"'))
    return (lines[0] + "\n" + row.replace('"E0000001"', '"E9000001"', 1) + "\n").encode()


# --- CSRF -----------------------------------------------------------------------------------------------------------


def _post_routes(client: TestClient) -> list[tuple[str, Any]]:
    from web.test_isolation import route_rules

    return [(r.path, r.access) for r in route_rules(client.app) if "POST" in r.methods]  # type: ignore[arg-type]


def test_every_post_route_refuses_a_missing_or_wrong_token(make_client: MakeClient, web_db: WebArea) -> None:
    """Whatever POST routes the app has (the known forms and any added later), a post without this session's token
    is refused with 403, signed in as a role the route serves."""
    anonymous = make_client(area=web_db)
    routes = _post_routes(anonymous)
    assert {p for p, _ in routes} >= {"/sign-in", "/sign-out", "/statements/{period}/{provider_id}/approve", "/upload"}
    for path, access in routes:
        assert access is not None, path
        role_users = [u for u, (role, _) in USERS.items() if access.public or role in access.roles]
        client = make_client(role_users[0], area=web_db)
        url = re.sub(r"{[^}]+}", lambda m: {"{period}": PERIOD}.get(m.group(0), "P01"), path)
        for token in (None, "not-the-token", csrf(client.get("/sign-in").text)[::-1]):
            data = {"csrf_token": token} if token is not None else {}
            files = {"extract": ("episodes.csv", b"x\n", "text/csv")} if path == "/upload" else None
            response = client.post(url, data=data, files=files, follow_redirects=False)
            assert response.status_code == 403, (path, token, response.status_code)


def test_a_forged_form_changes_nothing(make_client: MakeClient, web_db: WebArea) -> None:
    before = _counts(make_client(area=web_db))
    entries = audit.verify_chain(_wh(make_client(area=web_db))).entries

    visitor = make_client(area=web_db)
    visitor.get("/sign-in")
    for token in ("", "forged"):
        refused = visitor.post("/sign-in", data={"user_name": "fin", "password": PASSWORD, "csrf_token": token},
                               follow_redirects=False)
        assert refused.status_code == 403
    assert not _signed_in(visitor)

    fin = make_client("fin", area=web_db)
    form = _statement_form(fin)
    for token in ("", "forged"):
        refused = fin.post(f"/statements/{PERIOD}/P01/approve", data={**form, "csrf_token": token},
                           follow_redirects=False)
        assert refused.status_code == 403
        assert fin.post("/sign-out", data={"csrf_token": token}, follow_redirects=False).status_code == 403
    assert _signed_in(fin)
    assert "draft" in fin.get(f"/statements/{PERIOD}/P01").text

    pat = make_client("pat", area=web_db)
    for token in ("", "forged"):
        refused = pat.post("/upload", data={"csrf_token": token},
                           files={"extract": ("episodes.csv", _episode_csv(web_db), "text/csv")})
        assert refused.status_code == 403
    after = _counts(fin)
    assert after == before
    logged = audit.recent(_wh(fin), 1000)
    assert not [e for e in logged if e["seq"] > entries and e["action"] in ("approve statement", "upload")]


# --- sessions -------------------------------------------------------------------------------------------------------


def test_signing_in_issues_a_new_session_id(make_client: MakeClient) -> None:
    attacker = make_client()
    attacker.get("/sign-in")
    planted = attacker.cookies.get(COOKIE)
    assert planted
    victim = TestClient(attacker.app, base_url="https://testserver")  # another browser, on the same server
    victim.cookies.set(COOKIE, planted, domain="testserver.local")
    victim.get("/sign-in")
    assert victim.cookies.get(COOKIE) == planted  # the victim's browser holds the planted id ...
    sign_in(victim, "fin")
    assert victim.cookies.get(COOKIE) != planted  # ... and signing in replaces it
    assert _signed_in(victim)
    assert _to_sign_in(attacker.get("/statements", follow_redirects=False))  # the planted id signs no one in


def test_sessions_end_when_idle_and_after_the_absolute_limit(make_client: MakeClient) -> None:
    clock = Clock()
    client = make_client("fin", clock=clock)
    clock.advance(minutes=29)
    assert _signed_in(client)
    clock.advance(minutes=31)
    assert _to_sign_in(client.get("/statements", follow_redirects=False))

    clock = Clock()
    client = make_client("fin", clock=clock)
    for _ in range(23):  # used every 20 minutes: never idle, until 8 hours after signing in
        clock.advance(minutes=20)
        assert _signed_in(client)
    clock.advance(minutes=21)
    assert _to_sign_in(client.get("/statements", follow_redirects=False))


def test_a_disabled_users_open_session_ends(make_client: MakeClient, web_db: WebArea) -> None:
    pat = make_client("pat", area=web_db)
    assert pat.get("/clients").status_code == 200
    set_disabled(_wh(pat), "pat", True)
    assert _to_sign_in(pat.get("/clients", follow_redirects=False))
    set_disabled(_wh(pat), "pat", False)
    assert _to_sign_in(pat.get("/clients", follow_redirects=False))  # the ended session stays ended
    set_disabled(_wh(pat), "pat", True)
    token = csrf(pat.get("/sign-in").text)
    refused = pat.post("/sign-in", data={"user_name": "pat", "password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 401


def test_sign_in_attempts_are_limited(make_client: MakeClient) -> None:
    clock = Clock()
    client = make_client(clock=clock)

    def attempt(password: str) -> Any:
        token = csrf(client.get("/sign-in").text)
        return client.post("/sign-in", data={"user_name": "aud", "password": password, "csrf_token": token},
                           follow_redirects=False)

    for _ in range(5):
        assert attempt("wrong password, again").status_code == 401
        clock.advance(minutes=2)
    blocked = attempt(PASSWORD)  # the 6th within 15 minutes, even with the right password
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.text
    assert not _signed_in(client)
    clock.advance(minutes=8)  # 15 minutes after the first failure: one more try is allowed
    assert attempt(PASSWORD).status_code == 303
    assert _signed_in(client)


def test_one_address_is_limited_higher_than_one_user_name(make_client: MakeClient) -> None:
    # Colleagues behind one office address: others' failures do not lock a user out until the address's own limit.
    clock = Clock()
    client = make_client(clock=clock)

    def attempt(user: str, password: str) -> Any:
        token = csrf(client.get("/sign-in").text)
        return client.post("/sign-in", data={"user_name": user, "password": password, "csrf_token": token},
                           follow_redirects=False)

    for i in range(49):
        assert attempt(f"someone{i % 10}", "wrong password, again").status_code == 401
    assert attempt("aud", PASSWORD).status_code == 303  # 49 failures from the address: still allowed
    for _ in range(2):
        attempt("nobody", "wrong password, again")
    assert attempt("fin", PASSWORD).status_code == 429  # 51 from the address within 15 minutes: refused


# --- redirects and paths --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example", "http:evil",
                                    "\\\\evil.example", "/\t/evil.example", " //evil.example", "https:/evil.example"])
def test_sign_in_never_redirects_off_site(target: str, make_client: MakeClient) -> None:
    client = make_client()
    form = client.get("/sign-in", params={"next": target})
    hidden = re.search(r'name="next" value="([^"]*)"', form.text)
    assert hidden and hidden.group(1) == "/"
    done = client.post("/sign-in", data={"user_name": "fin", "password": PASSWORD, "csrf_token": csrf(form.text),
                                         "next": target}, follow_redirects=False)
    assert done.status_code == 303
    location = done.headers["location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith(("//", "/\\"))
    assert location == "/statements"


def test_sign_in_returns_to_the_page_asked_for(make_client: MakeClient) -> None:
    client = make_client()
    first = client.get(f"/statements/{PERIOD}/P01?page=2", follow_redirects=False)
    assert _to_sign_in(first)
    form = client.get(first.headers["location"])
    done = client.post("/sign-in", data={"user_name": "fin", "password": PASSWORD, "csrf_token": csrf(form.text),
                                         "next": f"/statements/{PERIOD}/P01?page=2"}, follow_redirects=False)
    assert done.headers["location"] == f"/statements/{PERIOD}/P01?page=2"


@pytest.mark.parametrize("path", [
    f"/statements/{PERIOD}/P01/download/..%2F..%2Fetc%2Fpasswd",
    f"/statements/{PERIOD}/P01/download/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/statements/..%2F..%2F..%2Fetc/P01/download/csv",
    f"/statements/{PERIOD}/..%2F..%2Fmanifest/download/json",
    f"/statements/{PERIOD}/%2e%2e/download/json",
    f"/statements/{PERIOD}/..%5C..%5Cstatements/download/json",
    "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%2F..%2F..%2Fpyproject.toml",
    "/static/%2e%2e/templates/base.html",
    "/static/..%2f__init__.py",
])
def test_no_path_reaches_a_file_outside(path: str, make_client: MakeClient) -> None:
    for user in ("cora", "pat"):
        client = make_client(user)
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 404, (user, path, response.status_code)
        for secret in (b"root:", b"[project]", b"{% extends", b"__future__"):
            assert secret not in response.content


def test_raw_dot_segments_reach_no_file_outside_static(make_client: MakeClient) -> None:
    """A request line holding literal `..` (no client normalises it away) stays inside the static folder."""
    client = make_client()
    app = client.app
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for raw in ("/static/../../../pyproject.toml", "/static/../templates/base.html", "/static/../__init__.py"):
        sent.clear()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "https",
                 "path": raw, "raw_path": raw.encode(), "root_path": "", "query_string": b"",
                 "headers": [(b"host", b"testserver")], "client": ("testclient", 1), "server": ("testserver", 443),
                 "state": {}}
        client.portal.call(app, scope, receive, send)  # type: ignore[union-attr, arg-type]
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        assert start["status"] == 404, raw
        assert b"[project]" not in body and b"{% extends" not in body and b"__future__" not in body


# --- cookies, headers, secrets --------------------------------------------------------------------------------------


def test_session_cookies_are_secure_httponly_and_lax(make_client: MakeClient) -> None:
    client = make_client()
    for response in (client.get("/sign-in"),):
        cookie = response.headers["set-cookie"]
        assert COOKIE in cookie
        attributes = {a.strip().lower() for a in cookie.split(";")}
        assert {"secure", "httponly", "samesite=lax", "path=/"} <= attributes
    form = client.get("/sign-in")
    signed = client.post("/sign-in", data={"user_name": "fin", "password": PASSWORD, "csrf_token": csrf(form.text)},
                         follow_redirects=False)
    attributes = {a.strip().lower() for a in signed.headers["set-cookie"].split(";")}
    assert {"secure", "httponly", "samesite=lax"} <= attributes
    out = client.post("/sign-out", data={"csrf_token": csrf(client.get("/statements").text)}, follow_redirects=False)
    assert _to_sign_in(out)
    cleared = out.headers["set-cookie"].lower()
    assert "max-age=0" in cleared or "expires=" in cleared
    assert not _signed_in(client)


def test_every_response_carries_the_security_headers(make_client: MakeClient) -> None:
    fin = make_client("fin")
    pat = make_client("pat")
    anonymous = make_client()
    responses = {
        "sign-in page": anonymous.get("/sign-in"),
        "sign-in redirect": anonymous.get("/statements", follow_redirects=False),
        "page": fin.get("/statements"),
        "download": fin.get(f"/statements/{PERIOD}/P01/download/csv"),
        "forbidden": pat.get("/adjustments"),
        "not found": fin.get("/no-such-page"),
        "not found statement": pat.get(f"/statements/{PERIOD}/P02"),
        "static": anonymous.get("/static/dist/app.css"),
    }
    for what, response in responses.items():
        h = response.headers
        csp = h.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, what
        assert "script-src 'self'" in csp and "object-src 'none'" in csp, what
        assert h.get("x-content-type-options") == "nosniff", what
        assert h.get("x-frame-options") == "DENY", what
        if what != "static":
            assert "no-store" in h.get("cache-control", ""), what
    assert responses["forbidden"].status_code == 403
    assert responses["not found"].status_code == 404


def test_no_password_or_hash_in_logs_responses_or_the_audit_log(make_client: MakeClient,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bodies: list[bytes] = []
    client = make_client()
    form = client.get("/sign-in")
    wrong = client.post("/sign-in", data={"user_name": "fin", "password": PASSWORD + " typo",
                                          "csrf_token": csrf(form.text)})
    bodies += [form.content, wrong.content]
    for user in USERS:
        signed = make_client(user)
        for path in ("/", "/statements", "/clients", "/quarantine", "/loads", "/adjustments", "/upload",
                     "/quarantine/download", f"/statements/{PERIOD}/P01", f"/statements/{PERIOD}/P01/download/json"):
            bodies.append(signed.get(path).content)
    hashes = [str(r[0]) for r in _wh(client).execute("SELECT password_hash FROM web_users")]
    assert all(h.startswith("$argon2") for h in hashes)
    logged = "\n".join(str(v) for e in audit.recent(_wh(client), 100_000) for v in e.values())
    for secret in (PASSWORD, "$argon2", *(h.split("$")[-1] for h in hashes)):
        assert secret not in caplog.text
        assert secret not in logged
        assert all(secret.encode() not in body for body in bodies), secret


# --- the audit log --------------------------------------------------------------------------------------------------


def _pay_first_period(area: WebArea) -> str:
    """Draft the contract's first period into the area (statements are approved in order), as `pay` does."""
    from recoverypbr.contract.load import load_contract
    from recoverypbr.payments.cli import write_period_set
    from recoverypbr.payments.run import make_statements, schedule
    from recoverypbr.payments.set_records import SetRecord
    from recoverypbr.reports import FORMATS
    from recoverypbr.warehouse.connection import open_warehouse

    model = load_contract(area.contract)
    period = schedule(model)[0]
    with open_warehouse(area.db) as wh:
        made = make_statements(wh, model, period, period.end)
        record = SetRecord(area.statements.resolve(), period.end, None, FORMATS)
        write_period_set(wh, model, period, record, made, datetime(2026, 1, 6, tzinfo=UTC))
    return period.label


def test_the_audit_log_records_sign_in_view_download_approval_and_verifies(make_client: MakeClient,
                                                                           web_db: WebArea) -> None:
    first = _pay_first_period(web_db)
    fin = make_client("fin", area=web_db)
    start = max([e["seq"] for e in audit.recent(_wh(fin), 1)] or [0])
    page = f"/statements/{first}/P02"
    form = _statement_form(fin, "P02", first)
    assert fin.get(f"{page}/download/pdf").status_code == 200
    approved = fin.post(f"{page}/approve", data=form, follow_redirects=False)
    assert approved.status_code == 303, re.findall(r"Not approved: [^<]*", approved.text)
    assert "approved" in fin.get(page).text.lower()
    pat = make_client("pat", area=web_db)
    assert pat.get("/clients").status_code == 200
    entries = [e for e in audit.recent(_wh(fin), 10_000) if e["seq"] > start - 1]
    actions = {(e["actor"], e["action"]) for e in entries}
    assert {("fin", "sign-in"), ("fin", "view statement"), ("fin", "download statement"),
            ("fin", "approve statement"), ("pat", "sign-in"), ("pat", "view client list")} <= actions
    approval = next(e for e in entries if e["action"] == "approve statement")
    assert form["fingerprint"] in approval["detail"]
    checked = audit.verify_chain(_wh(fin))
    assert checked.broken_at is None and checked.entries >= len(entries)

