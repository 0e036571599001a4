"""The commissioner's, the assessment service's and the auditor's pages: each shows the real figures to its roles and
refuses every other role; a report is served only when it is one of those listed."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from web.web_area import PERIOD, ROLE_USER, WebArea

from recoverypbr.assessment.grouping import assess
from recoverypbr.assurance.findings import Finding, record_findings
from recoverypbr.assurance.sampling import draw, population, record_sample
from recoverypbr.contract.explain import explain
from recoverypbr.contract.load import load_contract
from recoverypbr.payments.run import statement_period
from recoverypbr.warehouse.connection import open_warehouse
from recoverypbr.web import dashboard_data as dd
from recoverypbr.web.pages import pounds
from recoverypbr.web.routes.commissioner import REPORT_CSP
from recoverypbr.web.statements_data import Entry

MakeClient = Callable[..., TestClient]


def _refused(make_client: MakeClient, path: str, allowed: set[str], area: WebArea | None = None) -> None:
    for role, user in ROLE_USER.items():
        if role in allowed:
            continue
        response = make_client(user, area=area).get(path)
        assert response.status_code == 403, (role, path, response.status_code)


def _money(text: str) -> Decimal:
    return Decimal(text.replace("£", "").replace(",", ""))


def _cell(page: str, cell_id: str) -> str:
    found = re.search(rf'id="{re.escape(cell_id)}">(.*?)</td>', page, re.S)
    assert found, f"no cell {cell_id}"
    return re.sub(r"<[^>]+>", "", found.group(1))


# --- Dashboard -------------------------------------------------------------------------------------------------------


def test_dashboard_totals_are_the_statements_totals(make_client: MakeClient) -> None:
    client = make_client("cora")
    page = client.get("/dashboard")
    assert page.status_code == 200, page.text[:500]
    index = client.get("/statements").text
    year_paid = Decimal(0)
    for provider in ("P01", "P02"):
        row = re.search(rf'href="/statements/{PERIOD}/{provider}">.*?</tr>', index, re.S)
        assert row, provider
        shown = re.findall(r"£[\d,]+\.\d\d", row.group(0))
        assert shown, row.group(0)
        assert shown[0] in _cell(page.text, f"pay-{PERIOD}-{provider}")
        statement = client.get(f"/statements/{PERIOD}/{provider}").text
        paid = re.search(r"Paid this contract year</dt><dd[^>]*>(£[\d,.-]+)", statement)
        assert paid, provider
        year_paid += _money(paid.group(1))
    # The first contract year holds 2013-Q1: its paid so far adds up both providers' year to date.
    assert _money(_cell(page.text, "year-paid-1").strip()) == year_paid
    assert pounds(Decimal("1000000.00")) in page.text  # year 1's results money, as `contract explain` says
    assert "This contract has no funnel" in page.text
    images = re.findall(r'<img class="app-chart" src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', page.text)
    assert len(images) >= 2
    for data, alt in images:
        assert base64.b64decode(data).lstrip().startswith(b"<svg")
        assert "table below" in alt
    assert 'aria-label="Payments by period and provider"' in page.text


def test_dashboard_rates_are_the_stored_ledgers(web_db: WebArea, make_client: MakeClient) -> None:
    model = load_contract(web_db.contract)
    with open_warehouse(web_db.db) as wh:
        (as_of,) = wh.execute("SELECT max(as_of) FROM outcome_runs")[0]
        achieved = wh.execute(
            "SELECT count(*) FROM outcome_ledger WHERE contract_area = ? AND as_of = ? AND status = 'achieved'",
            [model.area, as_of])[0][0]
    page = make_client("aud", area=web_db).get("/dashboard")
    assert page.status_code == 200
    assert f"as of {as_of}" in page.text
    table = page.text.split('aria-label="Outcome rates by complexity group"', 1)[1]
    cells = re.findall(r"<tr class=\"govuk-table__row\">\s*<th scope=\"row\".*?</tr>", table, re.S)
    total = sum(int(re.findall(r'numeric">([\d,]+)</td>', c)[0].replace(",", "")) for c in cells)
    assert total == achieved


def test_dashboard_refuses_other_roles(make_client: MakeClient) -> None:
    _refused(make_client, "/dashboard", {"commissioner", "auditor"})


# --- Contract --------------------------------------------------------------------------------------------------------


def test_contract_page_is_the_contract_explained(make_client: MakeClient, web_area: WebArea) -> None:
    text = explain(load_contract(web_area.contract))
    for role in ("commissioner", "finance", "lasars", "auditor"):
        page = make_client(ROLE_USER[role]).get("/contract")
        assert page.status_code == 200, role
        for line in filter(None, text.splitlines()):
            assert str(escape(line.removeprefix("- "))) in page.text, line
    assert '<ul class="govuk-list govuk-list--bullet">' in page.text
    _refused(make_client, "/contract", {"commissioner", "finance", "lasars", "auditor"})


# --- Reports ---------------------------------------------------------------------------------------------------------


def test_reports_say_when_there_are_none(make_client: MakeClient) -> None:
    page = make_client("cora").get("/reports")
    assert page.status_code == 200
    assert "No modelling reports yet" in page.text and "recoverypbr model baseline" in page.text
    assert "No assurance reports yet" in page.text and "recoverypbr assure monitor" in page.text
    assert make_client("cora").get("/reports/model/baseline/baseline-report.html").status_code == 404


def test_reports_are_listed_and_only_listed_files_are_served(web_db: WebArea, make_client: MakeClient,
                                                             tmp_path: Path) -> None:
    model = web_db.folder / "model" / "baseline"
    model.mkdir(parents=True)
    (model / "baseline-report.html").write_text("<!DOCTYPE html><title>Baseline</title><p>The baseline.</p>")
    (model / "notes.txt").write_text("not a report")
    assurance = web_db.folder / "assurance"
    assurance.mkdir()
    (assurance / "monitor-report.html").write_text("<!DOCTYPE html><title>Monitor</title><p>Flags.</p>")
    (assurance / "monitor.json").write_text(
        '{"area": "Marlshire (synthetic)", "as_of": "2013-03-31", "window": {"start": "2012-04-01", "end": '
        '"2013-03-31"}, "providers": ["P01", "P02"], "assessors": [], "flagged": {"P02": ["timing"]}, '
        '"rows": [{"flagged": true}, {"flagged": false}]}')
    secret = tmp_path / "secret.html"
    secret.write_text("outside the reports folder")
    (model / "elsewhere.html").symlink_to(secret)
    client = make_client("aud", area=web_db)
    listing = client.get("/reports")
    assert listing.status_code == 200
    assert 'href="/reports/model/baseline/baseline-report.html"' in listing.text
    assert 'href="/reports/assurance/monitor-report.html"' in listing.text
    assert "P02: timing" in listing.text and "2, of which 1 flagged" in listing.text
    assert "notes.txt" not in listing.text and "elsewhere.html" not in listing.text
    report = client.get("/reports/model/baseline/baseline-report.html")
    assert report.status_code == 200
    assert "The baseline." in report.text
    assert report.headers["content-security-policy"] == REPORT_CSP
    assert report.headers["content-type"].startswith("text/html")
    assert client.get("/reports/assurance/monitor.json").json()["area"] == "Marlshire (synthetic)"
    for path in ("/reports/model/../../etc/passwd", "/reports/model/..%2F..%2Fetc%2Fpasswd",
                 "/reports/model/baseline/../../../recoverypbr.duckdb", "/reports/model/baseline/notes.txt",
                 "/reports/model/elsewhere.html", "/reports/model/risk/risk.html", "/reports/other/monitor.json",
                 "/reports/assurance/%2e%2e/recoverypbr.duckdb", "/reports/model/%2Fetc%2Fpasswd"):
        assert client.get(path).status_code == 404, path
    _refused(make_client, "/reports", {"commissioner", "auditor"}, area=web_db)
    _refused(make_client, "/reports/model/baseline/baseline-report.html", {"commissioner", "auditor"}, area=web_db)


# --- Assessments -----------------------------------------------------------------------------------------------------


@pytest.fixture
def assessed(web_db: WebArea) -> WebArea:
    """The area with every episode grouped by `recoverypbr assess`'s library function."""
    with open_warehouse(web_db.db) as wh:
        assess(wh, load_contract(web_db.contract), now=datetime(2026, 1, 6, tzinfo=UTC))
    return web_db


def test_assessments_say_how_to_fill_them(make_client: MakeClient) -> None:
    for path in ("/assessments", "/assessments/disagreements"):
        page = make_client("lara").get(path)
        assert page.status_code == 200
        assert "recoverypbr assess --contract" in page.text


def test_assessments_counts_are_the_tables(assessed: WebArea, make_client: MakeClient) -> None:
    model = load_contract(assessed.contract)
    with open_warehouse(assessed.db) as wh:
        groups = dict(wh.execute("SELECT coalesce(complexity_group, '(none)'), count(*) FROM complexity_groups "
                                 "WHERE contract_area = ? GROUP BY 1", [model.area]))
        total = sum(groups.values())
        low_rows = groups.get("low", 0)
        by_provider = dict(wh.execute(
            "SELECT e.provider_id, count(*) FROM complexity_groups g JOIN episodes e USING (episode_id) "
            "WHERE g.agrees = false GROUP BY 1"))
        disagree = int(wh.execute("SELECT count(*) FROM complexity_groups WHERE agrees = false")[0][0])
    assert total > 50 and disagree > 0
    client = make_client("lara", area=assessed)
    page = client.get("/assessments")
    assert page.status_code == 200
    for group, n in groups.items():
        assert _cell(page.text, f"group-{group}") == f"{n:,}"
    assert f"{total:,} episodes; page 1 of {-(-total // 50)}." in page.text
    assert page.text.count('<tr class="govuk-table__row">\n      <th scope="row" class="govuk-table__header">E') == 50
    low = client.get("/assessments", params={"group": "low"})
    assert f"{low_rows:,} episode{'' if low_rows == 1 else 's'} (filtered)" in low.text
    assert "no assessment on or before start" in page.text or "(none)" not in groups
    second = client.get("/assessments", params={"page": 2})
    assert "page 2 of" in second.text
    dis = client.get("/assessments/disagreements")
    assert dis.status_code == 200
    for provider, n in by_provider.items():
        assert _cell(dis.text, f"disagree-{provider}") == f"{n:,}"
    assert f"{disagree:,} episode{'' if disagree == 1 else 's'}; page 1" in dis.text
    for role in ("commissioner", "auditor"):
        assert make_client(ROLE_USER[role], area=assessed).get("/assessments").status_code == 200
    log = make_client("aud", area=assessed).get("/audit-log").text
    assert "view assessments" in log and "view disagreements" in log
    _refused(make_client, "/assessments", {"lasars", "commissioner", "auditor"}, area=assessed)
    _refused(make_client, "/assessments/disagreements", {"lasars", "commissioner", "auditor"}, area=assessed)


# --- Audit -----------------------------------------------------------------------------------------------------------


def test_audit_says_when_there_is_no_sample(make_client: MakeClient) -> None:
    page = make_client("aud").get("/audit")
    assert page.status_code == 200
    assert "No audit sample yet" in page.text and "recoverypbr assure sample" in page.text
    _refused(make_client, "/audit", {"auditor", "commissioner"})


def test_audit_shows_samples_lines_and_findings(web_db: WebArea, make_client: MakeClient) -> None:
    model = load_contract(web_db.contract)
    period = statement_period(model, PERIOD)
    with open_warehouse(web_db.db) as wh:
        sample = draw(wh, model, population(wh, model, period), 12, 7)
        record_sample(wh, model, sample, datetime(2026, 1, 6))
        record_findings(wh, model, [Finding(2, sample.sample_id, 1, "not_upheld", "no review TOP on file")],
                        "aud", date(2026, 1, 7))
        lines = int(wh.execute("SELECT count(*) FROM audit_sample_lines WHERE sample_id = ?",
                               [sample.sample_id])[0][0])
    client = make_client("cora", area=web_db)
    page = client.get("/audit")
    assert page.status_code == 200
    assert f'href="/audit/samples/{sample.sample_id}"' in page.text
    assert "F0001" in page.text and "no review TOP on file" in page.text
    detail = client.get(f"/audit/samples/{sample.sample_id}")
    assert detail.status_code == 200
    assert f"{lines:,} lines; page 1 of 1." in detail.text
    assert sample.lines[0]["client_id"] in detail.text and "not upheld" in detail.text
    assert client.get("/audit/samples/SNOSUCH").status_code == 404
    log = make_client("aud", area=web_db).get("/audit-log").text
    assert f"sample:{sample.sample_id}" in log
    _refused(make_client, f"/audit/samples/{sample.sample_id}", {"auditor", "commissioner"}, area=web_db)


def test_audit_log_shows_entries_and_the_chain(web_db: WebArea, make_client: MakeClient) -> None:
    make_client("cora", area=web_db).get("/dashboard")
    page = make_client("aud", area=web_db).get("/audit-log")
    assert page.status_code == 200
    assert "The chain verifies" in page.text
    assert "<td class=\"govuk-table__cell\">cora</td>" in page.text
    with open_warehouse(web_db.db) as wh:
        wh.execute("UPDATE audit_log SET detail = 'edited' WHERE seq = 1")
    broken = make_client("aud", area=web_db).get("/audit-log")
    assert "The chain does not verify" in broken.text and "entry 1" in broken.text
    _refused(make_client, "/audit-log", {"auditor"}, area=web_db)


# --- The dashboard's figures from statement documents ---------------------------------------------------------------


def _entry(period: str, provider: str, total: str) -> Entry:
    return Entry(period, provider, "draft", total, 1, "f" * 64, "2013-06-30")


def test_year_paid_adds_each_providers_latest_year_to_date(web_area: WebArea) -> None:
    model = load_contract(web_area.contract)
    ytd = {"start": "2012-04-01", "year": "year 1"}
    documents = [
        (_entry("2012-Q4", "P01", "10.00"), {"year_to_date": ytd | {"paid_to_date": "100.00"}}),
        (_entry("2013-Q1", "P01", "20.00"), {"year_to_date": ytd | {"paid_to_date": "120.00"}}),
        (_entry("2013-Q1", "P02", "5.00"), {"year_to_date": ytd | {"paid_to_date": "55.50"}}),
        (_entry("2013-Q2", "P01", "7.00"), {"year_to_date": {"start": "2013-04-01", "paid_to_date": "7.00"}}),
    ]
    years = dd.year_rows(model, documents)
    assert [y.paid for y in years] == [Decimal("175.50"), Decimal("7.00"), Decimal(0)]
    assert years[0].results_money == Decimal("1000000.00") and years[0].through == "2013-Q1"
    assert years[0].remaining == Decimal("999824.50") and years[1].providers == 1
    table = dd.payments_table([e for e, _ in documents])
    assert table.total("2013-Q1") == Decimal("25.00") and table.provider_total("P01") == Decimal("37.00")


def test_funnel_comes_from_the_latest_statement_with_one() -> None:
    model = load_contract(Path(__file__).resolve().parents[2] / "contracts" / "worcestershire.yaml")
    assert model.funnels
    row = {"funnel": "f", "milestone": "m", "label": "Triaged", "predicted": 10, "actual": 8}
    documents = [
        (_entry("2012-06", "P01", "1.00"), {"funnel": [row | {"month": "2012-04"}, row | {"month": "2012-05"}],
                                            "funnel_year": [{"funnel": "f"}]}),
        (_entry("2012-05", "P01", "1.00"), {"funnel": [row | {"month": "2012-04"}]}),
    ]
    found = dd.funnel(model, documents)
    assert found is not None and found.period == "2012-06" and len(found.months) == 2 and found.year
    assert dd.chart_image(dd.funnel_chart(found)).startswith("data:image/svg+xml;base64,")
    assert dd.funnel(model, []) is None
    assert dd.funnel(load_contract(Path(__file__).resolve().parents[2] / "contracts" / "marlshire.yaml"),
                     documents) is None
