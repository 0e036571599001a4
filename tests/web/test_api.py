"""The JSON API: the pages' data for programs, scoped like the pages, money as exact text, errors as documented."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_args

import pytest
from web.web_area import PERIOD, ROLE_USER

from recoverypbr.contract.load import load_contract
from recoverypbr.payments.approval import approve
from recoverypbr.payments.run import make_statements, statement_period
from recoverypbr.warehouse.connection import open_warehouse
from recoverypbr.web import statements_data as sd
from recoverypbr.web.pages import pounds
from recoverypbr.web.routes.api import SortKey

MONEY = re.compile(r"^-?[0-9]+\.[0-9]{2}$")
API_GETS = ("/api/me", "/api/statements", f"/api/statements/{PERIOD}/P01", "/api/clients", "/api/clients/C0000001",
            "/api/quarantine", "/api/loads")


def no_floats(text: str) -> Any:
    """The JSON, refusing any number with a fraction (money must never travel as a float)."""

    def refuse(value: str) -> Any:
        raise AssertionError(f"a float in the API's JSON: {value}")

    return json.loads(text, parse_float=refuse)


def get(client: Any, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    return no_floats(response.text)


def test_no_session_gets_401_json_on_every_route(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    for url in API_GETS:
        body = get(client, url, 401)
        assert "Sign in" in body["detail"]
    # ... and an API call never hands out an anonymous session.
    assert "recoverypbr_session" not in client.get("/api/me").headers.get("set-cookie", "")


def test_me_names_the_user_role_and_provider(make_client) -> None:  # type: ignore[no-untyped-def]
    assert get(make_client("pat"), "/api/me") == {"user_name": "pat", "role": "provider", "provider_id": "P01"}
    assert get(make_client("cora"), "/api/me") == {"user_name": "cora", "role": "commissioner", "provider_id": None}
    assert get(make_client("lara"), "/api/me")["role"] == "lasars"


def test_a_provider_lists_only_its_own_statements(make_client) -> None:  # type: ignore[no-untyped-def]
    mine = get(make_client("pat"), "/api/statements")["statements"]
    assert mine and {s["provider_id"] for s in mine} == {"P01"}
    everyone = get(make_client("cora"), "/api/statements")["statements"]
    assert {s["provider_id"] for s in everyone} == {"P01", "P02"}
    assert [s for s in everyone if s["provider_id"] == "P01"] == mine
    for entry in everyone:
        assert MONEY.match(entry["total"]), entry
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["as_of"])
        assert entry["url"] == f"/api/statements/{entry['period']}/{entry['provider_id']}"


def test_a_provider_cannot_read_another_providers_statement(make_client) -> None:  # type: ignore[no-untyped-def]
    pat = make_client("pat")
    refused = pat.get(f"/api/statements/{PERIOD}/P02")
    assert refused.status_code in (403, 404)
    assert "P02" not in json.dumps(no_floats(refused.text).get("lines", ""))
    assert make_client("quin").get(f"/api/statements/{PERIOD}/P01").status_code in (403, 404)
    # The same provider reads its own.
    assert get(pat, f"/api/statements/{PERIOD}/P01")["provider_id"] == "P01"


def test_roles_a_route_does_not_serve_get_403(make_client) -> None:  # type: ignore[no-untyped-def]
    lara = make_client("lara")
    for url in ("/api/statements", f"/api/statements/{PERIOD}/P01", "/api/clients", "/api/quarantine",
                "/api/loads"):
        assert get(lara, url, 403)["detail"]
    assert get(make_client("pat"), "/api/loads", 403)["detail"]
    assert get(make_client("fin"), "/api/quarantine", 403)["detail"]


def test_unknown_period_client_and_bad_parameters(make_client) -> None:  # type: ignore[no-untyped-def]
    cora = make_client("cora")
    assert get(cora, "/api/statements/1999-Q1/P01", 404)["detail"]
    assert get(cora, "/api/clients/NOBODY", 404)["detail"]
    assert get(cora, "/api/clients/C0000001?as_of=1999-01-01", 404)["detail"]
    for url in (f"/api/statements/{PERIOD}/P01?sort=nonsense", f"/api/statements/{PERIOD}/P01?page=0",
                f"/api/statements/{PERIOD}/P01?per_page=100000", f"/api/statements/{PERIOD}/P01?order=up",
                "/api/clients?page=x", "/api/clients/C0000001?as_of=yesterday", "/api/quarantine?table=nothing"):
        problem = get(cora, url, 422)
        assert isinstance(problem["detail"], list) and all(isinstance(d, str) for d in problem["detail"])


def test_statement_lines_page_filter_and_sort(make_client) -> None:  # type: ignore[no-untyped-def]
    cora = make_client("cora")
    url = f"/api/statements/{PERIOD}/P01"
    first = get(cora, url)
    lines = first["lines"]
    count = first["totals"]["lines"]
    assert count > sd.PAGE  # the area's statement is longer than a page, so paging is exercised
    assert (lines["per_page"], lines["page"], lines["total"]) == (sd.PAGE, 1, count)
    assert lines["pages"] == -(-count // sd.PAGE)
    assert [ln["line_no"] for ln in lines["items"]] == list(range(1, sd.PAGE + 1))
    last = get(cora, f"{url}?page={lines['pages']}")["lines"]
    assert len(last["items"]) == count - sd.PAGE * (lines["pages"] - 1)
    assert get(cora, f"{url}?page=999")["lines"]["page"] == lines["pages"]  # past the end: the last page
    # Every line once over the pages, and the totals are the lines' exact sum.
    every = get(cora, f"{url}?per_page=500")["lines"]["items"]
    assert len(every) == count
    assert sum(Decimal(ln["amount"]) for ln in every) == Decimal(first["totals"]["total"])
    for kind, amount in first["totals"]["by_kind"].items():
        assert sum(Decimal(ln["amount"]) for ln in every if ln["kind"] == kind) == Decimal(amount)
    assert all(MONEY.match(ln["amount"]) for ln in every)
    # Sorting by amount, largest first; ties keep no promise, the order of amounts does.
    by_amount = get(cora, f"{url}?sort=amount&order=desc&per_page=500")["lines"]["items"]
    amounts = [Decimal(ln["amount"]) for ln in by_amount]
    assert amounts == sorted(amounts, reverse=True) and amounts[0] > amounts[-1]
    small = get(cora, f"{url}?sort=amount&per_page=5")["lines"]
    assert [Decimal(ln["amount"]) for ln in small["items"]] == sorted(amounts)[:5]
    assert small["pages"] == -(-count // 5)
    # Filters: one kind, one outcome, a client.
    kind = first["lines"]["kinds"][0]
    only = get(cora, f"{url}?kind={kind}&per_page=500")["lines"]
    assert only["total"] == sum(1 for ln in every if ln["kind"] == kind)
    assert {ln["kind"] for ln in only["items"]} == {kind}
    outcome = first["lines"]["outcomes"][0]
    assert {ln["outcome_id"] for ln in get(cora, f"{url}?outcome={outcome}")["lines"]["items"]} == {outcome}
    someone = every[0]["client_id"]
    mentioned = get(cora, f"{url}?client={someone}&per_page=500")["lines"]["items"]
    assert mentioned and all(someone in ln["client_id"] for ln in mentioned)


def test_the_figures_are_the_html_pages(make_client) -> None:  # type: ignore[no-untyped-def]
    for user, provider in (("cora", "P02"), ("pat", "P01")):
        client = make_client(user)
        api = get(client, f"/api/statements/{PERIOD}/{provider}?sort=amount&order=desc")
        page = client.get(f"/statements/{PERIOD}/{provider}?sort=amount&order=desc")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert f"{pounds(api['totals']['total'])} in {api['totals']['lines']:,} lines" in text
        assert api["fingerprint"] in text and api["status"] in text and api["as_of"] in text
        for amount in api["totals"]["by_kind"].values():
            assert pounds(amount) in text
        assert pounds(api["year_to_date"]["paid_to_date"]) in text
        shown = re.findall(r'govuk-table__cell--numeric">([^<]*)</td>', text)
        assert shown == [pounds(ln["amount"]) for ln in api["lines"]["items"]]
        index = {(s["period"], s["provider_id"]): s for s in get(client, "/api/statements")["statements"]}
        assert index[(PERIOD, provider)]["total"] == api["totals"]["total"]
        assert index[(PERIOD, provider)]["fingerprint"] == api["fingerprint"]


def test_clients_are_scoped_and_views_are_logged(make_client) -> None:  # type: ignore[no-untyped-def]
    pat, cora = make_client("pat"), make_client("cora")
    wh = cora.app.state.web.wh
    theirs = {c for (c,) in wh.execute("SELECT DISTINCT client_id FROM episodes WHERE provider_id = 'P01'")}
    listed = get(pat, "/api/clients")
    assert listed["total"] == len(theirs) and listed["per_page"] == 50
    assert {c["client_id"] for c in listed["items"]} <= theirs
    assert listed["total"] < get(cora, "/api/clients")["total"]
    found = get(pat, "/api/clients?q=C00000")
    assert all("C00000" in c["client_id"] for c in found["items"])
    last = get(pat, f"/api/clients?page={listed['pages']}")
    assert last["items"] and last["page"] == listed["pages"]
    # Someone only P02 ever treated (and no P01 line names) is not there for pat.
    (stranger,) = wh.execute(
        "SELECT client_id FROM episodes WHERE client_id NOT IN (SELECT client_id FROM episodes WHERE provider_id = "
        "'P01') AND client_id NOT IN (SELECT client_id FROM statement_lines WHERE provider_id = 'P01' AND client_id "
        "IS NOT NULL) ORDER BY client_id LIMIT 1")[0]
    assert get(pat, f"/api/clients/{stranger}", 404)["detail"]
    assert get(cora, f"/api/clients/{stranger}")["client_id"] == stranger
    # A client paid on P01's statement: the decision, its evidence and the line that paid it, as the statement says.
    line = next(ln for ln in get(pat, f"/api/statements/{PERIOD}/P01")["lines"]["items"] if ln["kind"] == "outcome")
    seen = get(pat, f"/api/clients/{line['client_id']}")
    assert seen["as_of"] == seen["dates"][0]
    paid = [d for d in seen["decisions"] if d["paid"]]
    paying = [p for d in paid for p in d["paid_lines"] if p["line_no"] == line["line_no"]]
    assert paying and paying[0]["amount"] == line["amount"] and paying[0]["period"] == PERIOD
    assert all(d["provider_id"] == "P01" for d in seen["decisions"])
    assert all(e["ref"] and e["text"] for d in seen["decisions"] for e in d["evidence"])
    logged = wh.execute("SELECT action, target, detail FROM audit_log WHERE actor = 'pat' ORDER BY seq DESC LIMIT 1")
    assert logged[0][:2] == ("view client", f"client:{line['client_id']}") and "API" in logged[0][2]


def test_quarantine_is_scoped_and_loads_listed(make_client) -> None:  # type: ignore[no-untyped-def]
    pat, cora = make_client("pat"), make_client("cora")
    mine = get(pat, "/api/quarantine")
    everyone = get(cora, "/api/quarantine")
    assert 0 < mine["total"] < everyone["total"]
    assert {r["provider_id"] for r in mine["items"]} == {"P01"}
    assert all("/" not in r["file"] for r in mine["items"])
    table = mine["items"][0]["table_name"]
    chosen = get(pat, f"/api/quarantine?table={table}")
    assert chosen["table"] == table and {r["table_name"] for r in chosen["items"]} == {table}
    assert get(pat, f"/api/quarantine?page={mine['pages'] + 5}")["page"] == mine["pages"]
    loads = get(cora, "/api/loads")
    assert loads["loads"] and loads["loads"][0]["rows_read"] > 0
    assert sum(r["rows"] for r in loads["by_rule"]) > 0
    assert {p["provider_id"] for p in loads["providers"]} >= {"P01", "P02"}
    assert get(make_client("aud"), "/api/loads") == loads


@pytest.mark.parametrize("role", sorted(ROLE_USER))
def test_every_role_reaches_me(make_client, role: str) -> None:  # type: ignore[no-untyped-def]
    assert get(make_client(ROLE_USER[role]), "/api/me")["role"] == role


def test_openapi_documents_only_the_api_with_its_errors(make_client) -> None:  # type: ignore[no-untyped-def]
    doc = get(make_client(), "/api/openapi.json")
    assert set(doc["paths"]) == {"/api/me", "/api/statements", "/api/statements/{period}/{provider_id}",
                                 "/api/clients", "/api/clients/{client_id}", "/api/quarantine", "/api/loads"}
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            assert method == "get"
            codes = set(operation["responses"])
            assert {"200", "401"} <= codes, path
            if path != "/api/me":
                assert "403" in codes, path
            if operation.get("parameters"):
                assert operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
                    "/InputProblem"), path
            assert "$ref" in operation["responses"]["200"]["content"]["application/json"]["schema"], path
    money = doc["components"]["schemas"]["StatementEntry"]["properties"]["total"]
    assert money["type"] == "string" and money["pattern"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_an_approved_statement_reads_back_with_exact_money_and_utc_time(  # type: ignore[no-untyped-def]
        make_client, web_db) -> None:
    model = load_contract(web_db.contract)
    period = statement_period(model, PERIOD)
    with open_warehouse(web_db.db) as wh:
        (made,) = make_statements(wh, model, period, period.end, ["P01"])
        approve(wh, made, "fin", datetime(2026, 1, 6, 9, 30, tzinfo=UTC))
    pat = make_client("pat", area=web_db)
    (entry,) = get(pat, "/api/statements")["statements"]
    assert entry["status"] == "approved" and entry["approved_by"] == "fin"
    assert entry["approved_at"] == "2026-01-06T09:30:00Z"
    assert MONEY.match(entry["total"]) and Decimal(entry["total"]) == Decimal(made.total_pence) / 100
    shown = get(pat, f"/api/statements/{PERIOD}/P01")
    assert (shown["status"], shown["approved_at"], shown["fingerprint"]) == ("approved", entry["approved_at"],
                                                                            entry["fingerprint"])
    assert shown["totals"]["total"] == entry["total"]


def test_sort_keys_are_the_pages() -> None:
    assert get_args(SortKey) == sd.SORTS
