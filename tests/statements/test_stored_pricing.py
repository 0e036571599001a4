"""Priced periods kept in the warehouse (`payments.stored`): statements made with stored earlier periods are the
statements made by pricing every period from the contract's start, to the penny and byte for byte, across late
data, approvals and the adjustments they bring; late data is never answered from what was stored before it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statements.test_statement_properties import _rows as rows_of
from statements.test_statement_properties import episodes_until

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, arrow_rows, case_warehouse
from recoverypbr.payments.approval import document_text
from recoverypbr.payments.run import approve_statements, make_statements, statement_period
from recoverypbr.payments.statements import Statement
from recoverypbr.warehouse.connection import Warehouse

# A yearly cap on P1 and a yearly floor on P2: what earlier periods paid decides later periods' cuts and top-ups.
CONTRACT = Contract.model_validate(
    BASE_CONTRACT
    | {
        "effective_from": dt.date(2013, 4, 1),
        "years": [{"start": dt.date(2013, 4, 1), "end": dt.date(2014, 3, 31)}],
        "outcomes": {
            "completion": {"type": "successful_completion", "tariffs": {"all": "333.33"}},
            "no_rep": {"type": "no_representation_12m", "tariffs": {"all": "1000"}},
        },
        "caps": {"p1": {"provider": "P1", "amount": "2500", "period": "year"}},
        "floors": {"p2": {"provider": "P2", "amount": "100", "period": "quarter"}},
    }
)
Q2, Q3, Q4 = (statement_period(CONTRACT, label) for label in ("2013-Q2", "2013-Q3", "2013-Q4"))
AT = dt.datetime(2014, 1, 10, 9, 0)

episode = episodes_until(dt.date(2013, 12, 31))


def _rows(drawn: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return rows_of(drawn, late_until=Q3.end)


def _texts(statements: list[Statement]) -> dict[str, str]:
    return {s.provider_id: document_text(s.document()) for s in statements}


def _stored_rows(wh: Warehouse) -> int:
    return int(wh.execute("SELECT count(*) FROM priced_periods")[0][0])


def _history(wh: Warehouse, late: list[dict[str, Any]], stored: bool) -> list[dict[str, str]]:
    """Q2 made and approved; late data; Q3 made and approved; Q3 and Q4 made as of Q4's end. `stored`: keep what is
    priced (the normal way); otherwise forget it before every statement, so each prices every period again."""
    made = []

    def make(period: Any, as_of: dt.date) -> list[Statement]:
        if not stored:
            wh.execute("DELETE FROM priced_lines")
            wh.execute("DELETE FROM priced_periods")
        statements = make_statements(wh, CONTRACT, period, as_of)
        made.append(_texts(statements))
        return statements

    approve_statements(wh, make(Q2, Q2.end), "Finance", AT)
    if late:
        wh.insert("presentations", wh.register_arrow("_late", arrow_rows("presentations", late)))
        wh.unregister("_late")
    approve_statements(wh, make(Q3, Q3.end), "Finance", AT)
    make(Q3, Q4.end)
    make(Q4, Q4.end)  # Q2 and Q3 as of Q4's end come from the store (the run before priced them)
    make(Q4, Q4.end)  # every period from the store
    return made


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(episode, min_size=1, max_size=8))
def test_stored_earlier_periods_price_as_pricing_from_the_start(drawn: list[dict[str, Any]]) -> None:
    episodes, late = _rows(drawn)
    with case_warehouse({"episodes": episodes}) as kept, case_warehouse({"episodes": episodes}) as fresh:
        with_store = _history(kept, late, stored=True)
        assert _stored_rows(kept) > 0
        assert with_store == _history(fresh, late, stored=False)


def test_late_data_is_not_answered_from_the_store() -> None:
    # C0 (P1) completes on 2013-05-10: GBP 333.33 in 2013-Q2. A presentation dated 2013-06-01, loaded after Q2's
    # statements were made as of 2013-06-30, changes the data as known on that date: making them again must see it
    # (no_rep is no longer on its way; completion is unchanged but the data digest, and so the fingerprint, is new).
    episodes = [{"episode_id": "E0", "client_id": "C0", "provider_id": "P1", "start_date": dt.date(2011, 1, 1),
                 "discharge_date": dt.date(2013, 5, 10), "discharge_reason": "completed_drug_free",
                 "substances": "opiates"}]
    with case_warehouse({"episodes": episodes}) as wh:
        before = {s.provider_id: s for s in make_statements(wh, CONTRACT, Q2)}
        wh.insert("presentations", wh.register_arrow("_late", arrow_rows(
            "presentations", [{"client_id": "C0", "presented_on": dt.date(2013, 6, 1), "setting": "treatment"}])))
        after = {s.provider_id: s for s in make_statements(wh, CONTRACT, Q2)}
        assert before["P1"].fingerprint != after["P1"].fingerprint
        assert _stored_rows(wh) == 2  # 2013-Q2 under each data digest
    with case_warehouse({"episodes": episodes}) as wh:
        wh.insert("presentations", wh.register_arrow("_late", arrow_rows(
            "presentations", [{"client_id": "C0", "presented_on": dt.date(2013, 6, 1), "setting": "treatment"}])))
        fresh = {s.provider_id: s for s in make_statements(wh, CONTRACT, Q2)}
    assert _texts(list(after.values())) == _texts(list(fresh.values()))


def test_the_store_keeps_the_latest_runs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from recoverypbr.payments import stored

    monkeypatch.setattr(stored, "KEEP", 2)
    episodes = [{"episode_id": f"E{i}", "client_id": f"C{i}", "provider_id": "P1", "start_date": dt.date(2011, 1, 1),
                 "discharge_date": dt.date(2013, 5, 10), "discharge_reason": "completed_drug_free",
                 "substances": "opiates"} for i in range(3)]
    with case_warehouse({"episodes": episodes}) as wh:
        for day in range(stored.KEEP + 1):  # each as-of date is another data digest
            make_statements(wh, CONTRACT, Q3, Q3.end + dt.timedelta(days=day))
        runs = wh.execute("SELECT count(DISTINCT data_sha256) FROM priced_periods")[0][0]
        lines = wh.execute("SELECT count(DISTINCT data_sha256) FROM priced_lines")[0][0]
        assert runs == lines == stored.KEEP


def test_data_loaded_while_pricing_refuses_the_statements_and_stores_nothing() -> None:
    # Another process's load between the data digest and the end of pricing: the prices could rest on rows the
    # fingerprint does not cover, so the statements are refused (run again) and nothing is kept.
    import pytest

    from recoverypbr.payments.approval import StatementError
    from recoverypbr.payments.fingerprint import fingerprint
    from recoverypbr.payments.run import price_stored
    from recoverypbr.payments.stored import data_marker

    episodes = [{"episode_id": "E0", "client_id": "C0", "provider_id": "P1", "start_date": dt.date(2011, 1, 1),
                 "discharge_date": dt.date(2012, 5, 10), "discharge_reason": "completed_drug_free",
                 "substances": "opiates"}]
    with case_warehouse({"episodes": episodes}) as wh:
        marker = data_marker(wh)
        prints = fingerprint(wh, CONTRACT, Q2.end)
        wh.execute("INSERT INTO loads VALUES (99, 'elsewhere', now(), now(), 1, 1, 0, 'test')")
        with pytest.raises(StatementError, match="while the statements were being made"):
            price_stored(wh, CONTRACT, Q2, Q2.end, prints, marker=marker)
        assert _stored_rows(wh) == 0
        assert price_stored(wh, CONTRACT, Q2, Q2.end, prints, marker=data_marker(wh)).payments


def test_a_stored_period_whose_lines_are_gone_is_priced_again() -> None:
    # Q2's priced lines removed behind its priced_periods row (by hand, or another run forgetting it meanwhile): its
    # sums would read as nothing paid, so the period is priced again, and the statements are those made before.
    episodes = [{"episode_id": f"E{i}", "client_id": f"C{i}", "provider_id": f"P{1 + i % 2}",
                 "start_date": dt.date(2011, 1, 1), "discharge_date": dt.date(2013, 5, 10 + i),
                 "discharge_reason": "completed_drug_free", "substances": "opiates"} for i in range(4)]
    with case_warehouse({"episodes": episodes}) as wh:
        first = _texts(make_statements(wh, CONTRACT, Q3))
        wh.execute("DELETE FROM priced_lines WHERE period_label = '2013-Q2'")
        assert _texts(make_statements(wh, CONTRACT, Q3)) == first
        stored = wh.execute("SELECT line_count FROM priced_periods WHERE period_label = '2013-Q2'")[0][0]
        lines = wh.execute("SELECT count(*) FROM priced_lines WHERE period_label = '2013-Q2'")[0][0]
        assert stored == lines > 0


def test_a_run_never_forgets_its_own_priced_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # Another run stored later (here: dated in the future) and only one run is kept: the run storing now keeps its
    # own periods, whose lines it may read back before it ends.
    from recoverypbr.payments import stored
    from recoverypbr.payments.fingerprint import fingerprint

    monkeypatch.setattr(stored, "KEEP", 1)
    episodes = [{"episode_id": "E0", "client_id": "C0", "provider_id": "P1", "start_date": dt.date(2011, 1, 1),
                 "discharge_date": dt.date(2013, 5, 10), "discharge_reason": "completed_drug_free",
                 "substances": "opiates"}]
    with case_warehouse({"episodes": episodes}) as wh:
        wh.execute("INSERT INTO priced_periods VALUES (?, ?, 'c', 'd', 'p', ?, '2013-Q2', 0, 0, '[]', ?)",
                   [CONTRACT.area, CONTRACT.effective_from, Q2.end, dt.datetime(2100, 1, 1)])
        make_statements(wh, CONTRACT, Q3)
        mine = fingerprint(wh, CONTRACT, Q3.end).data_sha256
        kept = wh.execute("SELECT count(*) FROM priced_periods WHERE data_sha256 = ?", [mine])[0][0]
        assert kept == 2  # 2013-Q2 and 2013-Q3
