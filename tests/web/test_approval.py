"""Approval from the browser when the draft shown is out of date: nothing is approved, the draft is written again
and the page shows its new fingerprint, which then approves."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from web.web_area import PERIOD, WebArea, copy_area, csrf

from recoverypbr.contract.load import load_contract
from recoverypbr.payments.run import approve_statements, make_statements, statement_period
from recoverypbr.warehouse.connection import open_warehouse

EARLIER = ("2012-Q2", "2012-Q3", "2012-Q4")


def _fingerprint(text: str) -> str:
    found = re.search(r'<code class="app-code" id="fingerprint">([0-9a-f]{64})</code>', text)
    assert found, text[:2000]
    return found.group(1)


@pytest.mark.slow
def test_a_stale_draft_is_not_approved_but_written_again_and_then_approves(web_db: WebArea, make_client) -> None:  # type: ignore[no-untyped-def]
    model = load_contract(web_db.contract)
    with open_warehouse(web_db.db) as wh:
        # P01's earlier periods are approved after 2013-Q1's draft was written: its fingerprint is now out of date.
        for label in EARLIER:
            period = statement_period(model, label)
            approve_statements(wh, make_statements(wh, model, period, period.end, ["P01"]), "fin",
                               datetime(2026, 1, 5, tzinfo=UTC))
    client = make_client("fin", area=web_db)
    page = client.get(f"/statements/{PERIOD}/P01")
    shown = _fingerprint(page.text)
    refused = client.post(f"/statements/{PERIOD}/P01/approve",
                          data={"fingerprint": shown, "confirm": "yes", "csrf_token": csrf(page.text)})
    assert refused.status_code == 409
    said = " ".join(refused.text.split())
    assert "Not approved: the statement changed since this page showed it" in said
    now = _fingerprint(refused.text)
    assert now != shown and f"its fingerprint is now {now[:12]}" in said
    with open_warehouse(web_db.db) as wh:
        assert not wh.execute("SELECT 1 FROM statements WHERE period_label = ? AND provider_id = 'P01'", [PERIOD])
    # The draft on disk was written again: the statement page now shows the new fingerprint, which approves.
    assert _fingerprint(client.get(f"/statements/{PERIOD}/P01").text) == now
    approved = client.post(f"/statements/{PERIOD}/P01/approve",
                           data={"fingerprint": now, "confirm": "yes", "csrf_token": csrf(refused.text)},
                           follow_redirects=False)
    assert approved.status_code == 303
    after = client.get(f"/statements/{PERIOD}/P01").text
    assert f"Approved the statement for P01, {PERIOD}: fingerprint {now[:12]}" in after
    with open_warehouse(web_db.db) as wh:
        assert wh.execute("SELECT fingerprint, approved_by FROM statements WHERE period_label = ? AND "
                          "provider_id = 'P01'", [PERIOD]) == [(now, "fin")]
        actions = [r[0] for r in wh.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert "approve statement" in actions


def test_what_one_warehouse_approved_is_never_shown_from_another(web_area: WebArea, tmp_path, make_client) -> None:  # type: ignore[no-untyped-def]
    # Approved statements are kept in memory once read. Two warehouse files in one process (two copies of an area):
    # a statement approved in one is not approved in the other, whichever was read first.
    first, second = copy_area(web_area, tmp_path / "first"), copy_area(web_area, tmp_path / "second")
    model = load_contract(first.contract)
    period = statement_period(model, "2012-Q2")
    with open_warehouse(first.db) as wh:
        approve_statements(wh, make_statements(wh, model, period, period.end, ["P01"]), "fin",
                           datetime(2026, 1, 5, tzinfo=UTC))
    assert "approved" in make_client("fin", area=first).get("/statements/2012-Q2/P01").text
    other = make_client("fin", area=second).get("/statements/2012-Q2/P01")
    assert other.status_code == 404 and "There is no statement for provider P01 in 2012-Q2 yet" in other.text
